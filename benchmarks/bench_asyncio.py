"""Benchmark asyncio (issue #13) in `wasmcomponent`, in one process.

Three groups, timed like `bench.py` (round-robin batches, medians):

* call overhead: `await func.call_async(store, ...)` of `noop()` and
  `add(u32, u32) -> u32` against the sync call `func(store, ...)` of the same
  function, for the sync lift in a component without async (bench.py's
  component) and for the callback-lifted async export (bench_async.py's
  component).  Each timed batch awaits 200 calls in one coroutine, so the
  event loop's own start-up is not counted.
* concurrency: 1,000 `call_async` under one `asyncio.gather`, on one
  instance, of an export that awaits a host `async def` doing
  `asyncio.sleep(0.05)`; the wall time of the whole gather (a sync loop of
  the same calls would take 1,000 x 50 ms = 50 s).
* streams: 1 MiB of `stream<u8>` that a guest writes (bench_async.py's
  writer, `produce(n)`), read by Python with `async for chunk in reader`,
  against one plain Python copy of 1 MiB (`bytes(memoryview(bytearray))`).

wasmtime-py 50 has no `call_async`, no async host functions and no stream
reader: there is no anchor column.

Usage:
  python benchmarks/bench_asyncio.py [--quick] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import wasmtime

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import bench as BB  # noqa: E402 - shared timing and formatting
import bench_async as BA  # noqa: E402 - the async components
import bench_components as B  # noqa: E402

from asyncio_guests import SLEEPER  # noqa: E402 - work(x) awaits the host's sleep(x)
from wasmcomponent import Component, Linker  # noqa: E402

BATCH = 200  # awaited calls per timed thunk
CONCURRENT = 1000
HOST_SLEEP = 0.05


def batch_of(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[Any]]) -> Callable[[], Any]:
    """A thunk awaiting BATCH calls made by `make` in one coroutine."""

    async def run() -> Any:
        result = None
        for _ in range(BATCH):
            result = await make()
        return result

    return lambda: loop.run_until_complete(run())


def sync_batch(call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        result = None
        for _ in range(BATCH):
            result = call()
        return result

    return run


def calls_table(engine: wasmtime.Engine, args: argparse.Namespace, loop: asyncio.AbstractEventLoop) -> str:
    built = B.bench_component()
    backend = BB.load_backend(BB.CANDIDATE, engine, built.wat)
    assert backend is not None
    mixed = BA.Loaded.create(engine, BA.CALLS_WAT)
    targets = {
        "sync lift (component without async)": (backend.store, backend.instance, {"noop": "noop", "add": "add"}),
        "async lift (callback)": (mixed.store, mixed.instance, {"noop": "noop-async", "add": "add-async"}),
    }
    thunks: dict[str, Callable[[], Any]] = {}
    for label, (store, instance, names) in targets.items():
        for op, call_args in (("noop", ()), ("add", (2, 3))):
            func = instance.get_func(store, names[op])
            expected = None if op == "noop" else 5
            assert func(store, *call_args) == expected
            assert loop.run_until_complete(func.call_async(store, *call_args)) == expected
            thunks[f"{label}|{op}|sync"] = sync_batch(lambda f=func, s=store, a=call_args: f(s, *a))
            thunks[f"{label}|{op}|async"] = batch_of(loop, lambda f=func, s=store, a=call_args: f.call_async(s, *a))
    m = BB.measure(thunks, settings_of(args))
    lines = [
        "| function | call | `func(store, ...)` | `await func.call_async(store, ...)` | call_async ÷ sync |",
        "|---|---|---:|---:|---:|",
    ]
    for label in targets:
        for op in ("noop", "add"):
            sync = m[f"{label}|{op}|sync"] / BATCH
            asynchronous = m[f"{label}|{op}|async"] / BATCH
            lines.append(f"| {label} | `{op}` | {BB.fmt_time(sync)} | {BB.fmt_time(asynchronous)} "
                         f"| {BB.fmt_ratio(asynchronous, sync)} |")
    lines.append("")
    lines.append(f"Each figure is a median over batches of {BATCH} calls awaited one after another in one "
                 "coroutine (the event loop's start-up is not counted).")
    return "\n".join(lines) + "\n"


def concurrency_table(engine: wasmtime.Engine, args: argparse.Namespace, loop: asyncio.AbstractEventLoop) -> str:
    component = Component(engine, SLEEPER)

    async def sleep(_store: Any, ms: int) -> int:
        await asyncio.sleep(HOST_SLEEP)
        return ms

    linker = Linker(engine)
    linker.root().add_func("sleep", sleep)
    walls = []
    for _ in range(3 if args.quick else 7):
        store = wasmtime.Store(engine)
        work = linker.instantiate(store, component).get_func(store, "work")

        async def gather(work: Any = work, store: wasmtime.Store = store) -> list[int]:
            return await asyncio.gather(*(work.call_async(store, i) for i in range(CONCURRENT)))

        start = time.perf_counter()
        results = loop.run_until_complete(gather())
        walls.append(time.perf_counter() - start)
        assert results == [2 * i for i in range(CONCURRENT)], "wrong results"
    wall = statistics.median(walls)
    return "\n".join([
        "| operation | wall time (median) | per call | a sync loop would take |",
        "|---|---:|---:|---:|",
        f"| {CONCURRENT:,} `call_async` of `work(x)` under one `asyncio.gather`, one instance; each awaits "
        f"a host `async def` doing `asyncio.sleep({HOST_SLEEP})` | {wall * 1e3:,.0f} ms "
        f"| {BB.fmt_time(wall / CONCURRENT)} | {CONCURRENT * HOST_SLEEP:,.0f} s |",
    ]) + "\n"


def streams_table(engine: wasmtime.Engine, args: argparse.Namespace, loop: asyncio.AbstractEventLoop) -> str:
    loaded = BA.Loaded.create(engine, BA.STREAM_WAT)
    produce = loaded.instance.get_func(loaded.store, "produce")
    store = loaded.store
    expected = BA.pattern(BA.MIB)

    async def read_all() -> bytes:
        reader = await produce.call_async(store, BA.MIB)
        return b"".join([chunk async for chunk in reader])

    async def count_all() -> int:
        reader = await produce.call_async(store, BA.MIB)
        total = 0
        async for chunk in reader:
            total += len(chunk)
        return total

    assert loop.run_until_complete(read_all()) == expected, "wrong stream contents"
    assert loop.run_until_complete(count_all()) == BA.MIB
    thunks = {"async-for": lambda: loop.run_until_complete(count_all()), "py": BA.py_copy(BA.MIB)}
    m = BB.measure(thunks, settings_of(args))
    return "\n".join([
        "| 1 MiB through `stream<u8>`, guest to Python | wasmcomponent | py copy of 1 MiB | ratio to py copy |",
        "|---|---:|---:|---:|",
        f"| `reader = await produce.call_async(store, 1 MiB)`, then `async for chunk in reader` "
        f"| {BB.fmt_time(m['async-for'])} | {BB.fmt_time(m['py'])} | {BB.fmt_ratio(m['async-for'], m['py'])} |",
        "",
        "A `stream<u8>` iterates by `bytes` chunks (up to 1 MiB each: one copy out of guest memory per "
        "chunk, as the Python copy makes one); the figure includes the export call, its task and one "
        "`run_until_complete` of the event loop. The chunks' contents are checked once before timing.",
    ]) + "\n"


def settings_of(args: argparse.Namespace) -> BB.Settings:
    if args.quick:
        return BB.Settings(batch_target=0.005, min_samples=3, max_samples=5, budget=0.5)
    return BB.Settings(batch_target=0.02, min_samples=7, max_samples=41, budget=3.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument("--markdown", type=Path, help="write the tables to this file")
    args = parser.parse_args(argv)
    engine = wasmtime.Engine()
    loop = asyncio.new_event_loop()
    try:
        parts = [
            BB.environment_line(),
            calls_table(engine, args, loop),
            concurrency_table(engine, args, loop),
            streams_table(engine, args, loop),
        ]
    finally:
        loop.close()
    text = "\n".join(parts)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
