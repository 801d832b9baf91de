"""Validate template.yaml: run the SAM transform (aws-sam-translator), then lint the resulting
CloudFormation with cfn-lint. cfn-lint >= 1.54 no longer expands SAM itself, so errors inside
`AWS::Serverless::*` resources are only caught on the transformed output.

Usage: python scripts/validate_template.py [template.yaml] [--out transformed.json]
(exit 1 on any finding; --out keeps the transformed template for the rule suites that read it,
scripts/check_template_rules.py)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from cfnlint.api import lint
from cfnlint.decode.decode import decode_str
from samtranslator.translator.transform import transform

LOCAL_URI_KEYS = ("CodeUri", "ContentUri")
# Without a feature-toggle configuration (there is no account here) it warns on every API.
logging.getLogger("samtranslator.feature_toggle").setLevel(logging.ERROR)


class _NoManagedPolicies:
    """The transform asks IAM for managed policy ARNs; there is no account here."""

    def load(self) -> dict[str, str]:
        return {}


def _to_s3_uris(node: Any) -> Any:
    """SAM needs `s3://` URIs where `sam package` would put them; local paths become fakes."""
    if isinstance(node, dict):
        return {
            k: (
                "s3://fanmail-validate/" + v.strip("/")
                if k in LOCAL_URI_KEYS and isinstance(v, str) and not v.startswith("s3://")
                else _to_s3_uris(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_to_s3_uris(v) for v in node]
    return node


def transformed(path: Path) -> dict[str, Any]:
    """The CloudFormation template the SAM transform makes of `path` (tests read it)."""
    return transform_source(path.read_text(), str(path))


def transform_source(source: str, where: str = "template") -> dict[str, Any]:
    """The SAM transform of a template's text (in us-east-1 unless AWS_DEFAULT_REGION says)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the transform needs a region
    template, errors = decode_str(source)
    if errors or template is None:
        raise ValueError(f"{where}: {errors or 'empty template'}")
    plain = json.loads(json.dumps(_to_s3_uris(template)))
    result: dict[str, Any] = transform(
        plain, {"SenderIdentity": "example.com"}, _NoManagedPolicies()
    )
    return result


def validate(path: Path, out: Path | None = None) -> list[str]:
    source = path.read_text()
    template, errors = decode_str(source)
    if errors or template is None:
        return [f"{path}: {e}" for e in errors] or [f"{path}: empty template"]
    problems: list[str] = []
    for name, resource in template.get("Resources", {}).items():
        if not str(resource.get("Type", "")).startswith("AWS::Serverless::"):
            continue
        for key in LOCAL_URI_KEYS:
            value = resource.get("Properties", {}).get(key) or template.get("Globals", {}).get(
                "Function", {}
            ).get(key)
            local = isinstance(value, str) and not value.startswith("s3://")
            if local and not (path.parent / str(value)).is_dir():
                problems.append(f"{name}.{key}: {value!r} is not a directory")
    try:
        cloudformation = transformed(path)
    except Exception as exc:  # the translator raises its own InvalidDocumentException family
        causes = getattr(exc, "causes", None) or [exc]
        return problems + [f"SAM transform: {cause}" for cause in causes]
    if out is not None:
        out.write_text(json.dumps(cloudformation, indent=1))
    matches = lint(json.dumps(cloudformation), regions=["us-east-1"])
    problems += [f"cfn-lint {m.rule.id} {m.path_string}: {m.message}" for m in matches]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("template", nargs="?", type=Path, default=Path("template.yaml"))
    parser.add_argument("--out", type=Path, help="write the transformed template here")
    args = parser.parse_args(argv)
    if not args.template.is_file():
        parser.error(f"{args.template}: no such file")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the transform needs a region
    problems = validate(args.template, args.out)
    for problem in problems:
        print(problem)
    verdict = f"{len(problems)} problem(s)" if problems else "ok"
    print(f"{args.template}: {verdict} (SAM transform + cfn-lint)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
