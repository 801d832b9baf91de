"""Cold-start import time of the functions as Lambda gets them: built, zipped the way SAM zips
them, unzipped the way Lambda does.

It builds the dependency layer and a function with the recipe `sam build` runs (src/Makefile),
for the Python it is given (3.12 by default: the runtime's) on this machine's platform, twice,
and checks the two builds are byte-identical as zips. Each artifact is zipped as SAM CLI's
`make_zip_with_lambda_permissions` does -- every entry dated 1980-01-01, its mode with r added,
deflated -- but in sorted order (SAM walks the folder in the file system's order; its S3 key is a
checksum of the sorted files, which is printed too). The zips are unzipped with their entries'
dates, as Lambda extracts them, into a task root and /opt.

In fresh interpreters that may not write bytecode (/var/task and /opt are read-only), it times
importing each handler with the shipped bytecode, without any, and with the bytecode of the old
recipe (timestamp-based .pyc, which the 1980 dates make stale), alternating the variants, and
prints JSON: per handler the medians and `ratio` (with / without; the sender's goal <= 0.45),
the zips' sizes and what a deploy uploads with the layer and without it.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = {
    "sender": "fanmail.handlers.sender",
    "trigger": "fanmail.handlers.trigger",
    "api": "fanmail.handlers.api",
}
PROBE = (
    "import sys, time; sys.path[:0] = sys.argv[1:3]; started = time.perf_counter(); "
    "__import__(sys.argv[3]); print(time.perf_counter() - started)"
)
SAM_DATE = (1980, 1, 1, 0, 0, 0)


def make(target: str, folder: Path, python: str) -> Path:
    """One `sam build` target of src/Makefile into `folder`, for `python` on this platform."""
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    arm = os.uname().machine in {"aarch64", "arm64"}
    platform = "manylinux2014_aarch64" if arm else "manylinux2014_x86_64"
    folder.mkdir(parents=True)
    subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT / "src"),
            target,
            f"ARTIFACTS_DIR={folder}",
            f"PYTHON={python}",
            f"PYVERSION={version}",
            f"PLATFORM={platform}",
        ],
        check=True,
        capture_output=True,
    )
    return folder


def build(python: str, out: Path) -> tuple[Path, Path]:
    """The layer and one function, as `sam build` makes them (for this machine's platform)."""
    layer = make("build-DependenciesLayer", out / "layer", python)
    return layer, make("build-SenderFunction", out / "function", python)


def sam_zip(folder: Path, target: Path, *extra: Path) -> Path:
    """Zip `folder` (and `extra` folders on top of it) as SAM does, entries sorted."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in (folder, *extra):
            for path in sorted(p for p in source.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(str(path.relative_to(source)), SAM_DATE)
                info.create_system = 3
                info.external_attr = (path.stat().st_mode | 0o444) << 16
                archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return target


def sam_checksum(folder: Path) -> str:
    """SAM's dir_checksum: the S3 key it uploads a folder's zip under (md5 of sorted paths and
    the md5 of each file)."""
    digest = hashlib.md5(usedforsecurity=False)
    for path in sorted(str(p) for p in folder.rglob("*") if p.is_file()):
        digest.update(os.path.relpath(path, folder).encode())
        digest.update(
            hashlib.md5(Path(path).read_bytes(), usedforsecurity=False).hexdigest().encode()
        )
    return digest.hexdigest()


def lambda_unzip(archive: Path, target: Path) -> Path:
    """Extract as Lambda does: every file with its entry's date (1980-01-01 from SAM)."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            path = Path(zipped.extract(info, target))
            when = datetime.datetime(*info.date_time).timestamp()
            os.utime(path, (when, when))
    return target


def timestamp_bytecode(python: str, folder: Path) -> None:
    """The old recipe: timestamp-based .pyc, stamped with the sources' build-time dates."""
    for path in folder.rglob("*.py"):
        os.utime(path)  # the build's own clock
    subprocess.run(
        [
            python,
            "-m",
            "compileall",
            "-q",
            "-f",
            "-j",
            "0",
            "--invalidation-mode",
            "timestamp",
            str(folder),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def import_seconds(python: str, task: Path, opt: Path, module: str) -> float:
    run = subprocess.run(  # -B: write no bytecode, as on a read-only /var/task
        [python, "-I", "-B", "-c", PROBE, str(task), str(opt / "python"), module],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(run.stdout.strip())


def deployed(python: str, layer: Path, function: Path, scratch: Path, variant: str) -> Path:
    """A task root and an /opt for `variant`: 'shipped', 'none' (no bytecode) or 'timestamp'."""
    root = scratch / variant
    sources = {"layer": layer, "function": function}
    if variant != "shipped":
        sources = {}
        for name, folder in (("layer", layer), ("function", function)):
            copy = scratch / f"{variant}-{name}"
            shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__"))
            if variant == "timestamp":
                timestamp_bytecode(python, copy)
            sources[name] = copy
    lambda_unzip(sam_zip(sources["layer"], scratch / f"{variant}-layer.zip"), root / "opt")
    lambda_unzip(sam_zip(sources["function"], scratch / f"{variant}-fn.zip"), root / "task")
    return root


def time_imports(python: str, roots: dict[str, Path], rounds: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, module in HANDLERS.items():
        timings: dict[str, list[float]] = {variant: [] for variant in roots}
        for _ in range(rounds):  # alternating: the machine's drift hits every variant alike
            for variant, root in roots.items():
                timings[variant].append(import_seconds(python, root / "task", root / "opt", module))
        medians = {variant: statistics.median(t) for variant, t in timings.items()}
        results[name] = {
            "import_s_without_pyc": round(medians["none"], 3),
            "import_s_with_pyc": round(medians["shipped"], 3),
            "import_s_timestamp_pyc": round(medians["timestamp"], 3),
            "ratio": round(medians["shipped"] / medians["none"], 3),
        }
    return results


def artifacts(python: str, scratch: Path) -> dict[str, object]:
    """Two builds: byte-identical zips? and what a deploy uploads with and without the layer."""
    first_layer, first_function = build(python, scratch / "build-1")
    second_layer, second_function = build(python, scratch / "build-2")
    zips = {}
    for label, layer, function in (
        ("1", first_layer, first_function),
        ("2", second_layer, second_function),
    ):
        zips[label] = (
            sam_zip(layer, scratch / f"layer-{label}.zip"),
            sam_zip(function, scratch / f"function-{label}.zip"),
        )
    identical = all(zips["1"][i].read_bytes() == zips["2"][i].read_bytes() for i in range(2))
    bundled = sam_zip(first_layer / "python", scratch / "bundled.zip", first_function)
    layer_mb = zips["1"][0].stat().st_size / 1e6
    function_mb = zips["1"][1].stat().st_size / 1e6
    return {
        "reproducible": identical,
        "zip_sha256": {
            "layer": hashlib.sha256(zips["1"][0].read_bytes()).hexdigest()[:16],
            "function": hashlib.sha256(zips["1"][1].read_bytes()).hexdigest()[:16],
        },
        "sam_s3_keys_equal": sam_checksum(first_function) == sam_checksum(second_function)
        and sam_checksum(first_layer) == sam_checksum(second_layer),
        "zip_mb": {
            "layer": round(layer_mb, 1),
            "function": round(function_mb, 2),
            "function_with_dependencies": round(bundled.stat().st_size / 1e6, 1),
        },
        "upload_mb_code_change": {
            "with_layer": round(function_mb, 2),
            "without_layer": round(bundled.stat().st_size / 1e6, 1),
        },
        "first_layer": str(first_layer),
        "first_function": str(first_function),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="imports per module and variant")
    parser.add_argument(
        "--python",
        default=None,
        help="the runtime's Python (default: this one if 3.12, else python3.12)",
    )
    args = parser.parse_args()
    python = args.python or (sys.executable if sys.version_info[:2] == (3, 12) else "python3.12")
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        built = artifacts(python, scratch)
        layer, function = (
            Path(str(built.pop("first_layer"))),
            Path(str(built.pop("first_function"))),
        )
        roots = {
            v: deployed(python, layer, function, scratch, v)
            for v in ("shipped", "none", "timestamp")
        }
        results = time_imports(python, roots, args.rounds)
    print(json.dumps({"python": python, "rounds": args.rounds, **built, **results}, indent=2))


if __name__ == "__main__":
    main()
