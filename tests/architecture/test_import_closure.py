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
LOCAL_MODE = ("fanmail_local", "fanmail.local", "fanmail.adapters.local")
SENDER_BUDGET_LINES = 6350
"""Raised from 6,000 when senders began to measure SES and pace by what they measure (issue 24:
ses_meter, the pacer's slots, the ledger's shards), by 10 when the meter began to count the
calls in flight (a slow call is unseen until it ends), and by 10 for invariant 1 at low rates
(each sender's share of R's window and its slot's latest sends on the wire; the rest of it lives
in domain.windows, which a cold sender does not import), and by 4 for the complaint breaker's
message naming the count it divides by (it said "1 of 0 delivered"), and by 13 for the pacer
(issue 24: its two settings, its row in the functions' table, the planner's low-rate choice, in
modules the sender shares with the root; no line a sender runs), and by 1 for the root's beat
(the composition root's setting for it; no line a sender runs), and by 12 for the trigger's
inline bound (its setting, its check and the planner's choice; make_plan's input checks moved
into a function of their own to keep it under 60 lines): what a cold sender imports is
the cost this guards; bench/coldstart.py measures the time itself."""
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
