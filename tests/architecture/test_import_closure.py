"""What a Lambda function loads: its handler module's import closure, in a fresh interpreter,
holds no local-mode module (the simulation, the harness, the in-memory adapters, the stand-in
never ship to Lambda), and the sender's stays small (bench/footprint.py prints the figures)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fanmail.functions import FUNCTIONS, SENDER

ROOT = Path(__file__).resolve().parents[2]
LOCAL_MODE = ("fanmail_local",)
SENDER_BUDGET_LINES = 6290
"""What a cold sender imports is paid on every cold start (bench/coldstart.py times it), so it is
held to the 6,140 lines measured when this was set, plus 150 of headroom."""
PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps({
    name: sum(1 for _ in open(module.__file__, encoding="utf-8"))
    for name, module in sys.modules.items()
    if name.split(".")[0] in ("fanmail", "fanmail_local") and getattr(module, "__file__", None)
}))
"""


def closure(module: str) -> dict[str, int]:
    """Every fanmail module importing `module` loads, with its lines."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout
    found: dict[str, int] = json.loads(out)
    return found


def local_mode(modules: dict[str, int]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in LOCAL_MODE))


@pytest.mark.parametrize("module", [f.module for f in FUNCTIONS])
def test_no_function_loads_local_mode(module: str) -> None:
    assert local_mode(closure(module)) == []


def test_the_senders_closure_stays_small() -> None:
    modules = closure(SENDER.module)
    assert sum(modules.values()) <= SENDER_BUDGET_LINES, sorted(modules.items())


def test_the_check_sees_a_local_mode_module() -> None:
    modules = closure("fanmail_local.harness")
    assert "fanmail_local.harness" in local_mode(modules)
