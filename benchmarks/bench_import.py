#!/usr/bin/env python3
"""Import time: ``import wasmcomponent`` against ``import wasmtime.component``.

Each sample is a fresh interpreter (``python -c``) that times only the import
statement with ``time.perf_counter``, so interpreter start-up is left out.
The two imports alternate, and the table gives medians and their ratio.

    PYTHONPATH=src python benchmarks/bench_import.py --runs 21
    PYTHONPATH=src python benchmarks/bench_import.py --update-readme README.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402

MARK_START = "<!-- bench-import:start -->"
MARK_END = "<!-- bench-import:end -->"
TARGETS = {"wasmtime.component": "import wasmtime.component", "wasmcomponent": "import wasmcomponent"}
PROBE = "import time\nt = time.perf_counter()\n{stmt}\nprint(time.perf_counter() - t)\n"


def sample(statement: str) -> float:
    """Seconds one fresh interpreter spends in ``statement``."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(stmt=statement)], capture_output=True, text=True, env=env, check=True
    )
    return float(done.stdout.strip())


def measure(runs: int) -> dict[str, float]:
    """Median import time per target over ``runs`` alternating samples (one warm-up each)."""
    times: dict[str, list[float]] = {name: [] for name in TARGETS}
    for statement in TARGETS.values():
        sample(statement)  # warm the OS file cache and the bytecode caches
    for _ in range(runs):
        for name, statement in TARGETS.items():
            times[name].append(sample(statement))
    return {name: statistics.median(values) for name, values in times.items()}


def table(medians: dict[str, float], runs: int) -> str:
    anchor, ours = medians["wasmtime.component"], medians["wasmcomponent"]
    return (
        f"Measured with Python {platform.python_version()}, wasmtime {B.package_version('wasmtime')}, "
        f"wasmcomponent {B.package_version('wasmcomponent')} (median of {runs} fresh interpreters).\n\n"
        "| import | time | ratio to `import wasmtime.component` |\n"
        "|---|---:|---:|\n"
        f"| `import wasmtime.component` | {anchor * 1e3:.1f} ms | 1.00× |\n"
        f"| `import wasmcomponent` | {ours * 1e3:.1f} ms | {ours / anchor:.2f}× |\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--update-readme", type=Path, metavar="README")
    args = parser.parse_args(argv)
    text = table(measure(args.runs), args.runs)
    print(text)
    if args.update_readme:
        B.update_marked(args.update_readme, MARK_START, MARK_END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
