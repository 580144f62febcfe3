"""Tests of ``wasmcomponent._engine.fibers``: suspendable core calls on wasmtime fibers."""

from __future__ import annotations

import gc
import random
import subprocess
import sys
import types
import weakref
from typing import Any, Callable, Sequence

import pytest
import wasmtime

try:
    import wasmcomponent  # noqa: F401
except ImportError:  # pragma: no cover - another layer is mid-change: load only _engine
    for _name in [n for n in sys.modules if n.startswith("wasmcomponent")]:
        del sys.modules[_name]
    _pkg = types.ModuleType("wasmcomponent")
    _pkg.__path__ = [str(__import__("pathlib").Path(__file__).parents[1] / "src" / "wasmcomponent")]
    sys.modules["wasmcomponent"] = _pkg

from wasmcomponent._engine import RawFunc, fibers, instantiate, make_host_func, take_pending
from wasmcomponent._engine.fibers import (
    FiberCall,
    SuspensionError,
    blocking_func,
    can_suspend,
    in_fiber,
    on_fiber,
    set_async_stack_size,
)
from wasmcomponent.errors import ComponentTrap, TrapCode

# ``block`` is the blocking import; ``host`` an ordinary Python host function.
WAT = """(module
  (import "" "block" (func $block (param i32) (result i32)))
  (import "" "host" (func $host (param i32) (result i32)))
  (func $rec (param i32) (result i32) (call $rec (i32.add (local.get 0) (i32.const 1))))
  ;; run(id, n): block n times, summing what block returns
  (func (export "run") (param $id i32) (param $n i32) (result i32)
    (local $i i32) (local $sum i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $sum (i32.add (local.get $sum) (call $block (local.get $id))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $sum))
  ;; boom(id): block once, then trap
  (func (export "boom") (param $id i32) (result i32)
    (drop (call $block (local.get $id))) unreachable)
  ;; deep(id): block once, then overflow the stack
  (func (export "deep") (param $id i32) (result i32)
    (drop (call $block (local.get $id))) (call $rec (i32.const 0)))
  ;; via_host(x): call the Python host function
  (func (export "via_host") (param i32) (result i32) (call $host (local.get 0)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
)"""


class Gate:
    """A Suspension that finishes with ``value`` (or raises ``error``) once opened."""

    def __init__(self, value: Sequence[Any] | None = (0,), error: BaseException | None = None) -> None:
        self.value = value
        self.error = error
        self.open = False
        self.readies = 0

    def ready(self) -> bool:
        self.readies += 1
        return self.open

    def finish(self) -> Sequence[Any] | None:
        if self.error is not None:
            raise self.error
        return self.value


class Guest:
    """One store with WAT instantiated; ``begin`` and ``host`` are swappable."""

    def __init__(self, store: wasmtime.Store | None = None) -> None:
        self.store = store or wasmtime.Store()
        self.begin: Callable[..., Any] = lambda x: (x,)
        self.host: Callable[..., Any] = lambda x: x
        block = blocking_func(self.store, ("i32",), ("i32",), lambda *a: self.begin(*a))
        host = make_host_func(self.store, ("i32",), ("i32",), lambda *a: self.host(*a))
        module = wasmtime.Module(self.store.engine, WAT)
        self.exports = wasmtime.Instance(self.store, module, [block, host]).exports(self.store)

    def call(self, name: str, *args: int) -> FiberCall:
        func = self.exports[name]
        assert isinstance(func, wasmtime.Func)
        return FiberCall(self.store, func, args)

    def raw(self, name: str) -> RawFunc:
        func = self.exports[name]
        assert isinstance(func, wasmtime.Func)
        return RawFunc(self.store, func)


def gated(guest: Guest, gates: dict[int, Gate]) -> None:
    """Make ``block(id)`` suspend on a fresh gate per call, finishing with ``id``."""

    def begin(gid: int) -> Gate:
        gate = gates[gid] = Gate((gid,))
        return gate

    guest.begin = begin


def finish(call: FiberCall) -> tuple[Any, ...]:
    assert call.poll()
    return call.result()


