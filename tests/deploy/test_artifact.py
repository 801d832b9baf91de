"""#19 item 4: the function artifact as src/Makefile builds it, zipped as SAM zips it and
unzipped as Lambda does (bench/coldstart.py's helpers). Its bytecode is what Python loads
there, where the old recipe's was stale; and two builds zip to the same bytes. Built for the
Python running the tests (the recipe is the same for Lambda's 3.12)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

from tests import scripts

ROOT = Path(__file__).resolve().parents[2]


def coldstart() -> ModuleType:
    return scripts.load("bench/coldstart.py")


def build_function(folder: Path) -> Path:
    built: Path = coldstart().make("build-SenderFunction", folder, sys.executable)
    return built


def imports_verbosely(task: Path, module: str) -> str:
    run = subprocess.run(
        [
            sys.executable,
            "-I",
            "-B",
            "-v",
            "-c",
            f"import sys; sys.path.insert(0, {str(task)!r}); import {module}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stderr


def test_two_builds_of_a_function_zip_to_the_same_bytes(tmp_path: Path) -> None:
    bench = coldstart()
    first = bench.sam_zip(build_function(tmp_path / "one"), tmp_path / "one.zip")
    second = bench.sam_zip(build_function(tmp_path / "two"), tmp_path / "two.zip")
    assert first.read_bytes() == second.read_bytes()
    assert bench.sam_checksum(tmp_path / "one") == bench.sam_checksum(tmp_path / "two")


def test_lambda_loads_the_shipped_bytecode_where_the_old_recipes_was_stale(
    tmp_path: Path,
) -> None:
    bench = coldstart()
    built = build_function(tmp_path / "built")
    sources = sorted(built.rglob("*.py"))
    compiled = sorted(built.rglob("*.pyc"))
    assert len(compiled) == len(sources) > 50  # every module, none left out
    assert all(p.read_bytes()[4:8] == b"\x01\x00\x00\x00" for p in compiled)  # unchecked hash
    task = bench.lambda_unzip(bench.sam_zip(built, tmp_path / "fn.zip"), tmp_path / "task")
    log = imports_verbosely(task, "fanmail.domain.plan")
    assert f"code object from '{task}/fanmail/domain/__pycache__/plan." in log
    assert "stale" not in log

    old = tmp_path / "old"
    old.mkdir()
    bench.timestamp_bytecode(sys.executable, build_function(old / "built"))
    task = bench.lambda_unzip(bench.sam_zip(old / "built", old / "fn.zip"), old / "task")
    assert "bytecode is stale for 'fanmail.domain.plan'" in imports_verbosely(
        task, "fanmail.domain.plan"
    )


def test_the_artifact_ships_the_product_alone(tmp_path: Path) -> None:
    """What Lambda runs is `fanmail` and nothing of local mode (its stand-in, simulation,
    faults, demo data and settings), however the package folders change."""
    built = build_function(tmp_path / "built")
    packages = {p.name for p in built.iterdir() if p.is_dir()}
    assert packages == {"fanmail"}
    shipped = {p.relative_to(built).as_posix() for p in built.rglob("*.py")}
    assert "fanmail/handlers/sender.py" in shipped
    assert not [p for p in shipped if "local" in p.split("/")[0]]
