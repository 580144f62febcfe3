"""Stores used in several threads at once, as wasmtime allows (one store per thread)."""

from __future__ import annotations

import threading
from typing import Any, Callable

import wasmtime

import components as C
from wasmcomponent import Component, Linker

THREADS = 16
ROUNDS = 15


def run_in_threads(count: int, body: Callable[[int], None], timeout: float = 120) -> None:
    """Run ``body(k)`` in ``count`` threads started together; every one must finish cleanly."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def worker(k: int) -> None:
        try:
            start.wait()
            body(k)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []


def test_threads_instantiate_and_call_their_own_stores() -> None:
    # Several host imports of different signatures: each instantiation makes
    # host functions, whose core types are shared by the stores of one engine.
    imports = [C.Import(f"host-{i}", (("x", t),), t) for i, t in enumerate([C.U32, C.Prim("s64"), C.STRING])]
    built = C.build_component([C.forward_export(f"call-{i}", imp) for i, imp in enumerate(imports)], imports)
    engine = wasmtime.Engine()
    component = Component(engine, built.wat)
    linker = Linker(engine)
    with linker.root() as root:
        root.add_func("host-0", lambda store, x: x + 1)
        root.add_func("host-1", lambda store, x: -x)
        root.add_func("host-2", lambda store, s: s.upper())

    def calls(k: int) -> None:
        for i in range(ROUNDS):
            store = wasmtime.Store(engine)
            instance: Any = linker.instantiate(store, component)
            assert instance.get_func(store, "call-0")(store, k + i) == k + i + 1
            assert instance.get_func(store, "call-1")(store, k) == -k
            assert instance.get_func(store, "call-2")(store, f"t{k}") == f"T{k}"

    run_in_threads(THREADS, calls)


def test_threads_instantiate_a_componentize_py_guest() -> None:
    """A real guest (about 100 WASI imports of many signatures) instantiated in 16 threads at once."""
    from wasi_guests import build
    from wasi_guests import engine as guest_engine
    from wasmcomponent.wasi import WasiConfig

    path = build("command")
    engine = guest_engine()
    component = Component.from_file(engine, str(path))
    linker = Linker(engine)
    linker.add_wasip2()

    def instantiations(_k: int) -> None:
        for _ in range(10):
            store = wasmtime.Store(engine)
            store.set_wasi(WasiConfig())
            linker.instantiate(store, component)

    run_in_threads(THREADS, instantiations, timeout=300)


def test_threads_each_run_an_asyncio_loop_over_their_own_stores() -> None:
    """One asyncio loop per thread, each driving its own stores: concurrent calls of an export
    that awaits an ``async def`` host function (asyncio, issue #13), all in flight at once."""
    import asyncio

    from asyncio_guests import SLEEPER

    engine = wasmtime.Engine()
    component = Component(engine, SLEEPER)
    in_flight: dict[int, int] = {}
    most: dict[int, int] = {}

    async def sleep(_store: Any, ms: int) -> int:
        key = threading.get_ident()
        in_flight[key] = in_flight.get(key, 0) + 1
        most[key] = max(most.get(key, 0), in_flight[key])
        await asyncio.sleep(0.001)
        in_flight[key] -= 1
        return ms

    linker = Linker(engine)
    linker.root().add_func("sleep", sleep)

    async def one_thread(k: int) -> None:
        for i in range(3):
            store = wasmtime.Store(engine)
            work = (await linker.instantiate_async(store, component)).get_func(store, "work")
            results = await asyncio.gather(*(work.call_async(store, k * 100 + j) for j in range(20)))
            assert results == [2 * (k * 100 + j) for j in range(20)], (k, i)

    run_in_threads(8, lambda k: asyncio.run(one_thread(k)))
    assert len(most) == 8 and all(count == 20 for count in most.values())