# ---------------------------------------------------------------------------
# Suspension and results


def test_results_through_suspension() -> None:
    guest = Guest()
    gates: dict[int, Gate] = {}
    gated(guest, gates)
    call = guest.call("run", 7, 3)
    for _ in range(3):
        assert call.poll() is False
        assert not call.done
        gate = gates.pop(7)
        assert gate.readies == 1  # asked once right away, before suspending
        assert call.poll() is False  # still closed: polled, stays suspended
        assert gate.readies == 2
        gate.open = True
    assert call.poll() is True
    assert call.result() == (21,)
    assert call.poll() is True  # finished calls stay finished
    with pytest.raises(RuntimeError, match="has not finished"):
        guest.call("run", 1, 1).result()


def test_every_core_type_through_suspension() -> None:
    store = wasmtime.Store()
    gates: list[Gate] = []

    def begin(a: int, b: int, c: float, d: float) -> Gate:
        gates.append(Gate((d * 2, c, b + 1, -a)))
        return gates[-1]

    sig = ("i32", "i64", "f32", "f64")
    block = blocking_func(store, sig, tuple(reversed(sig)), begin)
    module = wasmtime.Module(store.engine, """(module
      (import "" "b" (func $b (param i32 i64 f32 f64) (result f64 f32 i64 i32)))
      (func (export "go") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
        (call $b (local.get 0) (local.get 1) (local.get 2) (local.get 3))))""")
    go = wasmtime.Instance(store, module, [block]).exports(store)["go"]
    assert isinstance(go, wasmtime.Func)
    call = FiberCall(store, go, (0xFFFFFFFF, 2**62, 1.5, -2.25))
    assert not call.poll()
    gates[0].open = True
    # i32 arguments arrive signed; integer results are masked then read signed.
    assert finish(call) == (-4.5, 1.5, 2**62 + 1, 1)
    # f32 overflow is rounded as C does; wrong result counts trap with a TypeError.
    gates.clear()
    call = FiberCall(store, go, (0, 0, 0.0, 1e300))
    assert not call.poll()
    gates[0].open = True
    assert finish(call)[0] == 2e300
    bad = FiberCall(store, go, (0, 0, 0.0, 0.0))
    assert not bad.poll()
    gates[0].value = (1.0,)
    gates[0].open = gates[1].open = True
    gates[1].value = (1.0, 2.0)
    with pytest.raises(TypeError, match="expected 4 core values"):
        finish(bad)


def test_completing_at_once_needs_no_suspension() -> None:
    guest = Guest()
    guest.begin = lambda x: [x * 2]
    assert finish(guest.call("run", 5, 4)) == (40,)


def test_trap_written_after_resumption() -> None:
    guest = Guest()
    gates: dict[int, Gate] = {}
    gated(guest, gates)
    # A trap raised by finish() reaches result() as the very same object.
    trap = ComponentTrap("wasm trap: scheduler says no", TrapCode.UNREACHABLE)
    call = guest.call("run", 1, 2)
    assert not call.poll()
    gates[1].error = trap
    gates[1].open = True
    assert call.poll()
    with pytest.raises(ComponentTrap) as info:
        call.result()
    assert info.value is trap
    # A wasm trap after the resumption is rendered by wasmtime, as RawFunc does.
    call = guest.call("boom", 2)
    assert not call.poll()
    gates[2].open = True
    assert call.poll()
    with pytest.raises(ComponentTrap, match="wasm `unreachable` instruction executed") as info:
        call.result()
    assert info.value.trap_code == TrapCode.UNREACHABLE
    # The store still works.
    assert finish(guest.call("add", 2, 3)) == (5,)


def test_exception_from_finish_reaches_result_unchanged() -> None:
    guest = Guest()
    gates: dict[int, Gate] = {}
    gated(guest, gates)
    error = KeyError("mine")
    call = guest.call("run", 3, 1)
    assert not call.poll()
    gates[3].error = error
    gates[3].open = True
    assert call.poll()
    for _ in range(2):  # the same object every time
        with pytest.raises(KeyError) as info:
            call.result()
        assert info.value is error
    assert guest.raw("add")(1, 2) == 3  # nothing left pending on the store


