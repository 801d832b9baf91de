"""Cold-start import time of the functions, with and without shipped bytecode.

Builds the Lambda artifact with the same recipe `sam build` runs (src/Makefile: the pinned
dependencies, fanmail, bytecode compiled with hash-based invalidation), for the Python this
runs on. Then, in fresh interpreters that may not write bytecode (Lambda's /var/task is
read-only), it times importing each handler module from a copy of the artifact without any
.pyc and from the artifact itself, alternating the two, and prints JSON: for each of sender,
trigger and api, the median `import_s_without_pyc`, `import_s_with_pyc` and `ratio`
(with / without). Goal: the sender's ratio <= 0.5.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = {
    "sender": "fanmail.handlers.sender",
    "trigger": "fanmail.handlers.trigger",
    "api": "fanmail.handlers.api",
}
PROBE = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); started = time.perf_counter(); "
    "__import__(sys.argv[2]); print(time.perf_counter() - started)"
)


def build(artifact: Path) -> None:
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    arm = os.uname().machine in {"aarch64", "arm64"}
    platform = "manylinux2014_aarch64" if arm else "manylinux2014_x86_64"
    subprocess.run(
        ["make", "-s", "-C", str(ROOT / "src"), "build-SenderFunction",
         f"ARTIFACTS_DIR={artifact}", f"PYTHON={sys.executable}", f"PYVERSION={version}",
         f"PLATFORM={platform}"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def without_bytecode(artifact: Path, target: Path) -> None:
    shutil.copytree(artifact, target, ignore=shutil.ignore_patterns("__pycache__"))


def import_seconds(folder: Path, module: str) -> float:
    run = subprocess.run(  # -B: write no bytecode, as on a read-only /var/task
        [sys.executable, "-I", "-B", "-c", PROBE, str(folder), module],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(run.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="imports per module and variant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        compiled, plain = Path(scratch) / "with-pyc", Path(scratch) / "without-pyc"
        build(compiled)
        without_bytecode(compiled, plain)
        results: dict[str, dict[str, float]] = {}
        for name, module in HANDLERS.items():
            timings: dict[str, list[float]] = {"with": [], "without": []}
            for _ in range(args.rounds):  # alternating: the machine's drift hits both alike
                timings["without"].append(import_seconds(plain, module))
                timings["with"].append(import_seconds(compiled, module))
            without = statistics.median(timings["without"])
            with_pyc = statistics.median(timings["with"])
            results[name] = {
                "import_s_without_pyc": round(without, 3),
                "import_s_with_pyc": round(with_pyc, 3),
                "ratio": round(with_pyc / without, 3),
            }
        size = sum(f.stat().st_size for f in compiled.rglob("*") if f.is_file())
    print(json.dumps({"python": sys.version.split()[0], "artifact_mb": round(size / 1e6, 1),
                      "rounds": args.rounds, **results}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
