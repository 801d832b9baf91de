"""Every program in scripts/ answers `--help` with its usage, not a traceback
(validate_template.py once opened a file named --help), and a template file that is not there
is a usage error that names it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [
    p for p in sorted((ROOT / "scripts").glob("*.py")) if "__main__" in p.read_text()
]  # dashboard_walk.py is the walk the browser tests and the screenshots share, not a program


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_help_prints_the_usage(script: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("usage: ")  # import_subscribers.py is `fanmail import`
    assert "Traceback" not in run.stderr


def test_a_file_that_is_not_there_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "validate_template.py"), str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert run.stderr.splitlines()[-1].endswith(f"error: {missing}: no such file")