def test_exception_from_ready_traps_too() -> None:
    guest = Guest()

    class Broken:
        def ready(self) -> bool:
            raise ZeroDivisionError("ready")

        def finish(self) -> None:  # pragma: no cover - never reached
            raise AssertionError

    guest.begin = lambda x: Broken()
    call = guest.call("run", 0, 1)
    with pytest.raises(ZeroDivisionError, match="ready"):
        finish(call)


def test_trap_from_begin() -> None:
    guest = Guest()
    error = ValueError("begin failed")

    def begin(x: int) -> Any:
        raise error

    guest.begin = begin
    with pytest.raises(ValueError) as info:
        finish(guest.call("run", 0, 1))
    assert info.value is error
    # Through a RawFunc inside on_fiber it is re-raised by that RawFunc.
    with pytest.raises(ValueError) as info:
        on_fiber(guest.store, lambda: guest.raw("run")(0, 1))
    assert info.value is error
    # A wrong result type from begin traps with a TypeError.
    guest.begin = lambda x: ("nope",)
    with pytest.raises(TypeError, match="expected an integer"):
        finish(guest.call("run", 0, 1))
    guest.begin = lambda x: x  # a bare value instead of a tuple
    with pytest.raises(TypeError, match="begin returned int"):
        finish(guest.call("run", 0, 1))


def test_exception_from_an_ordinary_host_function_on_a_fiber() -> None:
    guest = Guest()
    error = LookupError("host")

    def host(x: int) -> int:
        raise error

    guest.host = host
    with pytest.raises(LookupError) as info:
        finish(guest.call("via_host", 1))
    assert info.value is error
    # A host function made by wasmtime-py parks its exception elsewhere: same outcome.
    store = guest.store
    parked = RuntimeError("parked")

    def raising() -> None:
        raise parked

    func = wasmtime.Func(store, wasmtime.FuncType([], []), raising)
    with pytest.raises(RuntimeError) as info2:
        finish(FiberCall(store, func, ()))
    assert info2.value is parked
    assert take_pending(store) is None


def test_thousands_of_interleaved_suspended_calls() -> None:
    guest = Guest()
    gates: dict[int, Gate] = {}
    gated(guest, gates)
    n, rounds = 5000, 3
    calls = {gid: guest.call("run", gid, rounds) for gid in range(n)}
    for call in calls.values():
        assert call.poll() is False
    assert len(gates) == n
    rnd = random.Random(12)
    live = list(calls)
    finished = 0
    while live:
        i = rnd.randrange(len(live))
        gid = live[i]
        gate = gates[gid]
        gate.open = rnd.random() < 0.7  # some polls find the gate still closed
        if calls[gid].poll():
            assert calls[gid].result() == (gid * rounds,)
            live[i] = live[-1]
            live.pop()
            finished += 1
        elif gate.open:
            assert gates[gid] is not gate  # suspended again on the next block
    assert finished == n


@pytest.mark.parametrize("victim", ["boom", "deep"])
def test_trap_beside_fifty_suspended(victim: str) -> None:
    guest = Guest()
    gates: dict[int, Gate] = {}
    gated(guest, gates)
    others = [guest.call("run", gid, 2) for gid in range(50)]
    assert not any(call.poll() for call in others)
    bad = guest.call(victim, 1000)
    assert not bad.poll()
    gates[1000].open = True
    assert bad.poll()
    expected = "unreachable" if victim == "boom" else "call stack exhausted"
    with pytest.raises(ComponentTrap, match=expected):
        bad.result()
    for gid, call in enumerate(others):
        while not call.poll():
            gates[gid].open = True
        assert call.result() == (2 * gid,)
    # The store is still usable: a sync call and a new suspension.
    assert guest.raw("add")(40, 2) == 42
    call = guest.call("run", 9, 1)
    assert not call.poll()
    gates[9].open = True
    assert finish(call) == (9,)


