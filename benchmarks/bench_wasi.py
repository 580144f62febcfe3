"""Benchmark the WASI 0.2 host of `wasmcomponent` against `wasmtime.component` + `add_wasip2()`.

A real componentize-py guest (`tests/guests/bench`, built and cached by
`tests/wasi_guests.py`) runs on both runtimes in one process:

* instantiate-hello: a fresh `Store` with a WASI configuration, instantiating
  the (already compiled) component with a `Linker` that had `add_wasip2()`
  called once, then the first call of `hello("bench")` (which prints one line);
* print-10k-lines: `print-lines(10000)` on one instance: the guest's
  `print("line", i)` ten thousand times, each a few stdout writes through
  `wasi:io/streams` (check-write, write, blocking-flush);
* clock-reads-1k: `clock-reads(1000)`: 1,000 `wasi:clocks/monotonic-clock.now`
  calls from Python code in the guest.

Both runtimes write the guest's stdout to the file `os.devnull` (their
`WasiConfig.stdout_file`), so every write reaches the OS on both sides and
nothing accumulates in memory.  Outputs are checked once, byte for byte, with
stdout captured into a temporary file on both runtimes.  Timing reuses
`bench.py`: round-robin batches, medians, ratio = wasmcomponent / wasmtime.

Usage:
  python benchmarks/bench_wasi.py [--quick] [--only NAME] [--markdown FILE]
  python benchmarks/bench_wasi.py --update-readme README.md
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import wasmtime

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import bench as B  # noqa: E402

MARK_START = "<!-- bench-wasi:start -->"
MARK_END = "<!-- bench-wasi:end -->"
GUEST = "bench"
LINES = 10_000
CLOCK_READS = 1_000


@dataclass
class Runtime:
    """One runtime's compiled guest, a linker with WASI added once, and how to configure stdout."""

    name: str
    component: Any
    linker: Any
    new_config: Callable[[], Any]

    def store(self, engine: wasmtime.Engine, stdout: str) -> wasmtime.Store:
        """A fresh store whose WASI stdout goes to the file `stdout`."""
        store = wasmtime.Store(engine)
        cfg = self.new_config()
        cfg.stdout_file = stdout
        cfg.stderr_file = stdout
        store.set_wasi(cfg)
        return store

    def instance(self, engine: wasmtime.Engine, stdout: str = os.devnull) -> tuple[wasmtime.Store, Any]:
        store = self.store(engine, stdout)
        return store, self.linker.instantiate(store, self.component)


def call(store: wasmtime.Store, instance: Any, export: str, *args: Any) -> Any:
    """One call of a top-level export, post-return included."""
    func = instance.get_func(store, export)
    result = func(store, *args)
    func.post_return(store)
    return result


def load_runtimes(engine: wasmtime.Engine, path: Path) -> dict[str, Runtime]:
    """Both runtimes with the guest compiled and `add_wasip2()` done; an unimportable one is left out."""
    import wasmtime.component as wt

    runtimes = {
        B.REFERENCE: Runtime(B.REFERENCE, wt.Component.from_file(engine, str(path)), wt.Linker(engine),
                             wasmtime.WasiConfig),
    }
    try:
        wc = importlib.import_module(B.CANDIDATE)
        from wasmcomponent.wasi import WasiConfig
    except ImportError:
        pass
    else:
        runtimes[B.CANDIDATE] = Runtime(B.CANDIDATE, wc.Component.from_file(engine, str(path)),
                                        wc.Linker(engine), WasiConfig)
    for runtime in runtimes.values():
        runtime.linker.add_wasip2()
    return runtimes


@dataclass
class Op:
    """One operation: a call of `export(*args)`, on a fresh instance each time if `fresh`."""

    name: str
    description: str
    export: str
    args: tuple[Any, ...]
    fresh: bool
    check: Callable[[Any], bool]
    expected_stdout: Callable[[], bytes]

    def thunk(self, runtime: Runtime, engine: wasmtime.Engine) -> B.Thunk:
        """The zero-argument callable to time."""
        if self.fresh:
            def run() -> Any:
                store, instance = runtime.instance(engine)
                return call(store, instance, self.export, *self.args)
            return run
        store, instance = runtime.instance(engine)
        return lambda: call(store, instance, self.export, *self.args)


