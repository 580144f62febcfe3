"""Tests of ``wasmcomponent._engine``: raw calls, host functions, traps, memory, store state."""

from __future__ import annotations

import gc
import math
import struct
import sys
import types
import weakref
from typing import Any

import pytest
import wasmtime

try:
    import wasmcomponent  # noqa: F401
except ImportError:  # pragma: no cover - the package façade is still being assembled
    # Load only the subpackages under test when the top-level __init__ cannot import yet.
    for _name in [n for n in sys.modules if n.startswith("wasmcomponent")]:
        del sys.modules[_name]
    _pkg = types.ModuleType("wasmcomponent")
    _pkg.__path__ = [str(__import__("pathlib").Path(__file__).parents[1] / "src" / "wasmcomponent")]
    sys.modules["wasmcomponent"] = _pkg

from wasmcomponent._engine import (
    GuestMemory,
    RawFunc,
    exports_by_name,
    instantiate,
    is_text,
    make_host_func,
    module_exports,
    module_imports,
    store_key,
    store_state,
    take_pending,
    wat_to_wasm,
)
from wasmcomponent.errors import ComponentTrap, TrapCode
from wasmcomponent.types.model import CoreFuncType

NUMERIC_WAT = """(module
  (func (export "id_i32") (param i32) (result i32) local.get 0)
  (func (export "id_i64") (param i64) (result i64) local.get 0)
  (func (export "id_f32") (param f32) (result f32) local.get 0)
  (func (export "id_f64") (param f64) (result f64) local.get 0)
  (func (export "add_i32") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "add_i64") (param i64 i64) (result i64) local.get 0 local.get 1 i64.add)
  (func (export "swap4") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    local.get 3 local.get 2 local.get 1 local.get 0)
  (func (export "nothing"))
  (func (export "unreachable") unreachable)
  (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
  (func (export "spin") (loop $l br $l))
)"""