def test_stack_overflow_without_suspension_beside_suspended() -> None:
    guest = Guest()
    gates: dict[int, Gate] = {}
    gated(guest, gates)
    others = [guest.call("run", gid, 1) for gid in range(10)]
    assert not any(call.poll() for call in others)
    guest.begin = lambda x: (x,)  # the victim does not suspend
    with pytest.raises(ComponentTrap, match="call stack exhausted"):
        finish(guest.call("deep", 1))
    for gid, call in enumerate(others):
        gates[gid].open = True
        assert finish(call) == (gid,)


# ---------------------------------------------------------------------------
# Nesting and can_suspend


def test_nested_fibercall_from_a_host_callback_on_a_fiber() -> None:
    guest = Guest()
    seen: list[Any] = []

    def host(x: int) -> int:
        # Completes at once: a nested fiber inside this host callback.
        guest.begin = lambda y: (y + 1,)
        inner = guest.call("run", x, 2)
        assert inner.poll()
        seen.append(inner.result())
        # Suspends: the inner fiber stops, this host frame keeps running.
        gates: dict[int, Gate] = {}
        gated(guest, gates)
        inner = guest.call("run", x, 1)
        assert inner.poll() is False
        assert inner.poll() is False
        gates[x].open = True
        assert inner.poll() is True
        seen.append(inner.result())
        return 100

    guest.host = host
    assert finish(guest.call("via_host", 5)) == (100,)
    assert seen == [(12,), (5,)]


def test_inner_call_suspended_across_the_outer_one() -> None:
    guest = Guest()
    gates: dict[int, Gate] = {}
    inner: list[FiberCall] = []

    def host(x: int) -> int:
        gated(guest, gates)
        inner.append(guest.call("run", x, 1))
        assert inner[0].poll() is False
        return 1

    guest.host = host
    assert finish(guest.call("via_host", 4)) == (1,)
    # The inner fiber outlived its host frame and is resumed from the top.
    gates[4].open = True
    assert finish(inner[0]) == (4,)


def test_can_suspend_in_the_right_places() -> None:
    guest = Guest()
    store = guest.store
    seen: list[tuple[str, bool]] = []

    def helper() -> bool:
        return can_suspend(store)

    def begin(x: int) -> tuple[int]:
        seen.append(("begin", can_suspend(store)))
        seen.append(("helper", helper()))
        if x == 1:  # a nested sync core call from begin reaches a Python host function
            def host(y: int) -> int:
                seen.append(("host below begin", can_suspend(store)))
                return y

            guest.host = host
            guest.raw("via_host")(0)
        return (x,)

    guest.begin = begin
    assert not can_suspend(store)
    assert finish(guest.call("run", 0, 1)) == (0,)
    assert seen == [("begin", True), ("helper", True)]
    seen.clear()
    assert finish(guest.call("run", 1, 1)) == (1,)
    assert seen == [("begin", True), ("helper", True), ("host below begin", False)]

    # Below a Python host callback that made a nested core call: False.
    seen.clear()
    guest.host = lambda x: guest.raw("run")(x, 1)
    assert finish(guest.call("via_host", 2)) == (2,)
    assert seen == [("begin", False), ("helper", False)]

    # Another store's can_suspend is False inside this store's begin.
    other = wasmtime.Store()
    verdicts: list[bool] = []
    def begin_other(x: int) -> tuple[int]:
        verdicts.append(can_suspend(other))
        return (x,)

    guest.begin = begin_other
    finish(guest.call("run", 0, 1))
    assert verdicts == [False]

    # In a Suspension's ready/finish: False.
    class Asking(Gate):
        def ready(self) -> bool:
            verdicts.append(can_suspend(store))
            return True

    verdicts.clear()
    guest.begin = lambda x: Asking((x,))
    assert finish(guest.call("run", 3, 1)) == (3,)
    assert verdicts == [False]


def test_suspending_below_a_python_host_frame_is_refused() -> None:
    guest = Guest()
    gates: dict[int, Gate] = {}
    gated(guest, gates)  # suspends without asking can_suspend: the bug this catches
    guest.host = lambda x: guest.raw("run")(x, 1)
    with pytest.raises(SuspensionError, match="below a Python host frame"):
        finish(guest.call("via_host", 2))
    # The store survives and suspension still works directly.
    call = guest.call("run", 3, 1)
    assert not call.poll()
    gates[3].open = True
    assert finish(call) == (3,)


