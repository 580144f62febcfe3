"""The core engine's limits interrupt component calls, with a trap, as in wasmtime.

* Fuel (`Config.consume_fuel`, `Store.set_fuel`): an infinite loop inside a
  component export traps "all fuel consumed by WebAssembly".
* Epochs (`Config.epoch_interruption`, `Store.set_epoch_deadline`,
  `Engine.increment_epoch` from another thread): the loop traps "interrupt".
* A store memory limit (`Store.set_limits(memory_size=...)`): `memory.grow`
  past it returns -1 (wasmtime's limiter denies growth, it does not trap),
  and a `realloc` that cannot grow memory for a host value ends in a trap.

Afterwards the store behaves as wasmtime's: a trap poisons it, so every later
entry into any component instance of the store fails with "cannot enter
component instance" even after refuelling or a new deadline, while other
stores on the same engine work.  A denied `memory.grow` is no trap: the
instance stays usable.

Every scenario runs on `wasmtime.component` and `wasmcomponent` with the same
script.  wasmtime-py raises a bare `WasmtimeError` (no trap code) for these;
wasmcomponent raises `ComponentTrap`, a `WasmtimeError` whose `trap_code` is
the `wasmtime.TrapCode` (`OUT_OF_FUEL`, `INTERRUPT`, ...).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from wasmtime import Config, Engine, Store, TrapCode, WasmtimeError

import wasmcomponent
from test_hostile_guests import (
    BACKENDS,
    BYSTANDER,
    ECHO_STRING,
    GROWING_REALLOC,
    backend,
    guest,
    instantiate,
)

SPIN = guest('(param "n" u32) (result u32)', "(param i32) (result i32)", "(loop $forever (br $forever)) (i32.const 0)")
"""`run` never returns."""

GROW_ALL = guest("(result s32)", "(result i32)", """(local $pages i32)
    (block $done (loop $more
      (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
      (local.set $pages (i32.add (local.get $pages) (i32.const 1)))
      (br $more)))
    (local.get $pages)""")
"""`run` grows memory one page at a time until refused and returns how many pages it got."""

GROW_BY = guest('(param "pages" u32) (result s32)', "(param i32) (result i32)", "(memory.grow (local.get 0))")
"""`run(n)` is `memory.grow n`."""

NAIVE_GROWING_REALLOC = "(i32.mul (memory.grow (i32.add (i32.shr_u (local.get 3) (i32.const 16)) (i32.const 1))) (i32.const 65536))"
"""Like `GROWING_REALLOC` without the copy, and without checking `memory.grow`'s -1."""

ONE_MIB = 1 << 20


def assert_trap(error: BaseException, backend_name: str, reason: str, code: TrapCode) -> None:
    """`error` is the trap `reason`; wasmcomponent's also carries `code`."""
    assert isinstance(error, WasmtimeError)
    assert f"wasm trap: {reason}" in str(error), str(error)
    if backend_name == "wasmcomponent":
        assert isinstance(error, wasmcomponent.ComponentTrap)
        assert error.trap_code == code


def assert_poisoned(mod: Any, engine: Engine, store: Store, run: Any, args: tuple[Any, ...]) -> None:
    """No component instance of `store`, old or new, can be entered; another store works."""
    with pytest.raises(WasmtimeError, match="cannot enter component instance"):
        run(store, *args)
    fresh = instantiate(mod, engine, store, BYSTANDER).get_func(store, "add")
    with pytest.raises(WasmtimeError, match="cannot enter component instance"):
        fresh(store, 1, 2)
    other = Store(engine)
    if engine_consumes_fuel(store):
        other.set_fuel(10_000)
    other.set_epoch_deadline(1_000_000)
    assert instantiate(mod, engine, other, BYSTANDER).get_func(other, "add")(other, 1, 2) == 3


def engine_consumes_fuel(store: Store) -> bool:
    try:
        store.get_fuel()
    except WasmtimeError:
        return False
    return True


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_fuel_interrupts_a_component_call(backend_name: str) -> None:
    mod = backend(backend_name)
    config = Config()
    config.consume_fuel = True
    engine = Engine(config)
    store = Store(engine)
    store.set_fuel(100_000)
    run = instantiate(mod, engine, store, SPIN).get_func(store, "run")
    with pytest.raises(WasmtimeError) as info:
        run(store, 1)
    assert_trap(info.value, backend_name, "all fuel consumed by WebAssembly", TrapCode.OUT_OF_FUEL)
    assert store.get_fuel() == 0
    store.set_fuel(100_000)  # refuelling does not lift the poison
    assert_poisoned(mod, engine, store, run, (1,))


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_fuel_is_consumed_by_a_normal_call(backend_name: str) -> None:
    mod = backend(backend_name)
    config = Config()
    config.consume_fuel = True
    engine = Engine(config)
    store = Store(engine)
    store.set_fuel(10_000)
    add = instantiate(mod, engine, store, BYSTANDER).get_func(store, "add")
    assert add(store, 20, 22) == 42
    add.post_return(store)
    assert 0 < store.get_fuel() < 10_000


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_epoch_deadline_interrupts_a_component_call(backend_name: str) -> None:
    mod = backend(backend_name)
    config = Config()
    config.epoch_interruption = True
    engine = Engine(config)
    store = Store(engine)
    store.set_epoch_deadline(1)
    run = instantiate(mod, engine, store, SPIN).get_func(store, "run")
    ticker = threading.Timer(0.05, engine.increment_epoch)
    ticker.start()
    try:
        with pytest.raises(WasmtimeError) as info:
            run(store, 1)
    finally:
        ticker.cancel()
    assert_trap(info.value, backend_name, "interrupt", TrapCode.INTERRUPT)
    store.set_epoch_deadline(1_000_000)  # a new deadline does not lift the poison
    assert_poisoned(mod, engine, store, run, (1,))


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_memory_limit_refuses_growth(backend_name: str) -> None:
    mod = backend(backend_name)
    engine = Engine()
    store = Store(engine)
    store.set_limits(memory_size=ONE_MIB)
    run = instantiate(mod, engine, store, GROW_ALL).get_func(store, "run")
    assert run(store) == 15  # 1 page to start with, 16 pages = 1 MiB allowed
    run.post_return(store)
    assert run(store) == 0  # refused again, no trap, still usable
    run.post_return(store)

    store = Store(engine)
    store.set_limits(memory_size=ONE_MIB)
    grow = instantiate(mod, engine, store, GROW_BY).get_func(store, "run")
    for pages, expected in ((65536, -1), (2**32 - 1, -1), (16, -1), (15, 1), (1, -1), (0, 16)):
        assert grow(store, pages) == expected, pages
        grow.post_return(store)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_memory_limit_stops_host_values_from_growing_memory(backend_name: str) -> None:
    """A host string larger than the limit: the guest's realloc cannot grow memory and the call traps."""
    mod = backend(backend_name)
    engine = Engine()
    cases = (
        (GROWING_REALLOC, "out of bounds memory access", TrapCode.MEMORY_OUT_OF_BOUNDS),
        (NAIVE_GROWING_REALLOC, "realloc return: beyond end of memory", None),
    )
    for realloc, reason, code in cases:
        store = Store(engine)
        store.set_limits(memory_size=ONE_MIB)
        echo = guest('(param "s" string) (result string)', "(param i32 i32) (result i32)", ECHO_STRING,
                     realloc=realloc)
        run = instantiate(mod, engine, store, echo).get_func(store, "run")
        assert run(store, "x" * 100_000) == "x" * 100_000
        run.post_return(store)
        with pytest.raises(WasmtimeError) as info:
            run(store, "x" * (2 * ONE_MIB))
        assert reason in str(info.value), str(info.value)
        if backend_name == "wasmcomponent":
            assert isinstance(info.value, wasmcomponent.ComponentTrap)
            assert info.value.trap_code == code
        assert_poisoned(mod, engine, store, run, ("x",))


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_memory_limit_below_initial_size_fails_instantiation(backend_name: str) -> None:
    mod = backend(backend_name)
    engine = Engine()
    store = Store(engine)
    store.set_limits(memory_size=ONE_MIB)
    with pytest.raises(WasmtimeError):
        instantiate(mod, engine, store, guest("(result u32)", "(result i32)", "(i32.const 1)", memory_pages=17))
    # The store is not poisoned by a failed instantiation.
    assert instantiate(mod, engine, store, BYSTANDER).get_func(store, "add")(store, 1, 2) == 3
