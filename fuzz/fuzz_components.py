"""Mutation fuzzer: hostile bytes through load, instantiate and call.

Seeds are the valid components of the conformance suites (``.wast`` scripts
converted with ``wasm-tools json-from-wast`` through ``tests/corpus.py``), plus
the type-size and nesting bombs of ``tests/bombs.py``.
Case ``i`` of a run is derived from ``(seed, i)`` alone: a few random
mutations (byte flips, random bytes, LEB128-looking bytes, insertions,
deletions, duplicated or spliced chunks, truncation) of one seed component.
Each case then:

1. loads: ``Component(engine, data)``;
2. if it loads, instantiates it in a fresh store (fuel-limited, memory capped)
   with ``define_unknown_imports_as_traps``;
3. calls every zero-parameter function export (top level and one level of
   exported instances), then its ``post_return``.

The only exceptions allowed out are ``wasmcomponent`` errors
(``ComponentError``) and the core engine's (``wasmtime.WasmtimeError``,
``wasmtime.Trap``).  Anything else is a *foreign* exception; a case running
longer than ``--timeout`` seconds is a *hang*; a worker that dies (a signal,
an abort inside the engine) is a *crash*.  Each finding is saved to
``--out`` as ``<kind>-<seed>-<index>.wasm`` with a ``.txt`` report, and can
be replayed with ``--reproduce FILE``.

Cases run in ``--jobs`` worker processes fed one index at a time; the parent
enforces the timeout by killing and replacing a stuck worker.  Progress goes
to stderr; the summary (counts by outcome, elapsed time, rate) to stdout.
The exit status is 1 when anything was found.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

OUTCOMES = ("rejected", "loaded", "instantiated", "called", "trapped")
FINDINGS = ("foreign", "hang", "crash")
FUEL = 2_000_000
MEMORY_LIMIT = 64 << 20


# --------------------------------------------------------------------------
# Seeds and mutations


def load_seeds(cache: Path, max_size: int) -> list[bytes]:
    """The conformance components of at most ``max_size`` bytes, converted once into ``cache``."""
    seeds_dir = cache / "seeds"
    if not seeds_dir.is_dir() or not any(seeds_dir.iterdir()):
        from corpus import CONFORMANCE_DIR, WASM_TOOLS, component_binaries

        if WASM_TOOLS is None or not CONFORMANCE_DIR.is_dir():
            raise SystemExit("needs wasm-tools and the conformance suites (or a --cache with seeds/)")
        work = Path(tempfile.mkdtemp(prefix="fuzz-convert-", dir=cache))
        seeds_dir.mkdir(parents=True, exist_ok=True)
        for number, data in enumerate(component_binaries(work)):
            (seeds_dir / f"{number:05d}.wasm").write_bytes(data)
    seeds = [p.read_bytes() for p in sorted(seeds_dir.glob("*.wasm"))]
    return [s for s in seeds if 9 <= len(s) <= max_size] + bomb_seeds()


def bomb_seeds() -> list[bytes]:
    """Type-size and nesting bombs (``tests/bombs.py``): tiny inputs that are
    exponential when expanded or nest deeply; their mutations must stay cheap."""
    import bombs

    return bombs.seeds()


INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x40, 0x3F, 0x10, 0x20)


def mutate(seeds: list[bytes], seed: int, index: int) -> bytes:
    """The input of case ``index`` of a run with ``seed`` (deterministic)."""
    rng = random.Random(seed * 1_000_003 + index)
    data = bytearray(seeds[rng.randrange(len(seeds))])
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 8))):
        if len(data) <= 8:
            break
        at = rng.randrange(8, len(data))  # keep the preamble most of the time
        choice = rng.randrange(10)
        if choice == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif choice == 1:
            data[at] = rng.randrange(256)
        elif choice == 2:
            data[at] = rng.choice(INTERESTING)
        elif choice == 3:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5)))
        elif choice == 4:
            del data[at : at + rng.randrange(1, 9)]
        elif choice == 5:
            length = rng.randrange(1, 33)
            data[at:at] = data[at : at + length]
        elif choice == 6:
            other = seeds[rng.randrange(len(seeds))]
            start = rng.randrange(len(other))
            data[at : at + rng.randrange(0, 33)] = other[start : start + rng.randrange(1, 65)]
        elif choice == 7:
            data[at] = (data[at] + rng.choice((-1, 1, -2, 2))) & 0xFF
        elif choice == 8:
            data[at : at + 5] = b"\xff\xff\xff\xff\x0f"  # u32::MAX as LEB128
        else:
            del data[rng.randrange(8, len(data) + 1) :]
    if rng.randrange(50) == 0:
        data[rng.randrange(8)] = rng.randrange(256)  # sometimes the preamble too
    return bytes(data)


# --------------------------------------------------------------------------
# Running one input


class Foreign(Exception):
    """Wraps an exception that is neither a wasmcomponent nor a wasmtime error."""


def make_engine() -> Any:
    import wasmtime

    config = wasmtime.Config()
    config.wasm_exceptions = True
    config.consume_fuel = True
    config.cranelift_opt_level = "none"
    return wasmtime.Engine(config)


def allowed(error: BaseException) -> bool:
    import wasmtime

    from wasmcomponent import ComponentError

    return isinstance(error, (ComponentError, wasmtime.WasmtimeError, wasmtime.Trap))


def zero_argument_funcs(component: Any, engine: Any) -> list[tuple[str, ...]]:
    """Paths of the function exports without parameters (top level, and one instance deep)."""
    import wasmcomponent as wc

    paths: list[tuple[str, ...]] = []
    for name, extern in component.type.exports(engine).items():
        item = extern.ty  # reflection is part of what is fuzzed
        if isinstance(item, wc.FuncType) and not item.params:
            paths.append((name,))
        elif isinstance(item, wc.ComponentInstanceType):
            for inner, inner_extern in item.exports(engine).items():
                if isinstance(inner_extern.ty, wc.FuncType) and not inner_extern.ty.params:
                    paths.append((name, inner))
    return paths


def run_case(engine: Any, data: bytes) -> str:
    """Load, instantiate and call ``data``; return the outcome, or raise ``Foreign``."""
    import wasmtime

    import wasmcomponent as wc

    stage = "load"
    try:
        component = wc.Component(engine, data)
        stage = "instantiate"
        store = wasmtime.Store(engine)
        store.set_fuel(FUEL)
        store.set_limits(memory_size=MEMORY_LIMIT)
        linker = wc.Linker(engine)
        linker.define_unknown_imports_as_traps(component)
        instance = linker.instantiate(store, component)
        stage = "reflect"
        paths = zero_argument_funcs(component, engine)
        stage = "call"
        outcome = "instantiated"
        for path in paths:
            index = None
            for name in path:
                index = instance.get_export_index(store, name, index)
                if index is None:
                    break
            func = instance.get_func(store, index) if index is not None else None
            if func is None:
                continue
            stage = f"call {'/'.join(path)}"
            func(store)
            func.post_return(store)
            outcome = "called"
        return outcome
    except Exception as error:  # noqa: BLE001 - classifying is the point
        if allowed(error):
            return "rejected" if stage == "load" else ("loaded" if stage == "instantiate" else "trapped")
        raise Foreign(f"{stage}: {type(error).__module__}.{type(error).__qualname__}: {error}") from error


# --------------------------------------------------------------------------
# Workers


def worker_main(connection: Connection, seeds: list[bytes], seed: int) -> None:
    """Run the indices the parent sends; answer ``(index, outcome, detail)``."""
    engine = make_engine()
    while True:
        index = connection.recv()
        if index is None:
            return
        data = mutate(seeds, seed, index)
        try:
            outcome, detail = run_case(engine, data), ""
        except Foreign as found:
            outcome = "foreign"
            detail = str(found) + "\n\n" + "".join(traceback.format_exception(found.__cause__))
            detail = signature(found.__cause__) + "\n" + detail
        except BaseException as error:  # noqa: BLE001 - e.g. RecursionError, MemoryError
            outcome = "foreign"
            detail = signature(error) + "\n" + "".join(traceback.format_exception(error))
        connection.send((index, outcome, detail))


def signature(error: Optional[BaseException]) -> str:
    """Exception class and innermost frame: findings with the same signature are one bug."""
    if error is None:
        return "unknown"
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(error).__qualname__} at {where}"


@dataclass
class Worker:
    """A worker process and the case it is running."""

    process: Any
    connection: Connection
    index: Optional[int] = None
    started: float = 0.0
    done: int = 0


def start_worker(context: Any, seeds: list[bytes], seed: int) -> Worker:
    parent_end, child_end = context.Pipe()
    process = context.Process(target=worker_main, args=(child_end, seeds, seed), daemon=True)
    process.start()
    child_end.close()
    return Worker(process, parent_end)


@dataclass
class Summary:
    """Counts by outcome, findings, timing."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES + FINDINGS, 0))
    findings: list[tuple[str, int, Path]] = field(default_factory=list)
    signatures: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def render(self) -> str:
        elapsed = time.monotonic() - self.started
        parts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        rate = self.total / elapsed if elapsed else 0.0
        return f"{self.total} inputs in {elapsed:.1f}s ({rate:.0f}/s): {parts}"


