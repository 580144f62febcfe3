"""Instantiation's store lifetimes and the engine's reusable import layouts."""

from __future__ import annotations

import gc
import weakref

import pytest
import wasmtime

from wasmcomponent import Component, Linker
from wasmcomponent._engine import core
from wasmcomponent._engine.core import ImportLayout, make_host_func, store_handle

WAT = """
(component
  (import "f" (func $f (param "x" u32) (result u32)))
  (core func $lf (canon lower (func $f)))
  (core module $m
    (import "" "f" (func $f (param i32) (result i32)))
    (func (export "g") (param i32) (result i32) local.get 0 call $f))
  (core instance $i (instantiate $m (with "" (instance (export "f" (func $lf))))))
  (func (export "g") (param "x" u32) (result u32) (canon lift (core func $i "g")))
)
"""


@pytest.fixture(scope="module")
def setup() -> tuple[wasmtime.Engine, Component, Linker]:
    engine = wasmtime.Engine()
    component = Component(engine, WAT)
    linker = Linker(engine)
    with linker.root() as root:
        root.add_func("f", lambda store, x: x + 1)
    return engine, component, linker


def _run(engine: wasmtime.Engine, component: Component, linker: Linker) -> weakref.ref[wasmtime.Store]:
    store = wasmtime.Store(engine)
    instance = linker.instantiate(store, component)
    func = instance.get_func(store, "g")
    assert func is not None
    assert func(store, 41) == 42
    func.post_return(store)
    return weakref.ref(store)


def test_store_is_freed_after_instantiation(setup: tuple[wasmtime.Engine, Component, Linker]) -> None:
    engine, component, linker = setup
    ref = _run(engine, component, linker)
    gc.collect()
    assert ref() is None


def test_store_is_freed_without_the_cycle_collector(setup: tuple[wasmtime.Engine, Component, Linker]) -> None:
    engine, component, linker = setup
    _run(engine, component, linker)  # warm the per-component caches
    gc.collect()
    before = len(core._REGISTRY)
    gc.disable()
    try:
        for _ in range(3):
            ref = _run(engine, component, linker)
            assert ref() is None
    finally:
        gc.enable()
    assert len(core._REGISTRY) == before


def test_instances_in_many_stores_stay_independent(setup: tuple[wasmtime.Engine, Component, Linker]) -> None:
    engine, component, linker = setup
    stores = [wasmtime.Store(engine) for _ in range(3)]
    funcs = []
    for store in stores:
        func = linker.instantiate(store, component).get_func(store, "g")
        assert func is not None
        funcs.append(func)
    for i, (store, func) in enumerate(zip(stores, funcs, strict=True)):
        assert func(store, i) == i + 1
        func.post_return(store)


def test_store_handle_does_not_keep_the_store_alive() -> None:
    store = wasmtime.Store()
    handle = store_handle(store)
    assert store_handle(store) is handle
    ref = weakref.ref(store)
    del store
    gc.collect()
    assert ref() is None
    with pytest.raises(ValueError):
        handle._context()


def test_host_function_slots_are_released_with_the_store() -> None:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    for _ in range(5):
        make_host_func(store, ("i32",), ("i32",), lambda x: x)
    keys = list(core._record(store).host_keys)
    assert len(keys) == 5 and all(core._HOST_ENTRIES.slots[k] is not None for k in keys)
    del store
    gc.collect()
    assert all(core._HOST_ENTRIES.slots[k] is None for k in keys)


MEMORY_SOURCE = '(module (memory (export "m") 1) (func (export "f") (result i32) i32.const 7))'
IMPORTER = '(module (import "a" "mem" (memory 1)) (import "a" "f" (func (result i32))) (import "a" "h" (func (result i32)))'
IMPORTER += ' (func (export "sum") (result i32) call 0 call 1 i32.add))'


def test_import_layout_fills_exports_and_externs() -> None:
    engine = wasmtime.Engine()
    source_module = wasmtime.Module(engine, MEMORY_SOURCE)
    importer = wasmtime.Module(engine, IMPORTER)
    layout = ImportLayout(3, [(0, 0, "m"), (1, 0, "f")], [2])
    for value in (1, 2):  # one layout serves every store
        store = wasmtime.Store(engine)
        source = wasmtime.Instance(store, source_module, [])
        extra = make_host_func(store, (), ("i32",), lambda v=value: v)
        instance = layout.instantiate(store, importer, [source], [extra])
        assert core.RawFunc(store, instance.exports(store)["sum"])() == 7 + value


def test_import_layout_errors() -> None:
    engine = wasmtime.Engine()
    with pytest.raises(ValueError):
        ImportLayout(2, [(0, 0, "m")], [])  # slot 1 uncovered
    with pytest.raises(ValueError):
        ImportLayout(1, [(0, 0, "m")], [0])  # slot 0 twice
    store = wasmtime.Store(engine)
    other = wasmtime.Store(engine)
    source_module = wasmtime.Module(engine, MEMORY_SOURCE)
    importer = wasmtime.Module(engine, '(module (import "a" "mem" (memory 1)))')
    with pytest.raises(KeyError, match="missing"):
        ImportLayout(1, [(0, 0, "missing")], []).instantiate(
            store, importer, [wasmtime.Instance(store, source_module, [])], []
        )
    with pytest.raises(ValueError, match="different store"):
        ImportLayout(1, [(0, 0, "m")], []).instantiate(
            store, importer, [wasmtime.Instance(other, source_module, [])], []
        )
    with pytest.raises(ValueError, match="externs"):
        ImportLayout(1, [(0, 0, "m")], []).instantiate(store, importer, [], [object()])
