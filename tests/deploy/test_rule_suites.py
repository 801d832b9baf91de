"""checkov and the cfn-lint serverless rules on the transformed template (#11): every finding
is in the baseline with a reason, a new one fails `make test`, a fixed one must leave it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from tests import scripts

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "bin" / "python"


def rules_module() -> ModuleType:
    return scripts.load("scripts/check_template_rules.py")


def test_the_baseline_judges_new_accepted_and_stale_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = rules_module()
    baseline = tmp_path / "findings.yaml"
    baseline.write_text(
        "checkov:\n"
        "  CKV_A: {why: everywhere, resources: '*'}\n"
        "  CKV_B: {why: two of them, resources: [One, Two]}\n"
    )
    table = rules.accepted(baseline)
    accepted_only = {
        ("checkov", "CKV_A", "X"),
        ("checkov", "CKV_B", "One"),
        ("checkov", "CKV_B", "Two"),
    }
    assert rules.judge(accepted_only, table) == 0
    assert rules.judge(accepted_only | {("checkov", "CKV_B", "Three")}, table) == 1
    assert "NEW checkov CKV_B on Three" in capsys.readouterr().out
    assert rules.judge(accepted_only - {("checkov", "CKV_B", "Two")}, table) == 1
    assert "GONE checkov CKV_B on Two" in capsys.readouterr().out
    baseline.write_text("checkov:\n  CKV_A: {resources: '*'}\n")
    with pytest.raises(SystemExit, match="without a reason"):
        rules.accepted(baseline)


def test_a_new_finding_in_the_template_fails_the_check(tmp_path: Path) -> None:
    """A public bucket would be new: checkov flags it and the check fails, naming it."""
    assert TOOLS.exists(), "the rule suites' virtualenv is missing: run `make template` first"
    source = (ROOT / "template.yaml").read_text()
    weakened = source.replace(
        "        BlockPublicAcls: true\n        BlockPublicPolicy: true\n",
        "        BlockPublicAcls: false\n        BlockPublicPolicy: false\n",
    )
    assert weakened != source
    (tmp_path / "template.yaml").write_text(weakened)
    for folder in ("src", "templates"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    out = tmp_path / "transformed.json"
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            str(ROOT / "scripts" / "validate_template.py"),
            str(tmp_path / "template.yaml"),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    run = subprocess.run(
        [
            str(TOOLS),
            str(ROOT / "scripts" / "check_template_rules.py"),
            str(out),
            str(ROOT / "template-findings.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1, run.stdout
    assert "NEW checkov" in run.stdout and "ImportsBucket" in run.stdout