def test_blocking_func_outside_a_fiber_traps_instead_of_aborting() -> None:
    guest = Guest()
    with pytest.raises(SuspensionError, match="outside a fiber"):
        guest.raw("run")(0, 1)
    func = guest.exports["run"]
    assert isinstance(func, wasmtime.Func)
    with pytest.raises(wasmtime.WasmtimeError, match="python exception in host function"):
        func(guest.store, 0, 1)  # wasmtime-py's own call knows nothing of pending exceptions
    assert isinstance(take_pending(guest.store), SuspensionError)
    # A start function reaching it.
    store = guest.store
    block = blocking_func(store, (), (), lambda: None)
    module = wasmtime.Module(store.engine, """(module (import "" "b" (func $b))
      (func $start call $b) (start $start))""")
    with pytest.raises(SuspensionError):
        instantiate(store, module, [block])
    # Still fine afterwards, and on a fiber.
    assert finish(guest.call("run", 2, 2)) == (4,)


def test_unguarded_blocking_func() -> None:
    store = wasmtime.Store()
    gate = Gate((3,))

    def begin() -> Any:
        return gate if can_suspend(store) else (1,)

    block = blocking_func(store, (), ("i32",), begin, guard=False)
    module = wasmtime.Module(store.engine, """(module (import "" "b" (func $b (result i32)))
      (func (export "go") (result i32) call $b))""")
    go = wasmtime.Instance(store, module, [block]).exports(store)["go"]
    assert isinstance(go, wasmtime.Func)
    call = FiberCall(store, go, ())
    assert not call.poll()
    gate.open = True
    assert finish(call) == (3,)
    assert on_fiber(store, lambda: RawFunc(store, go)()) == 1
    # No guard flag was made for this store: polls write nothing.
    assert fibers._state(fibers._record(store)).flag_on is None


def test_on_fiber() -> None:
    guest = Guest()
    store = guest.store
    run = guest.raw("run")
    verdicts: list[bool] = []
    def begin(x: int) -> tuple[int]:
        verdicts.append(can_suspend(store))
        return (x * 3,)

    guest.begin = begin
    assert on_fiber(store, lambda: run(2, 2)) == 12
    assert verdicts == [False, False]
    assert not in_fiber(store)
    assert on_fiber(store, lambda: in_fiber(store))
    assert not on_fiber(store, lambda: in_fiber(wasmtime.Store()))
    # Its exception is re-raised unchanged, its value returned.
    error = OSError("fn failed")

    def failing() -> None:
        raise error

    with pytest.raises(OSError) as info:
        on_fiber(store, failing)
    assert info.value is error
    assert on_fiber(store, lambda: "value") == "value"
    # Nested: already on a fiber, fn is called directly.
    assert on_fiber(store, lambda: on_fiber(store, lambda: run(1, 1))) == 3
    # A trap from a core call inside it.
    with pytest.raises(ComponentTrap, match="unreachable"):
        on_fiber(store, lambda: guest.raw("boom")(0))
    # wasmtime refuses checked calls on a fiber; RawFunc is the way in.
    add = guest.exports["add"]
    assert isinstance(add, wasmtime.Func)
    with pytest.raises(wasmtime.WasmtimeError, match="from an async context"):
        on_fiber(store, lambda: add(store, 1, 2))
    # Suspending in there is refused.
    gates: dict[int, Gate] = {}
    gated(guest, gates)
    with pytest.raises(SuspensionError):
        on_fiber(store, lambda: run(1, 1))


# ---------------------------------------------------------------------------
# Lifetimes


def test_close_unfinished_call_then_store_works() -> None:
    guest = Guest()
    gates: dict[int, Gate] = {}
    gated(guest, gates)
    call = guest.call("run", 1, 5)
    assert not call.poll()
    call.close()
    call.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        call.poll()
    # Never polled at all.
    guest.call("run", 2, 1).close()
    # Collected while suspended.
    lost = guest.call("run", 3, 1)
    assert not lost.poll()
    del lost
    gc.collect()
    assert guest.raw("add")(1, 1) == 2
    call = guest.call("run", 4, 1)
    assert not call.poll()
    gates[4].open = True
    assert finish(call) == (4,)
    finished = guest.call("add", 1, 2)
    assert finish(finished) == (3,)
    finished.close()
    assert finished.result() == (3,)  # the outcome survives close()


