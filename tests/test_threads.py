"""Stores used in several threads at once, as wasmtime allows (one store per thread)."""

from __future__ import annotations

import threading
from typing import Any

import wasmtime

import components as C
from wasmcomponent import Component, Linker

THREADS = 16
ROUNDS = 15


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
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker(k: int) -> None:
        try:
            start.wait()
            for i in range(ROUNDS):
                store = wasmtime.Store(engine)
                instance: Any = linker.instantiate(store, component)
                assert instance.get_func(store, "call-0")(store, k + i) == k + i + 1
                assert instance.get_func(store, "call-1")(store, k) == -k
                assert instance.get_func(store, "call-2")(store, f"t{k}") == f"T{k}"
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []


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
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker() -> None:
        try:
            start.wait()
            for _ in range(10):
                store = wasmtime.Store(engine)
                store.set_wasi(WasiConfig())
                linker.instantiate(store, component)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