def f32(value: float) -> float:
    """Round a Python float to the nearest f32."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def instance_exports(
    store: wasmtime.Store, wat: str, imports: list[Any] | None = None
) -> dict[str, Any]:
    module = wasmtime.Module(store.engine, wat)
    return exports_by_name(instantiate(store, module, imports or []), store)


@pytest.fixture
def store() -> wasmtime.Store:
    return wasmtime.Store()


@pytest.fixture
def numeric(store: wasmtime.Store) -> dict[str, RawFunc]:
    return {name: RawFunc(store, ext) for name, ext in instance_exports(store, NUMERIC_WAT).items()}


# --- text ------------------------------------------------------------------


def test_wat_to_wasm_module_and_component() -> None:
    assert wat_to_wasm("(module)") == b"\0asm\x01\0\0\0"
    component = wat_to_wasm(b"(component)")
    assert (
        isinstance(component, bytes)
        and component.startswith(b"\0asm")
        and component[4:8] != b"\x01\0\0\0"
    )
    with pytest.raises(wasmtime.WasmtimeError):
        wat_to_wasm("(module (func (export)))")


def test_is_text() -> None:
    assert is_text("(module)") and is_text(b"  (component)")
    assert not is_text(wat_to_wasm("(module)")) and not is_text(bytearray(b"\0asm\x0d\0\x01\0"))


# --- raw calls -------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (0, 0),
        (1, 1),
        (-1, -1),
        (2**31 - 1, 2**31 - 1),
        (2**31, -(2**31)),
        (2**32 - 1, -1),
        (2**32 + 5, 5),
    ],
)
def test_i32_masked_in_signed_out(numeric: dict[str, RawFunc], value: int, expected: int) -> None:
    assert numeric["id_i32"](value) == expected


@pytest.mark.parametrize(
    "value, expected", [(-1, -1), (2**63, -(2**63)), (2**64 - 1, -1), (2**64 + 7, 7)]
)
def test_i64_masked_in_signed_out(numeric: dict[str, RawFunc], value: int, expected: int) -> None:
    assert numeric["id_i64"](value) == expected


def test_integer_wraparound(numeric: dict[str, RawFunc]) -> None:
    assert numeric["add_i32"](2**31 - 1, 1) == -(2**31)
    assert numeric["add_i32"](-1, -1) == -2
    assert numeric["add_i32"](2**32 - 1, 2) == 1
    assert numeric["add_i64"](2**63 - 1, 1) == -(2**63)
    assert numeric["add_i64"](-5, 3) & (2**64 - 1) == 2**64 - 2


def test_floats(numeric: dict[str, RawFunc]) -> None:
    assert numeric["id_f32"](1.5) == 1.5
    assert numeric["id_f32"](0.1) == f32(0.1) != 0.1
    assert numeric["id_f32"](1e300) == math.inf  # rounds like C, no OverflowError
    assert math.isnan(numeric["id_f32"](math.nan))
    assert numeric["id_f64"](0.1) == 0.1
    assert numeric["id_f64"](-math.inf) == -math.inf
    assert numeric["id_f64"](3) == 3.0


def test_result_shapes(numeric: dict[str, RawFunc]) -> None:
    assert numeric["nothing"]() is None
    assert numeric["swap4"](-1, 2**64 - 1, 2.5, 1e300) == (1e300, 2.5, -1, -1)
    assert numeric["swap4"].type == CoreFuncType(
        ("i32", "i64", "f32", "f64"), ("f64", "f32", "i64", "i32")
    )
    assert numeric["swap4"].call(1, 2, 3.0, 4.0) == (4.0, 3.0, 2, 1)


def test_argument_errors(numeric: dict[str, RawFunc]) -> None:
    with pytest.raises(TypeError):
        numeric["add_i32"](1)
    with pytest.raises(TypeError):
        numeric["add_i32"](1, 2, 3)
    with pytest.raises(TypeError):
        numeric["id_i32"]("1")
    with pytest.raises(TypeError):
        numeric["id_i32"](1.0)
    assert numeric["add_i32"](1, 2) == 3  # still usable


def test_rawfunc_rejects_other_store(store: wasmtime.Store) -> None:
    other = wasmtime.Store(store.engine)
    func = instance_exports(other, NUMERIC_WAT)["id_i32"]
    with pytest.raises(ValueError, match="different store"):
        RawFunc(store, func)
    with pytest.raises(TypeError):
        RawFunc(store, object())  # type: ignore[arg-type]


def test_rawfunc_after_store_freed() -> None:
    store = wasmtime.Store()
    func = RawFunc(store, instance_exports(store, NUMERIC_WAT)["id_i32"])
    assert func(7) == 7
    memory = GuestMemory(store, instance_exports(store, MEMORY_WAT)["memory"])
    del store
    gc.collect()
    with pytest.raises(ValueError, match="freed"):
        func(7)
    with pytest.raises(ValueError, match="freed"):
        memory.view()


# --- traps -----------------------------------------------------------------


def test_trap_code_and_message_match_wasmtime(store: wasmtime.Store) -> None:
    exports = instance_exports(store, NUMERIC_WAT)
    with pytest.raises(wasmtime.Trap) as reference:
        exports["unreachable"](store)
    with pytest.raises(ComponentTrap) as ours:
        RawFunc(store, exports["unreachable"])()
    assert ours.value.trap_code is TrapCode.UNREACHABLE
    assert str(ours.value) == str(reference.value)
    assert str(ours.value).startswith("error while executing at wasm backtrace:\n")
    assert "Caused by:\n    wasm trap: wasm `unreachable` instruction executed" in str(ours.value)


def test_division_trap(numeric: dict[str, RawFunc]) -> None:
    with pytest.raises(ComponentTrap) as info:
        numeric["div"](1, 0)
    assert info.value.trap_code is TrapCode.INTEGER_DIVISION_BY_ZERO
    assert "integer divide by zero" in str(info.value)
    with pytest.raises(ComponentTrap) as info:
        numeric["div"](-(2**31), -1)
    assert info.value.trap_code is TrapCode.INTEGER_OVERFLOW
    assert numeric["div"](7, 2) == 3


def test_fuel_exhaustion_is_a_trap() -> None:
    config = wasmtime.Config()
    config.consume_fuel = True
    store = wasmtime.Store(wasmtime.Engine(config))
    store.set_fuel(10_000)
    spin = RawFunc(store, instance_exports(store, NUMERIC_WAT)["spin"])
    with pytest.raises(ComponentTrap) as info:
        spin()
    assert info.value.trap_code is TrapCode.OUT_OF_FUEL
    assert "all fuel consumed" in str(info.value)


def test_epoch_interrupt_is_a_trap() -> None:
    config = wasmtime.Config()
    config.epoch_interruption = True
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    store.set_epoch_deadline(1)
    spin = RawFunc(store, instance_exports(store, NUMERIC_WAT)["spin"])
    engine.increment_epoch()
    with pytest.raises(ComponentTrap) as info:
        spin()
    assert info.value.trap_code is TrapCode.INTERRUPT


def test_exit_is_a_wasmtime_error(store: wasmtime.Store) -> None:
    linker = wasmtime.Linker(store.engine)
    linker.define_wasi()
    store.set_wasi(wasmtime.WasiConfig())
    module = wasmtime.Module(
        store.engine,
        """(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory (export "memory") 1)
             (func (export "run") i32.const 3 call $exit))""",
    )
    run_export = linker.instantiate(store, module).exports(store)["run"]
    assert isinstance(run_export, wasmtime.Func)
    run = RawFunc(store, run_export)
    with pytest.raises(wasmtime.ExitTrap) as info:
        run()
    assert info.value.code == 3
    assert not isinstance(info.value, ComponentTrap)


# --- host functions --------------------------------------------------------

CALLER_WAT = """(module
  (import "host" "f" (func $f (param i32 i64 f32 f64) (result i32 i64 f32 f64)))
  (import "host" "g" (func $g))
  (func (export "call_f") (param i32 i64 f32 f64) (result i32 i64 f32 f64)
    local.get 0 local.get 1 local.get 2 local.get 3 call $f)
  (func (export "call_g") call $g)
)"""


def host_pair(store: wasmtime.Store, f: Any, g: Any, **kwargs: Any) -> dict[str, RawFunc]:
    host_f = make_host_func(
        store, ["i32", "i64", "f32", "f64"], ["i32", "i64", "f32", "f64"], f, **kwargs
    )
    host_g = make_host_func(store, [], [], g, **kwargs)
    exports = instance_exports(store, CALLER_WAT, [host_f, host_g])
    return {name: RawFunc(store, ext) for name, ext in exports.items()}


def test_host_func_multiple_results_and_signedness(store: wasmtime.Store) -> None:
    seen: list[tuple[Any, ...]] = []

    def f(a: int, b: int, c: float, d: float) -> tuple[int, int, float, float]:
        seen.append((a, b, c, d))
        return a + 1, b * 2, c * 2, d / 2

    funcs = host_pair(store, f, lambda: None)
    assert funcs["call_f"](2**32 - 1, 2**63, 1.25, 3.0) == (0, 0, 2.5, 1.5)
    assert seen == [(-1, -(2**63), 1.25, 3.0)]  # integers arrive signed
    assert funcs["call_f"](5, -3, 0.1, 0.1) == (6, -6, f32(f32(0.1) * 2), 0.05)
    assert funcs["call_g"]() is None


def test_host_results_are_masked_and_rounded(store: wasmtime.Store) -> None:
    funcs = host_pair(store, lambda a, b, c, d: (2**32 - 1, 2**64 - 2, 1e300, -0.0), lambda: None)
    i, j, x, y = funcs["call_f"](0, 0, 0.0, 0.0)
    assert (i, j, x) == (-1, -2, math.inf) and math.copysign(1.0, y) == -1.0


def test_host_exception_propagates_unchanged(store: wasmtime.Store) -> None:
    error = KeyError("the very object")

    def g() -> None:
        raise error

    funcs = host_pair(store, lambda *a: a, g)
    with pytest.raises(KeyError) as info:
        funcs["call_g"]()
    assert info.value is error
    assert take_pending(store) is None
    # The pending slot was consumed: a later trap is a plain trap again.
    with pytest.raises(ComponentTrap):
        RawFunc(store, instance_exports(store, NUMERIC_WAT)["unreachable"])()


def test_host_component_trap_keeps_its_message(store: wasmtime.Store) -> None:
    trap = ComponentTrap("cannot leave component instance", TrapCode.CANNOT_LEAVE_COMPONENT)

    def g() -> None:
        raise trap

    with pytest.raises(ComponentTrap) as info:
        host_pair(store, lambda *a: a, g)["call_g"]()
    assert info.value is trap
    assert str(info.value) == "wasm trap: cannot leave component instance"


def test_host_wrong_results_raise(store: wasmtime.Store) -> None:
    funcs = host_pair(store, lambda *a: (1, 2), lambda: 5)
    with pytest.raises(TypeError, match="expected None"):
        funcs["call_g"]()
    with pytest.raises(ValueError):
        funcs["call_f"](0, 0, 0.0, 0.0)
    with pytest.raises(ValueError):
        make_host_func(store, ["v128"], [], lambda x: None)


def test_host_context_and_reentrancy(store: wasmtime.Store) -> None:
    keys: list[int] = []
    states: list[object] = []
    exports: dict[str, Any] = {}

    def f(
        ctx: wasmtime.StoreContext, a: int, b: int, c: float, d: float
    ) -> tuple[int, int, float, float]:
        keys.append(store_key(ctx))
        states.append(store_state(ctx, dict))
        if a > 0:  # re-enter wasm with a RawFunc built from the caller's context
            r = RawFunc(ctx, exports["call_f"])(a - 1, b, c, d)
            return r[0] + 1, r[1] + 1, r[2], r[3]
        return a, b, c, d

    host_f = make_host_func(
        store, ["i32", "i64", "f32", "f64"], ["i32", "i64", "f32", "f64"], f, with_context=True
    )
    host_g = make_host_func(store, [], [], lambda ctx: None, with_context=True)
    exports.update(instance_exports(store, CALLER_WAT, [host_f, host_g]))
    assert RawFunc(store, exports["call_f"])(3, 9, 1.0, 2.0) == (3, 12, 1.0, 2.0)
    assert keys == [store_key(store)] * 4
    assert all(s is store_state(store, dict) for s in states)
    assert RawFunc(store, exports["call_g"])() is None


def test_wasmtime_func_exception_through_rawfunc(store: wasmtime.Store) -> None:
    error = RuntimeError("from a wasmtime.Func")

    def boom() -> None:
        raise error

    host = wasmtime.Func(store, wasmtime.FuncType([], []), boom)
    module = '(module (import "" "h" (func $h)) (func (export "run") call $h))'
    run = RawFunc(store, instance_exports(store, module, [host])["run"])
    with pytest.raises(RuntimeError) as info:
        run()
    assert info.value is error


# --- instantiation and reflection -----------------------------------------


def test_instantiate_start_trap_and_host_error(store: wasmtime.Store) -> None:
    trapping = wasmtime.Module(store.engine, "(module (func $s unreachable) (start $s))")
    with pytest.raises(ComponentTrap) as info:
        instantiate(store, trapping, [])
    assert info.value.trap_code is TrapCode.UNREACHABLE

    error = OSError("start called host")

    def fail() -> None:
        raise error

    calling = wasmtime.Module(store.engine, '(module (import "" "h" (func $h)) (start $h))')
    with pytest.raises(OSError) as raised:
        instantiate(store, calling, [make_host_func(store, [], [], fail)])
    assert raised.value is error
    with pytest.raises(wasmtime.WasmtimeError):
        instantiate(store, calling, [])  # missing import


def test_module_reflection(store: wasmtime.Store) -> None:
    module = wasmtime.Module(
        store.engine,
        """(module
             (import "env" "f" (func (param i32 f64) (result i64)))
             (import "env" "mem" (memory 1 2))
             (import "env" "tab" (table 3 funcref))
             (import "env" "g" (global (mut i64)))
             (func (export "h") (param f32))
             (memory (export "m") 1)
             (global (export "c") i32 (i32.const 0)))""",
    )
    imports = [(i.module, i.name, i.type.kind) for i in module_imports(module)]
    assert imports == [
        ("env", "f", "func"),
        ("env", "mem", "memory"),
        ("env", "tab", "table"),
        ("env", "g", "global"),
    ]
    f, mem, tab, glob = module_imports(module)
    assert f.type.func == CoreFuncType(("i32", "f64"), ("i64",))
    assert mem.type.detail == (1, 2, False, False)
    assert tab.type.detail == ("funcref", 3, None)
    assert glob.type.detail == ("i64", True)
    exports = {e.name: e.type for e in module_exports(module)}
    assert exports["h"].func == CoreFuncType(("f32",), ())
    assert exports["m"].kind == "memory" and exports["c"].detail == ("i32", False)


# --- memory ----------------------------------------------------------------

MEMORY_WAT = """(module
  (memory (export "memory") 1 4)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load)
  (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
)"""


@pytest.fixture
def guest(store: wasmtime.Store) -> tuple[GuestMemory, dict[str, RawFunc]]:
    exports = instance_exports(store, MEMORY_WAT)
    funcs = {
        name: RawFunc(store, ext) for name, ext in exports.items() if isinstance(ext, wasmtime.Func)
    }
    return GuestMemory(store, exports["memory"]), funcs


def test_memory_view_read_write(guest: tuple[GuestMemory, dict[str, RawFunc]]) -> None:
    memory, funcs = guest
    view = memory.view()
    assert view.format == "B" and not view.readonly and len(view) == memory.size() == 65536
    view[16:20] = b"\x01\x02\x03\x04"
    del view
    assert funcs["load"](16) == 0x04030201
    funcs["store"](32, -2)
    assert memory.read(32, 4) == b"\xfe\xff\xff\xff"
    memory.write(100, bytearray(b"hello"))
    memory.write(105, memoryview(b"!"))
    assert memory.read(100, 6) == b"hello!" and bytes(memory.view()[100:106]) == b"hello!"
    assert memory.read(65536, 0) == b"" and memory.read(65532, 4) == b"\0\0\0\0"
    memory.write(65536, b"")


@pytest.mark.parametrize("ptr, n", [(-1, 1), (0, -1), (65533, 4), (65536, 1), (2**40, 1)])
def test_memory_bounds(guest: tuple[GuestMemory, dict[str, RawFunc]], ptr: int, n: int) -> None:
    memory, _ = guest
    with pytest.raises(ComponentTrap) as info:
        memory.read(ptr, n)
    assert str(info.value) == "wasm trap: out of bounds memory access"
    assert info.value.trap_code is TrapCode.MEMORY_OUT_OF_BOUNDS
    with pytest.raises(ComponentTrap, match="string pointer out of bounds"):
        memory.read(ptr, n, "string pointer out of bounds", TrapCode.STRING_OUT_OF_BOUNDS)
    if n >= 0:
        with pytest.raises(ComponentTrap, match="list out of bounds") as info:
            memory.write(ptr, b"x" * n, "list out of bounds")
        with pytest.raises(ComponentTrap):
            memory.check(ptr, n)


def test_memory_check(guest: tuple[GuestMemory, dict[str, RawFunc]]) -> None:
    memory, _ = guest
    assert memory.check(8, 8, 4) == 8 and memory.check(65528, 8, 8) == 65528
    with pytest.raises(ComponentTrap) as info:
        memory.check(6, 4, 4)
    assert info.value.trap_code is TrapCode.UNALIGNED_POINTER
    with pytest.raises(ComponentTrap):
        memory.check(65528, 9)


def test_memory_growth_seen_by_fresh_view(guest: tuple[GuestMemory, dict[str, RawFunc]]) -> None:
    memory, funcs = guest
    memory.write(65532, b"\xaa\xbb\xcc\xdd")
    assert funcs["grow"](2) == 1
    view = memory.view()
    assert len(view) == memory.size() == 3 * 65536
    assert bytes(view[65532:65536]) == b"\xaa\xbb\xcc\xdd"
    memory.write(3 * 65536 - 4, b"\x01\0\0\0")
    assert funcs["load"](3 * 65536 - 4) == 1
    assert funcs["grow"](5) == -1  # beyond the maximum
    with pytest.raises(ComponentTrap):
        memory.read(3 * 65536, 1)


def test_memory_rejects_other_store(store: wasmtime.Store) -> None:
    other = wasmtime.Store(store.engine)
    mem = wasmtime.Memory(other, wasmtime.MemoryType(wasmtime.Limits(1, None)))
    with pytest.raises(ValueError, match="different store"):
        GuestMemory(store, mem)


# --- store identity and state ---------------------------------------------


def test_store_key_same_for_store_context_and_caller(store: wasmtime.Store) -> None:
    keys: list[int] = []
    host = wasmtime.Func(
        store,
        wasmtime.FuncType([], []),
        lambda caller: keys.append(store_key(caller)),
        access_caller=True,
    )
    run = RawFunc(
        store,
        instance_exports(
            store, '(module (import "" "h" (func $h)) (func (export "r") call $h))', [host]
        )["r"],
    )
    run()
    make_host_func(store, [], [], lambda ctx: keys.append(store_key(ctx)), with_context=True)(store)
    assert keys == [store_key(store)] * 2
    assert store_key(store) != store_key(wasmtime.Store(store.engine))
    with pytest.raises(TypeError):
        store_key(object())  # type: ignore[arg-type]


class State:
    pass


def test_store_state_identity_and_lifetime() -> None:
    store = wasmtime.Store()
    state = store_state(store, State)
    assert store_state(store, State) is state and store_state(store, dict) is not state
    assert store_state(wasmtime.Store(), State) is not state
    seen: list[object] = []
    make_host_func(
        store, [], [], lambda ctx: seen.append(store_state(ctx, State)), with_context=True
    )(store)
    assert seen == [state]
    ref = weakref.ref(state)
    seen.clear()
    del state
    gc.collect()
    assert ref() is not None  # the store is alive, so is its state
    del store
    gc.collect()
    assert ref() is None


def test_store_state_released_on_close() -> None:
    store = wasmtime.Store()
    ref = weakref.ref(store_state(store, State))
    store.close()
    gc.collect()
    assert ref() is None


def test_same_rawfunc_reentered_from_host(store: wasmtime.Store) -> None:
    """One RawFunc (one buffer) re-entered from its own host import, with an inner trap caught."""
    shared: dict[str, RawFunc] = {}
    caught: list[TrapCode | None] = []

    def f(a: int, b: int, c: float, d: float) -> tuple[int, int, float, float]:
        if a == 0:
            return 0, b, c, d
        if a == 2:
            try:
                shared["div"](1, 0)
            except ComponentTrap as trap:
                caught.append(trap.trap_code)
        r = shared["call_f"](a - 1, b + 10, c, d)
        return r[0] + 100, r[1], r[2] + 1.0, r[3]

    shared.update(host_pair(store, f, lambda: None))
    shared["div"] = RawFunc(store, instance_exports(store, NUMERIC_WAT)["div"])
    assert shared["call_f"](3, 1, 0.5, 2.0) == (300, 31, 3.5, 2.0)
    assert caught == [TrapCode.INTEGER_DIVISION_BY_ZERO]


def test_store_context_private_pointer_name() -> None:
    """The host trampolines build ``StoreContext`` objects by setting this private attribute."""
    store = wasmtime.Store()
    context = object.__new__(wasmtime.StoreContext)
    context._StoreContext__ptr = store._context()  # type: ignore[attr-defined]
    assert context._context() is store._context() or context._context() == store._context()
    context._StoreContext__ptr = None  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="caller is no longer valid"):
        context._context()
