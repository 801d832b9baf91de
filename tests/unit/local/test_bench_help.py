"""Every benchmark answers `--help` with its usage and what it measures, before it sets anything
up: the README sends people to bench/ for the figures, and a script that cannot say what it
takes is one nobody reruns."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.scripts import ROOT, load

BENCHES = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "bench").glob("*.py"))


@pytest.mark.parametrize("script", BENCHES)
def test_a_benchmark_says_what_it_takes(
    script: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = load(script)
    monkeypatch.setattr(sys, "argv", [Path(script).name, "--help"])
    with pytest.raises(SystemExit) as exited:
        module.main()
    assert exited.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith(f"usage: {Path(script).name}")
    described = usage.split("\n\n")[1]  # argparse: usage, the description, then the options
    assert not described.startswith(("options:", "positional")), usage