def save_finding(out: Path, kind: str, seed: int, index: int, data: bytes, detail: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{kind}-{seed}-{index}.wasm"
    path.write_bytes(data)
    path.with_suffix(".txt").write_text(f"{kind} (seed {seed}, case {index})\n\n{detail}\n")
    return path


def fuzz(args: argparse.Namespace, seeds: list[bytes], report: Callable[[str], None]) -> Summary:
    """Run cases ``0 .. args.count - 1`` of ``args.seed`` on ``args.jobs`` workers."""
    context = multiprocessing.get_context("fork")
    summary = Summary()
    workers = [start_worker(context, seeds, args.seed) for _ in range(args.jobs)]
    next_index = args.start
    last_report = time.monotonic()

    def assign(worker: Worker) -> None:
        nonlocal next_index
        if next_index < args.count:
            worker.index, worker.started = next_index, time.monotonic()
            worker.connection.send(next_index)
            next_index += 1
        else:
            worker.index = None

    def finding(kind: str, index: int, detail: str) -> None:
        summary.counts[kind] += 1
        key = f"{kind}: {detail.splitlines()[0]}" if kind == "foreign" else kind
        seen = summary.signatures[key] = summary.signatures.get(key, 0) + 1
        if seen > args.keep:
            return  # the same bug again: counted, not saved
        path = save_finding(args.out, kind, args.seed, index, mutate(seeds, args.seed, index), detail)
        summary.findings.append((kind, index, path))
        report(f"\n{kind.upper()} at case {index}: {key} -> {path}\n")

    for worker in workers:
        assign(worker)
    while any(w.index is not None for w in workers):
        ready = multiprocessing.connection.wait([w.connection for w in workers if w.index is not None], timeout=0.1)
        now = time.monotonic()
        for position, worker in enumerate(workers):
            if worker.index is None:
                continue
            replace = False
            if worker.connection in ready:
                try:
                    index, outcome, detail = worker.connection.recv()
                except (EOFError, OSError):
                    worker.process.join(1)
                    finding("crash", worker.index, f"worker died (exit code {worker.process.exitcode})")
                    replace = True
                else:
                    if outcome in FINDINGS:
                        finding(outcome, index, detail)
                    else:
                        summary.counts[outcome] += 1
                    worker.done += 1
                    replace = worker.done >= args.recycle
                    if not replace:
                        assign(worker)
            elif now - worker.started > args.timeout:
                worker.process.kill()
                worker.process.join()
                finding("hang", worker.index, f"no answer within {args.timeout}s")
                replace = True
            if replace:
                if worker.process.is_alive():
                    worker.connection.send(None)
                    worker.process.join(5)
                    if worker.process.is_alive():
                        worker.process.kill()
                worker.connection.close()
                workers[position] = start_worker(context, seeds, args.seed)
                assign(workers[position])
        if now - last_report >= args.progress:
            last_report = now
            report(f"\r{summary.render()}")
    for worker in workers:
        if worker.process.is_alive():
            worker.connection.send(None)
            worker.process.join(5)
    return summary


def reproduce(path: Path) -> int:
    """Run one saved input in this process and show what comes out."""
    data = path.read_bytes()
    try:
        outcome = run_case(make_engine(), data)
    except Foreign as found:
        print(f"FOREIGN: {found}")
        traceback.print_exception(found.__cause__)
        return 1
    print(f"ok: {outcome}")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="number of inputs (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="run seed; case i depends on (seed, i) only")
    parser.add_argument("--start", type=int, default=0, help="first case index (to resume a run)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per input before it is a hang")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--max-size", type=int, default=16384, help="largest seed component used, in bytes")
    parser.add_argument("--recycle", type=int, default=2000, help="replace a worker after this many inputs")
    parser.add_argument("--keep", type=int, default=3, help="findings saved per distinct signature")
    parser.add_argument("--progress", type=float, default=5.0, help="seconds between progress lines")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "wasmcomponent-fuzz" / "findings",
                        help="where findings are saved")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "wasmcomponent-fuzz",
                        help="where converted seed components are kept")
    parser.add_argument("--reproduce", type=Path, help="run one saved input and exit")
    args = parser.parse_args(argv)
    if args.reproduce is not None:
        return reproduce(args.reproduce)
    args.cache.mkdir(parents=True, exist_ok=True)
    seeds = load_seeds(args.cache, args.max_size)
    if not seeds:
        raise SystemExit("no seed components")
    print(f"{len(seeds)} seed components; seed {args.seed}, cases {args.start}..{args.start + args.count - 1}",
          file=sys.stderr)
    args.count += args.start
    summary = fuzz(args, seeds, lambda text: print(text, end="", file=sys.stderr, flush=True))
    print(file=sys.stderr)
    print(summary.render())
    for key, times in summary.signatures.items():
        print(f"  {times:>7} x {key}")
    for kind, index, path in summary.findings:
        print(f"  {kind} case {index}: {path}")
    return 1 if summary.findings else 0


if __name__ == "__main__":
    sys.exit(main())
