"""Mutation fuzzer: hostile bytes through load, instantiate and call.

Seeds are the valid components of the conformance suites (``.wast`` scripts
converted with ``wasm-tools json-from-wast`` through ``tests/corpus.py``, the
``async`` suites included), plus the type-size and nesting bombs of
``tests/bombs.py``; half the cases start from a seed that uses Component
Model async, whose exports then run as tasks through the scheduler.
Case ``i`` of a run is derived from ``(seed, i)`` alone: either a few
constants of the core code rewritten in place (the component still loads,
and its guest code hands other handles, pointers and lengths to the
built-ins), or a few random mutations (byte flips, random bytes,
LEB128-looking bytes, insertions, deletions, duplicated or spliced chunks,
truncation) of one seed component.  Each case then:

1. loads: ``Component(engine, data)``;
2. if it loads, instantiates it in a fresh store (fuel-limited, memory capped)
   with ``define_unknown_imports_as_traps``;
3. calls every function export (top level and one level of exported
   instances) whose parameters all have a plain default (none, 0, False,
   "", [], tuples of those), then its ``post_return``.

The only exceptions allowed out are ``wasmcomponent`` errors
(``ComponentError``) and the core engine's (``wasmtime.WasmtimeError``,
``wasmtime.Trap``).  Anything else is a *foreign* exception; a case running
longer than ``--timeout`` seconds is a *hang* (reported with the Python
stacks ``faulthandler`` dumps just before); a worker that dies (a signal,
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
import faulthandler
import multiprocessing
import os
import random
import shutil
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

# Values a guest passes to built-ins and exports: handles and indices (small
# numbers, 0, "minus one"), pointers and lengths at the edges of a 64 KiB page
# and of the 32-bit space, stream/future/waitable/event codes.
INTERESTING_CONSTS = (0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 31, 32, 63, -1, -2, -64, 255, 256, 4095, 4096,
                      0x7FFF, 0xFFFF, 0x10000, 0x10001, 0x7FFFFFFF, -0x80000000, 0x0FFFFFFF)


@dataclass
class Seeds:
    """The seed corpus, and which of its members use Component Model async.

    Half the inputs start from an async seed: there are fewer of them, and the
    async runtime (tasks, streams, futures, built-ins) is where the new code
    is.  ``consts`` memoises, per seed, where the ``i32.const``/``i64.const``
    immediates of its core code are (see ``const_sites``).
    """

    all: list[bytes]
    async_: list[bytes] = field(default_factory=list)
    consts: dict[bytes, list[tuple[int, int, int]]] = field(default_factory=dict)

    def sites(self, data: bytes) -> list[tuple[int, int, int]]:
        found = self.consts.get(data)
        if found is None:
            found = self.consts[data] = const_sites(data)
        return found


def classify(seeds: list[bytes]) -> Seeds:
    """Split off the seeds whose translation plan uses async (tasks, streams, futures...).

    Loading compiles core modules, and wasmtime may start threads to do so:
    that happens in a child process, so that the workers are forked from a
    parent without any engine threads.
    """
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()
    process = context.Process(target=_classify_child, args=(child_end, seeds), daemon=True)
    process.start()
    child_end.close()
    try:
        indices: list[int] = parent_end.recv()
    except EOFError:
        indices = []  # the child died: fuzz without the weighting rather than not at all
    process.join()
    return Seeds(seeds, [seeds[i] for i in indices])


def _classify_child(connection: Connection, seeds: list[bytes]) -> None:
    import wasmcomponent as wc

    engine = make_engine()
    found: list[int] = []
    for number, data in enumerate(seeds):
        try:
            # A private attribute, but the fuzzer only needs a hint to weigh seeds.
            if wc.Component(engine, data)._plan.uses_async:
                found.append(number)
        except Exception:  # noqa: BLE001 - a seed the runtime refuses is simply not async
            pass
    connection.send(found)


def _leb(data: bytes, at: int, limit: int) -> tuple[int, int]:
    """Unsigned LEB128 at ``at``: ``(value, end)``; ``end`` is -1 when it runs past ``limit`` or 5 bytes."""
    value = shift = 0
    for end in range(at, min(at + 5, limit)):
        value |= (data[end] & 0x7F) << shift
        shift += 7
        if data[end] < 0x80:
            return value, end + 1
    return 0, -1


def _code_ranges(data: bytes, start: int, end: int, out: list[tuple[int, int]], depth: int = 0) -> None:
    """Byte ranges of the core code sections in the component or module at ``data[start:end]``."""
    if depth > 8 or end - start < 8:
        return
    is_component = data[start + 4 : start + 8] != b"\x01\x00\x00\x00"
    at = start + 8
    while at < end:
        section = data[at]
        size, body = _leb(data, at + 1, end)
        if body < 0 or body + size > end:
            return
        if is_component and section in (1, 4):  # a nested core module or component
            _code_ranges(data, body, body + size, out, depth + 1)
        elif not is_component and section == 10:
            out.append((body, body + size))
        at = body + size


def const_sites(data: bytes) -> list[tuple[int, int, int]]:
    """``(offset, length, bits)`` of each ``i32.const``/``i64.const`` immediate
    in the core code of ``data``, found by scanning the code sections for the
    opcodes (0x41, 0x42) followed by a well-formed signed LEB128.

    A scan, not a decoder: an immediate of another instruction that happens
    to look like one is found too; rewriting it is just a harder mutation.
    """
    ranges: list[tuple[int, int]] = []
    if data.startswith(b"\x00asm"):
        _code_ranges(data, 0, len(data), ranges)
    sites: list[tuple[int, int, int]] = []
    for begin, end in ranges:
        for at in range(begin, end - 1):
            opcode = data[at]
            if opcode not in (0x41, 0x42):
                continue
            bits, most = (32, 5) if opcode == 0x41 else (64, 10)
            for stop in range(at + 1, min(at + 1 + most, end)):
                if data[stop] < 0x80:
                    sites.append((at + 1, stop - at, bits))
                    break
    return sites


def signed_leb(value: int, length: int) -> bytes:
    """``value`` as a signed LEB128 of exactly ``length`` bytes (padded; wasm accepts that)."""
    out = bytearray()
    for position in range(length):
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if position < length - 1 else 0))
    return bytes(out)


def rewrite_const(data: bytearray, site: tuple[int, int, int], rng: random.Random) -> None:
    """Give the constant at ``site`` another value that fits its encoded length
    (so no size field changes and the component usually still validates)."""
    at, length, bits = site
    width = min(7 * length, bits)
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    fitting = [v for v in INTERESTING_CONSTS if low <= v <= high]
    if fitting and rng.randrange(4):
        value = rng.choice(fitting)
    else:
        value = rng.randint(low, high)
    data[at : at + length] = signed_leb(value, length)


def mutate(seeds: Seeds, seed: int, index: int) -> bytes:
    """The input of case ``index`` of a run with ``seed`` (deterministic).

    One input in three only rewrites constants in the core code (one to four
    of them, each keeping its encoded length), so it usually still loads and
    runs and the values hostile guests pass to built-ins are explored; the
    others get byte-level mutations, constants among them.
    """
    rng = random.Random(seed * 1_000_003 + index)
    pool = seeds.async_ if seeds.async_ and rng.randrange(2) == 0 else seeds.all
    original = pool[rng.randrange(len(pool))]
    data = bytearray(original)
    sites = seeds.sites(original)
    if sites and rng.randrange(3) == 0:
        for _ in range(rng.choice((1, 1, 2, 3, 4))):
            rewrite_const(data, sites[rng.randrange(len(sites))], rng)
        return bytes(data)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 8))):
        if len(data) <= 8:
            break
        at = rng.randrange(8, len(data))  # keep the preamble most of the time
        choice = rng.randrange(11)
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
            other = seeds.all[rng.randrange(len(seeds.all))]
            start = rng.randrange(len(other))
            data[at : at + rng.randrange(0, 33)] = other[start : start + rng.randrange(1, 65)]
        elif choice == 7:
            data[at] = (data[at] + rng.choice((-1, 1, -2, 2))) & 0xFF
        elif choice == 8:
            data[at : at + 5] = b"\xff\xff\xff\xff\x0f"  # u32::MAX as LEB128
        elif choice == 9 and sites and len(data) == len(original):
            rewrite_const(data, sites[rng.randrange(len(sites))], rng)  # offsets still hold
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


NoDefault = object()  # a parameter type default_value has no plain value for
_PLAIN_DEFAULTS: dict[str, Any] = {
    "bool": False, "char": "a", "string": "", "f32": 0.0, "f64": 0.0, "float32": 0.0, "float64": 0.0,
    **dict.fromkeys(("u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64"), 0),
}


def default_value(ty: Any) -> Any:
    """A plain value of ``ty`` (0, False, "", [], tuples of those), or ``NoDefault``."""
    kind = type(ty).__name__
    name = getattr(ty, "name", None) if kind == "PrimType" else kind.lower()
    if name in _PLAIN_DEFAULTS:
        return _PLAIN_DEFAULTS[name]
    if kind == "ListType":
        return []
    if kind == "TupleType":
        elements = [default_value(e) for e in ty.elements]
        return NoDefault if NoDefault in elements else tuple(elements)
    return NoDefault


def callable_funcs(component: Any, engine: Any) -> list[tuple[tuple[str, ...], tuple[Any, ...]]]:
    """The function exports (top level, and one instance deep) with the
    arguments to call them with: none, or plain defaults when every parameter
    has one (async test exports often take a flag or a count)."""
    import wasmcomponent as wc

    found: list[tuple[tuple[str, ...], tuple[Any, ...]]] = []

    def add(path: tuple[str, ...], ty: Any) -> None:
        args = tuple(default_value(t) for _, t in ty.params)
        if NoDefault not in args:
            found.append((path, args))

    for name, extern in component.type.exports(engine).items():
        item = extern.ty  # reflection is part of what is fuzzed
        if isinstance(item, wc.FuncType):
            add((name,), item)
        elif isinstance(item, wc.ComponentInstanceType):
            for inner, inner_extern in item.exports(engine).items():
                if isinstance(inner_extern.ty, wc.FuncType):
                    add((name, inner), inner_extern.ty)
    return found


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
        paths = callable_funcs(component, engine)
        stage = "call"
        outcome = "instantiated"
        for path, args in paths:
            index = None
            for name in path:
                index = instance.get_export_index(store, name, index)
                if index is None:
                    break
            func = instance.get_func(store, index) if index is not None else None
            if func is None:
                continue
            stage = f"call {'/'.join(path)}"
            func(store, *args)
            func.post_return(store)
            outcome = "called"
        return outcome
    except Exception as error:  # noqa: BLE001 - classifying is the point
        if allowed(error):
            return "rejected" if stage == "load" else ("loaded" if stage == "instantiate" else "trapped")
        raise Foreign(f"{stage}: {type(error).__module__}.{type(error).__qualname__}: {error}") from error


# --------------------------------------------------------------------------
# Workers


def worker_main(connection: Connection, seeds: Seeds, seed: int, stacks: Path, timeout: float) -> None:
    """Run the indices the parent sends; answer ``(index, outcome, detail)``.

    Shortly before the parent would give up on a case, ``faulthandler`` writes
    the Python stacks into ``stacks``: a hang's report then says where the
    case was (a loop in the runtime, a wait in the engine...).
    """
    engine = make_engine()
    parent = os.getppid()
    with stacks.open("wb", buffering=0) as dump:
        while True:
            # A sibling forked later holds a copy of the parent's end of this
            # pipe, so a dead parent is no EOF here: watch for it instead.
            while not connection.poll(1.0):
                if os.getppid() != parent:
                    return
            index = connection.recv()
            if index is None:
                return
            dump.seek(0)
            dump.truncate()
            faulthandler.dump_traceback_later(timeout * 0.8, file=dump)
            try:
                answer = run_one(engine, mutate(seeds, seed, index))
            finally:
                faulthandler.cancel_dump_traceback_later()
            connection.send((index, *answer))


def run_one(engine: Any, data: bytes) -> tuple[str, str]:
    """``(outcome, detail)`` of one input; ``detail`` starts with the signature of a finding."""
    try:
        return run_case(engine, data), ""
    except Foreign as found:
        detail = str(found) + "\n\n" + "".join(traceback.format_exception(found.__cause__))
        return "foreign", signature(found.__cause__) + "\n" + detail
    except BaseException as error:  # noqa: BLE001 - e.g. RecursionError, MemoryError
        return "foreign", signature(error) + "\n" + "".join(traceback.format_exception(error))


def hang_detail(stacks: Path, timeout: float) -> str:
    """Signature line and report of a hang, from the stacks faulthandler dumped.

    The signature is the innermost wasmcomponent frame, as file and function
    (line numbers vary within one slow loop): one stuck loop, one signature.
    """
    try:
        dump = stacks.read_text(errors="replace")
    except OSError:
        dump = ""
    frames = [line.strip() for line in dump.splitlines() if line.strip().startswith('File "')]
    ours = [f for f in frames if "/wasmcomponent/" in f]
    # Prefer the built-in or scheduler step that was running to the helper below it.
    chosen = next((f for f in ours if "/wasmcomponent/concurrent/" in f), ours[0] if ours else None)
    if chosen is None:
        where = "no wasmcomponent frame" if frames else "no Python stack (stuck before the dump, or in native code)"
    else:
        path, _, rest = chosen[len('File "') :].partition('", line ')  # 'File "/x/y.py", line 12 in name'
        where = f"{Path(path).name} {rest.partition(' in ')[2]}"
    return f"in {where}\nno answer within {timeout}s; Python stacks at {timeout * 0.8:.0f}s:\n{dump}"


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
    stacks: Path
    index: Optional[int] = None
    started: float = 0.0
    done: int = 0


def preload() -> None:
    """Import all of wasmcomponent in the parent, so every worker forked later
    (one per ``--recycle`` inputs) runs the code of the run's start, not
    whatever the working tree holds by then (one edited mid-run gave a burst
    of findings that were not in any commit)."""
    import importlib
    import pkgutil

    import wasmcomponent

    for module in pkgutil.walk_packages(wasmcomponent.__path__, "wasmcomponent."):
        try:
            importlib.import_module(module.name)
        except Exception:  # noqa: BLE001 - an optional extra (an HTTP server...) may be missing
            pass


def start_worker(context: Any, seeds: Seeds, args: argparse.Namespace, stacks: Path) -> Worker:
    parent_end, child_end = context.Pipe()
    process = context.Process(target=worker_main, args=(child_end, seeds, args.seed, stacks, args.timeout), daemon=True)
    process.start()
    child_end.close()
    return Worker(process, parent_end, stacks)


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


def fuzz(args: argparse.Namespace, seeds: Seeds, report: Callable[[str], None]) -> Summary:
    """Run cases ``0 .. args.count - 1`` of ``args.seed`` on ``args.jobs`` workers."""
    context = multiprocessing.get_context("fork")
    preload()
    summary = Summary()
    stacks = Path(tempfile.mkdtemp(prefix="fuzz-stacks-"))
    workers = [start_worker(context, seeds, args, stacks / f"worker-{n}.txt") for n in range(args.jobs)]
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
        key = f"{kind}: {detail.splitlines()[0]}" if kind in ("foreign", "hang") else kind
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
                finding("hang", worker.index, hang_detail(worker.stacks, args.timeout))
                replace = True
            if replace:
                if worker.process.is_alive():
                    worker.connection.send(None)
                    worker.process.join(5)
                    if worker.process.is_alive():
                        worker.process.kill()
                worker.connection.close()
                workers[position] = start_worker(context, seeds, args, worker.stacks)
                assign(workers[position])
        if now - last_report >= args.progress:
            last_report = now
            report(f"\r{summary.render()}")
    for worker in workers:
        if worker.process.is_alive():
            worker.connection.send(None)
            worker.process.join(5)
    shutil.rmtree(stacks, ignore_errors=True)
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
    corpus = load_seeds(args.cache, args.max_size)
    if not corpus:
        raise SystemExit("no seed components")
    seeds = classify(corpus)
    print(f"{len(corpus)} seed components ({len(seeds.async_)} using async); seed {args.seed},"
          f" cases {args.start}..{args.start + args.count - 1}", file=sys.stderr)
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
