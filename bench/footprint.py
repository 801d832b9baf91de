"""What a reader and a cold start carry: the import closure of each Lambda entry point (fanmail
modules a fresh interpreter loads for it, and their lines) and, for the sender, what it has
loaded once it has handled a batch (the composition root imports a service's modules when it
builds it); product lines against local-mode lines; and two counts the house keeps down
(`dict[str, Any]` in src, format-skip markers anywhere).

Prints JSON. Local mode is the `fanmail_local` package; the product is `fanmail`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
HANDLERS = ("sender", "trigger", "api", "feedback", "importer", "heartbeat", "public", "inbound")
FMT_SKIP = "# fmt" + ": skip"  # spelled apart, so this file does not count itself
LOCAL_MODE = ("fanmail_local", "fanmail.local", "fanmail.adapters.local")
"""Local mode's packages: `fanmail_local` now; inside the product before the split."""

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
found = {}
for name, module in sorted(sys.modules.items()):
    path = getattr(module, "__file__", None)
    if path and (name.split(".")[0] in ("fanmail", "fanmail_local")):
        with open(path, encoding="utf-8") as f:
            found[name] = sum(1 for _ in f)
print(json.dumps(found))
"""


def closure(module: str) -> dict[str, int]:
    """Every fanmail module (and its lines) that importing `module` loads, in a fresh
    interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    found: dict[str, int] = json.loads(out)
    return found


SENDER_RUN = """
import json, sys
from botocore.config import Config
from fanmail.adapters.aws import clients
clients.dynamodb_config = lambda threads: Config(retries={"total_max_attempts": 1})
from fanmail import bootstrap
from fanmail.domain.batches import Batch
from fanmail.domain.model import Recipient
from fanmail.handlers import sender
batch = Batch("c1", "r1", "e1.0", 1, 10.0, 1, 8, 1, 9e9, (Recipient("a@example.com"),))
try:
    sender.handle(bootstrap.current(), batch.to_event(), None)
except Exception:
    pass  # no AWS here: the first DynamoDB read fails, after everything was built
print(json.dumps({
    name: sum(1 for _ in open(module.__file__, encoding="utf-8"))
    for name, module in sys.modules.items()
    if name.split(".")[0] in ("fanmail", "fanmail_local") and getattr(module, "__file__", None)
}))
"""


def sender_working_set() -> dict[str, int]:
    """The fanmail modules a sender has loaded once it has handled a batch: its import closure
    and what the composition root imports as it builds the sender's services and adapters."""
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "none",
        "AWS_SECRET_ACCESS_KEY": "none",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    }
    out = subprocess.run(
        [sys.executable, "-c", SENDER_RUN], check=True, capture_output=True, text=True, env=env
    ).stdout
    found: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return found


def is_local(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in LOCAL_MODE)


def module_lines() -> dict[str, int]:
    """Lines of every module under src/, by dotted name."""
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = len(path.read_text(encoding="utf-8").splitlines())
    return found


def lines_with(text: str, folders: tuple[str, ...]) -> int:
    """Lines holding `text`, as `grep -rn TEXT FOLDER | wc -l` counts them."""
    return sum(
        sum(1 for line in p.read_text(encoding="utf-8").splitlines() if text in line)
        for folder in folders
        for p in (ROOT / folder).rglob("*.py")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handlers", nargs="*", default=list(HANDLERS))
    args = parser.parse_args()
    closures = {}
    for name in args.handlers:
        found = closure(f"fanmail.handlers.{name}")
        closures[name] = {
            "modules": len(found),
            "lines": sum(found.values()),
            "local_mode_modules": sorted(m for m in found if is_local(m)),
        }
    working = sender_working_set()
    closures["sender"]["after_one_batch"] = {
        "modules": len(working),
        "lines": sum(working.values()),
        "local_mode_modules": sorted(m for m in working if is_local(m)),
    }
    modules = module_lines()
    local = sum(n for name, n in modules.items() if is_local(name))
    report = {
        "import_closure": closures,
        "product_lines": sum(modules.values()) - local,
        "local_mode_lines": local,
        "dict_str_any_in_src": lines_with("dict[str, Any]", ("src",)),
        "fmt_skip_in_src": lines_with(FMT_SKIP, ("src",)),
        "fmt_skip_anywhere": lines_with(FMT_SKIP, ("src", "tests", "bench", "scripts")),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