def test_close_releases_the_suspension() -> None:
    guest = Guest()
    gates: dict[int, Gate] = {}
    gated(guest, gates)
    call = guest.call("run", 1, 1)
    assert not call.poll()
    gate = weakref.ref(gates.pop(1))
    assert gate() is not None  # held by the suspended call
    call.close()
    gc.collect()
    assert gate() is None


def test_store_closed_under_a_suspended_call() -> None:
    guest = Guest()
    gates: dict[int, Gate] = {}
    gated(guest, gates)
    call = guest.call("run", 1, 1)
    assert not call.poll()
    guest.store.close()
    with pytest.raises(ValueError, match="freed"):
        call.poll()
    call.close()  # the future is leaked, never deleted against the freed store
    with pytest.raises(RuntimeError, match="has not finished"):
        call.result()


def test_a_suspension_ready_at_once_does_not_suspend() -> None:
    guest = Guest()
    gate = Gate((5,))
    gate.open = True
    guest.begin = lambda x: gate
    call = guest.call("run", 0, 2)
    assert call.poll() is True
    assert call.result() == (10,)
    assert gate.readies == 2


def test_blocking_func_made_on_a_fiber() -> None:
    store = wasmtime.Store()
    made: list[wasmtime.Func] = []
    later = Gate((7,))

    def host() -> None:
        made.append(blocking_func(store, (), ("i32",), lambda: later))

    outer = make_host_func(store, (), (), host)
    call = FiberCall(store, outer, ())
    assert finish(call) == ()
    module = wasmtime.Module(store.engine, """(module (import "" "b" (func $b (result i32)))
      (func (export "go") (result i32) call $b))""")
    go = wasmtime.Instance(store, module, made).exports(store)["go"]
    assert isinstance(go, wasmtime.Func)
    call = FiberCall(store, go, ())
    assert not call.poll()
    later.open = True
    assert finish(call) == (7,)
    with pytest.raises(SuspensionError):
        RawFunc(store, go)()


def test_fuel_exhaustion_on_a_fiber() -> None:
    config = wasmtime.Config()
    config.consume_fuel = True
    store = wasmtime.Store(wasmtime.Engine(config))
    store.set_fuel(10_000)
    module = wasmtime.Module(store.engine, '(module (func (export "spin") (loop $l br $l)))')
    spin = wasmtime.Instance(store, module, []).exports(store)["spin"]
    assert isinstance(spin, wasmtime.Func)
    with pytest.raises(ComponentTrap) as info:
        finish(FiberCall(store, spin, ()))
    assert info.value.trap_code == TrapCode.OUT_OF_FUEL


def test_fuel_yield_interval_suspends_without_a_suspension() -> None:
    # An embedder's fuel (or epoch) async yield makes poll() return False with
    # no blocking function involved: polling again simply continues.
    from wasmtime import _bindings

    config = wasmtime.Config()
    config.consume_fuel = True
    store = wasmtime.Store(wasmtime.Engine(config))
    store.set_fuel(1_000_000)
    module = wasmtime.Module(store.engine, """(module (func (export "count") (param i32) (result i32) (local i32)
      (block $d (loop $l (br_if $d (i32.ge_u (local.get 1) (local.get 0)))
        (local.set 1 (i32.add (local.get 1) (i32.const 1))) (br $l)))
      local.get 1))""")
    count = wasmtime.Instance(store, module, []).exports(store)["count"]
    assert isinstance(count, wasmtime.Func)
    assert not _bindings.wasmtime_context_fuel_async_yield_interval(store._context(), 1000)
    call = FiberCall(store, count, (5000,))
    yields = 0
    while not call.poll():
        yields += 1
    assert yields > 10
    assert call.result() == (5000,)
    assert RawFunc(store, count)(7) == 7  # sync calls do not yield