OPS: tuple[Op, ...] = (
    Op("instantiate-hello", "fresh Store + instantiate + first call of `hello(\"bench\")`",
       "hello", ("bench",), True, lambda r: r == "Hello, bench!", lambda: b"Hello, bench!\n"),
    Op("print-10k-lines", "`print-lines(10000)`: `print(\"line\", i)` 10,000 times to stdout",
       "print-lines", (LINES,), False, lambda r: r == LINES,
       lambda: "".join(f"line {i}\n" for i in range(LINES)).encode()),
    Op("clock-reads-1k", "`clock-reads(1000)`: 1,000 `monotonic-clock.now` calls",
       "clock-reads", (CLOCK_READS,), False, lambda r: isinstance(r, int) and r > 0, lambda: b""),
)


def check_op(op: Op, runtime: Runtime, engine: wasmtime.Engine) -> str | None:
    """Run `op` once with stdout captured to a file; an error message, or None if all is right."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "stdout")
        try:
            store, instance = runtime.instance(engine, out)
            result = call(store, instance, op.export, *op.args)
            del store, instance  # wasmtime-py's WASI flushes its stdout file when the store goes
        except Exception as exc:  # a broken runtime must not stop the other measurements
            return f"{runtime.name}: {type(exc).__name__}: {exc}"
        if not op.check(result):
            return f"{runtime.name}: wrong result {result!r}"
        written = Path(out).read_bytes() if os.path.exists(out) else b""
        if written != op.expected_stdout():
            return f"{runtime.name}: wrong stdout ({len(written)} bytes)"
    return None


def run_op(op: Op, runtimes: dict[str, Runtime], engine: wasmtime.Engine,
           settings: B.Settings) -> tuple[dict[str, float], list[str]]:
    """Check every runtime once, then time the good ones round-robin."""
    thunks: dict[str, B.Thunk] = {}
    errors: list[str] = []
    for name, runtime in runtimes.items():
        error = check_op(op, runtime, engine)
        if error is None:
            thunks[name] = op.thunk(runtime, engine)
        else:
            errors.append(error)
    return (B.measure(thunks, settings) if thunks else {}), errors


def markdown_table(results: list[tuple[Op, dict[str, float]]], errors: list[str]) -> str:
    """The results table (ratio = wasmcomponent / wasmtime.component)."""
    lines = [f"| operation | {B.REFERENCE} | {B.CANDIDATE} | ratio |", "|---|---:|---:|---:|"]
    for op, medians in results:
        ref, cand = medians.get(B.REFERENCE), medians.get(B.CANDIDATE)
        lines.append(f"| {op.name} | {B.fmt_time(ref)} | {B.fmt_time(cand)} | {B.fmt_ratio(cand, ref)} |")
    if errors:
        lines += ["", "Errors:", *(f"- {e}" for e in errors)]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = B.common_options(__doc__.split("\n\n")[0], "default 8, quick 2", None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build the guest, run the selected operations and print the Markdown table."""
    args = parse_args(argv)
    ops, exit_code = B.choose_ops(args, OPS)
    if exit_code is not None:
        return exit_code
    import wasi_guests

    path = wasi_guests.build(GUEST)  # raises pytest's Skipped if componentize-py is missing
    engine = wasi_guests.engine()
    runtimes = load_runtimes(engine, path)
    settings = B.Settings(
        budget=args.budget if args.budget is not None else (2.0 if args.quick else 8.0),
        batch_target=0.005 if args.quick else 0.02,
        min_samples=args.min_samples if args.min_samples is not None else (3 if args.quick else 5),
        max_samples=15 if args.quick else 41,
    )
    results, errors = [], []
    for op in ops:
        print(f"... {op.name}", file=sys.stderr, flush=True)
        medians, op_errors = run_op(op, runtimes, engine, settings)
        results.append((op, medians))
        errors += op_errors
    table = (B.environment_line() + f" Guest: componentize-py `{path.name}` "
             f"({path.stat().st_size / 2**20:.1f} MiB); stdout to `{os.devnull}` on both.\n\n"
             + markdown_table(results, errors))
    print(table)
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    if args.update_readme:
        B.update_marked(args.update_readme, MARK_START, MARK_END, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
