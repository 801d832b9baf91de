"""Third-party rule suites on the transformed template: checkov and the cfn-lint serverless rules.

Both read what CloudFormation will deploy (`scripts/validate_template.py --out FILE` writes it).
Every finding must be listed in the baseline (template-findings.yaml) with why it is accepted;
a finding that is not -- or an accepted one that no longer occurs -- fails the check, so the
baseline stays the true list. Runs in the tools virtualenv (.tools): checkov pins a boto3 of
its own.

Usage: python scripts/check_template_rules.py TRANSFORMED.json template-findings.yaml
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

Finding = tuple[str, str, str]  # (suite, rule id, resource logical id)


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def checkov(template: Path) -> set[Finding]:
    run = subprocess.run(  # noqa: S603 - our own tools on our own file
        [
            _tool("checkov"),
            "-f",
            str(template),
            "--framework",
            "cloudformation",
            "--quiet",
            "--compact",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin", "LOG_LEVEL": "ERROR"},
    )
    if not run.stdout.strip():
        raise SystemExit(f"checkov produced no report: {run.stderr[-2000:]}")
    report: Any = json.loads(run.stdout)
    results = report.get("results", {}) if isinstance(report, dict) else {}
    return {
        ("checkov", str(f["check_id"]), str(f["resource"]).rsplit(".", 1)[-1])
        for f in results.get("failed_checks", [])
    }


def serverless_rules(template: Path) -> set[Finding]:
    run = subprocess.run(  # noqa: S603 - our own tools on our own file
        [_tool("cfn-lint"), "-a", "cfn_lint_serverless.rules", "-f", "json", str(template)],
        capture_output=True,
        text=True,
        check=False,
    )
    matches: Any = json.loads(run.stdout or "[]")
    return {
        ("cfn-lint-serverless", str(m["Rule"]["Id"]), str(m["Location"]["Path"][1]))
        for m in matches
        if len(m["Location"]["Path"]) > 1 and m["Location"]["Path"][0] == "Resources"
    }


def accepted(baseline: Path) -> dict[tuple[str, str], tuple[set[str] | None, str]]:
    """(suite, rule) -> (resources, or None for every resource; why)."""
    document: Any = yaml.safe_load(baseline.read_text())
    table: dict[tuple[str, str], tuple[set[str] | None, str]] = {}
    for suite, rules in document.items():
        for rule, entry in rules.items():
            why = str(entry.get("why", "")).strip()
            if not why:
                raise SystemExit(f"{baseline}: {suite} {rule} is accepted without a reason")
            resources = entry.get("resources", "*")
            table[(suite, rule)] = (None if resources == "*" else set(resources), why)
    return table


def judge(found: set[Finding], table: dict[tuple[str, str], tuple[set[str] | None, str]]) -> int:
    new = sorted(f for f in found if not _covered(f, table))
    stale = sorted(
        (suite, rule, resource)
        for (suite, rule), (resources, _) in table.items()
        for resource in (resources or set())
        if (suite, rule, resource) not in found
    )
    stale += sorted(
        (suite, rule, "*")
        for (suite, rule), (resources, _) in table.items()
        if resources is None and not any(f[:2] == (suite, rule) for f in found)
    )
    for suite, rule, resource in new:
        print(f"NEW {suite} {rule} on {resource}: fix it, or accept it with why in the baseline")
    for suite, rule, resource in stale:
        print(f"GONE {suite} {rule} on {resource}: no longer found, remove it from the baseline")
    print(
        f"rule suites: {len(found)} finding(s), {len(found) - len(new)} accepted, {len(new)} new, "
        f"{len(stale)} stale"
    )
    return 1 if new or stale else 0


def _covered(finding: Finding, table: dict[tuple[str, str], tuple[set[str] | None, str]]) -> bool:
    entry = table.get(finding[:2])
    return entry is not None and (entry[0] is None or finding[2] in entry[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("transformed", type=Path, help="the transformed template (JSON)")
    parser.add_argument("baseline", type=Path, help="the accepted findings (YAML)")
    args = parser.parse_args(argv)
    for path in (args.transformed, args.baseline):
        if not path.is_file():
            parser.error(f"{path}: no such file")
    return judge(
        checkov(args.transformed) | serverless_rules(args.transformed), accepted(args.baseline)
    )


if __name__ == "__main__":
    sys.exit(main())