def test_python_recursion_through_c_on_a_fiber() -> None:
    # Python code on a fiber runs on its 2 MiB stack (wasmtime's default
    # async_stack_size): Python -> C -> Python recursion of a few hundred
    # levels fits; about 900 levels (with a raised recursion limit) overflow
    # it and wasmtime aborts the process, so the depth here stays well below.
    store = wasmtime.Store()

    def nested(n: int) -> int:
        return 0 if n == 0 else sorted([0], key=lambda _: nested(n - 1))[0] + 1

    assert on_fiber(store, lambda: nested(200)) == 1


def test_larger_fiber_stacks_hold_deeper_recursion() -> None:
    # In a child process: with the default stack this depth aborts the process.
    script = """
import sys
import wasmtime
sys.setrecursionlimit(10_000)
from wasmcomponent._engine.fibers import on_fiber, set_async_stack_size
config = wasmtime.Config()
set_async_stack_size(config, 16 << 20)
store = wasmtime.Store(wasmtime.Engine(config))
def nested(n):
    return 0 if n == 0 else sorted([0], key=lambda _: nested(n - 1))[0] + 1
print(on_fiber(store, lambda: nested(950)))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "1"
    with pytest.raises(TypeError):
        set_async_stack_size("config", 1 << 20)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        set_async_stack_size(wasmtime.Config(), 0)


def test_close_from_inside_a_fiber_is_deferred_or_refused() -> None:
    guest = Guest()
    gates: dict[int, Gate] = {}
    gated(guest, gates)
    victim = guest.call("run", 1, 1)
    assert not victim.poll()
    outer: list[FiberCall] = []

    def host(x: int) -> int:
        victim.close()  # another call's fiber: deleted once the poll returns
        with pytest.raises(RuntimeError, match="while it is running"):
            outer[0].close()
        with pytest.raises(RuntimeError, match="already running"):
            outer[0].poll()
        return x

    guest.host = host
    outer.append(guest.call("via_host", 6))
    assert finish(outer[0]) == (6,)
    assert guest.raw("add")(2, 2) == 4


def test_a_second_store_is_unaffected() -> None:
    first, second = Guest(), Guest()
    gates: dict[int, Gate] = {}
    gated(first, gates)
    suspended = first.call("run", 1, 1)
    assert not suspended.poll()
    # The second store: sync calls, wasmtime-py's checked calls, its own fibers.
    assert second.raw("add")(2, 3) == 5
    add = second.exports["add"]
    assert isinstance(add, wasmtime.Func)
    assert add(second.store, 4, 5) == 9
    assert finish(second.call("run", 3, 2)) == (6,)
    # Reaching the second store's blocking function from the first store's fiber
    # is outside the second store's fibers: refused, not an abort.
    first.host = lambda x: second.raw("run")(x, 1)
    with pytest.raises(SuspensionError, match="outside a fiber"):
        finish(first.call("via_host", 1))
    gates[1].open = True
    assert finish(suspended) == (1,)


def test_fibercall_argument_checks() -> None:
    guest = Guest()
    other = Guest()
    add = guest.exports["add"]
    assert isinstance(add, wasmtime.Func)
    with pytest.raises(TypeError, match="expected 2 arguments"):
        FiberCall(guest.store, add, (1,))
    with pytest.raises(ValueError, match="different store"):
        FiberCall(other.store, add, (1, 2))
    with pytest.raises(TypeError, match="wasmtime.Func"):
        FiberCall(guest.store, "add", ())  # type: ignore[arg-type]
    # A Caller does not name its engine: the first blocking function needs it.
    store = wasmtime.Store()
    errors: list[BaseException] = []

    def make(caller: Any) -> None:
        try:
            blocking_func(caller, (), (), lambda: None)
        except TypeError as error:
            errors.append(error)
        blocking_func(caller, (), (), lambda: None, engine=store.engine)

    wasmtime.Func(store, wasmtime.FuncType([], []), make, access_caller=True)(store)
    assert len(errors) == 1 and "engine" in str(errors[0])
