"""The fast paths of async calls from the host (issue #12, speed targets).

``lift_now`` makes the first core call of a host call directly and recycles
the task and implicit thread of a call it completed; these tests check that
nothing of one call shows through in the next (context slots, results,
cancellation, a call that goes on as an ordinary thread), and that the async
forms of the stream built-ins, now plain host functions, behave as before.
"""

from __future__ import annotations

import pytest
import wasmtime

from wasmcomponent import Component, ComponentTrap, Linker
from wasmcomponent.concurrent.tasks import FINISHED, Task

# `swap(x)`: sets context slot 0 to x and returns what it held (0 in a fresh thread).
# `twice(x)`: yields once (callback), then returns x + 1.
# `none()`: returns EXIT without task.return (a trap).
CONTEXT = r"""
(component
  (core module $m
    (import "" "context.get" (func $get (result i32)))
    (import "" "context.set" (func $set (param i32)))
    (import "" "task.return" (func $ret (param i32)))
    (global $x (mut i32) (i32.const 0))
    (func (export "swap") (param $x i32) (result i32)
      (call $ret (call $get))
      (call $set (local.get $x))
      (i32.const 0))
    (func (export "twice") (param $x i32) (result i32)
      (global.set $x (local.get $x))
      (call $set (i32.const 7))
      (i32.const 1))
    (func (export "twice-cb") (param i32 i32 i32) (result i32)
      (call $ret (i32.add (global.get $x) (call $get)))
      (i32.const 0))
    (func (export "none") (result i32) (i32.const 0)))
  (core func $get (canon context.get i32 0))
  (core func $set (canon context.set i32 0))
  (core func $ret (canon task.return (result u32)))
  (core instance $i (instantiate $m (with "" (instance
    (export "context.get" (func $get))
    (export "context.set" (func $set))
    (export "task.return" (func $ret))))))
  (func (export "swap") async (param "x" u32) (result u32)
    (canon lift (core func $i "swap") async (callback (core func $i "twice-cb"))))
  (func (export "twice") async (param "x" u32) (result u32)
    (canon lift (core func $i "twice") async (callback (core func $i "twice-cb"))))
  (func (export "none") async (result u32)
    (canon lift (core func $i "none") async (callback (core func $i "twice-cb")))))
"""


def _instance(wat: str) -> tuple[wasmtime.Store, object]:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    return store, Linker(engine).instantiate(store, Component(engine, wat))


def test_recycled_thread_starts_with_zeroed_context() -> None:
    store, instance = _instance(CONTEXT)
    swap = instance.get_func(store, "swap")
    assert [swap(store, v) for v in (5, 6, 7)] == [0, 0, 0]


def test_a_call_that_yields_is_an_ordinary_thread_and_the_next_one_is_fresh() -> None:
    store, instance = _instance(CONTEXT)
    twice, swap = instance.get_func(store, "twice"), instance.get_func(store, "swap")
    assert twice(store, 10) == 17  # the yielding thread kept its own slot across the yield
    assert swap(store, 3) == 0
    assert twice(store, 1) == 8
    assert swap(store, 4) == 0


def test_missing_task_return_still_traps() -> None:
    store, instance = _instance(CONTEXT)
    with pytest.raises(ComponentTrap, match="async-lifted export failed to produce a result"):
        instance.get_func(store, "none")(store)


def test_finished_is_a_resolved_task_that_ignores_cancellation() -> None:
    assert FINISHED.state == Task.RESOLVED
    FINISHED.request_cancellation(None)
    assert FINISHED.state == Task.RESOLVED


# One write of `n` bytes into a stream, read back in chunks by the same
# instance with async reads; an async cancel of a read that has nothing to read.
STREAMS = r"""
(component
  (core module $Memory (memory (export "mem") 1))
  (core instance $memory (instantiate $Memory))
  (core module $m
    (import "" "mem" (memory 1))
    (import "" "stream.new" (func $new (result i64)))
    (import "" "stream.read" (func $read (param i32 i32 i32) (result i32)))
    (import "" "stream.write" (func $write (param i32 i32 i32) (result i32)))
    (import "" "stream.cancel-read" (func $cancel-read (param i32) (result i32)))
    (import "" "task.return" (func $ret (param i32)))
    (func (export "run") (result i32) (local $rw i64) (local $r i32) (local $w i32) (local $acc i32)
      (local.set $rw (call $new))
      (local.set $r (i32.wrap_i64 (local.get $rw)))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $rw) (i64.const 32))))
      ;; a read with no writer blocks; cancelling it reports CANCELLED (2) with no progress
      (if (i32.ne (call $read (local.get $r) (i32.const 100) (i32.const 4)) (i32.const -1)) (then unreachable))
      (local.set $acc (call $cancel-read (local.get $r)))
      ;; a write of 8 bytes blocks; two reads of 4 complete ((4 << 4) | COMPLETED)
      (i32.store (i32.const 0) (i32.const 0x04030201))
      (i32.store (i32.const 4) (i32.const 0x08070605))
      (if (i32.ne (call $write (local.get $w) (i32.const 0) (i32.const 8)) (i32.const -1)) (then unreachable))
      (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 1000))
                               (call $read (local.get $r) (i32.const 200) (i32.const 4))))
      (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 1000))
                               (call $read (local.get $r) (i32.const 204) (i32.const 4))))
      (call $ret (i32.add (local.get $acc) (i32.load (i32.const 204))))
      (i32.const 0))
    (func (export "cb") (param i32 i32 i32) (result i32) unreachable))
  (type $S (stream u8))
  (core func $new (canon stream.new $S))
  (core func $read (canon stream.read $S async (memory (core memory $memory "mem"))))
  (core func $write (canon stream.write $S async (memory (core memory $memory "mem"))))
  (core func $cancel-read (canon stream.cancel-read $S async))
  (core func $ret (canon task.return (result u32)))
  (core instance $i (instantiate $m (with "" (instance
    (export "mem" (memory $memory "mem"))
    (export "stream.new" (func $new))
    (export "stream.read" (func $read))
    (export "stream.write" (func $write))
    (export "stream.cancel-read" (func $cancel-read))
    (export "task.return" (func $ret))))))
  (func (export "run") async (result u32)
    (canon lift (core func $i "run") async (callback (core func $i "cb")))))
"""


def test_async_stream_builtins_complete_block_and_cancel_at_once() -> None:
    store, instance = _instance(STREAMS)
    run = instance.get_func(store, "run")
    expected = ((2 * 1000 + 0x40) * 1000 + 0x40) + 0x08070605
    assert run(store) == expected
    assert run(store) == expected


# ------------------------------------------------------------------ scalar lowering


def _bits(value: object, core: str) -> object:
    """The core value as the core call stores it (an i32/i64 keeps its low bits)."""
    if core == "i32" and isinstance(value, int):
        return value & 0xFFFFFFFF
    if core == "i64" and isinstance(value, int):
        return value & 0xFFFFFFFFFFFFFFFF
    return value


SCALARS = ("bool", "u8", "s8", "u16", "s16", "u32", "s32", "u64", "s64", "f32", "f64")
CORE = {"u64": "i64", "s64": "i64", "f32": "f32", "f64": "f64"}
VALUES: tuple[object, ...] = (
    0, 1, -1, 127, 128, -129, 255, 256, 65535, -32769, 2**31, 2**32 - 1, 2**32, 2**63, -(2**63) - 1,
    1.5, -0.0, float("inf"), float("nan"), True, False, None, "1", 3.0,
)


@pytest.mark.parametrize("name", SCALARS)
def test_scalar_lowerer_matches_the_compiled_lowering(name: str) -> None:
    from wasmcomponent.abi.compile import compile_func
    from wasmcomponent.concurrent.tasks import scalar_lowerer
    from wasmcomponent.types import model

    params = (("x", model.PrimType(name)), ("y", model.PrimType("u32")))
    compiled = compile_func(model.FuncType(params, None), lift_async=True).lower_params
    fast = scalar_lowerer(params)
    assert fast is not None
    core = CORE.get(name, "i32")
    for value in VALUES:
        try:
            want: object = [_bits(v, c) for v, c in zip(compiled(None, (value, 7)), (core, "i32"), strict=True)]
        except (TypeError, ValueError) as err:
            with pytest.raises(type(err)) as got:
                fast(None, (value, 7))
            assert str(got.value) == str(err)
            continue
        result = [_bits(v, c) for v, c in zip(fast(None, (value, 7)), (core, "i32"), strict=True)]
        assert repr(result) == repr(want), value


def test_scalar_lowerer_refuses_spills_and_non_scalars() -> None:
    from wasmcomponent.concurrent.tasks import scalar_lowerer
    from wasmcomponent.types import model

    assert scalar_lowerer(()) is not None
    assert scalar_lowerer(()).__call__(None, ()) == ()  # type: ignore[union-attr]
    assert scalar_lowerer([(f"p{i}", model.PrimType("u8")) for i in range(17)]) is None
    assert scalar_lowerer([("s", model.STRING)]) is None


# A copy after the memory grew (and may have moved): the pending side's view
# is taken afresh.  `run(grow_first_side)`: side 0 writes first, side 1 reads first.
GROWING = r"""
(component
  (core module $Memory (memory (export "mem") 1))
  (core instance $memory (instantiate $Memory))
  (core module $m
    (import "" "mem" (memory 1))
    (import "" "stream.new" (func $new (result i64)))
    (import "" "stream.read" (func $read (param i32 i32 i32) (result i32)))
    (import "" "stream.write" (func $write (param i32 i32 i32) (result i32)))
    (import "" "task.return" (func $ret (param i32)))
    (func (export "run") (param $read-first i32) (result i32) (local $rw i64) (local $r i32) (local $w i32) (local $got i32)
      (local.set $rw (call $new))
      (local.set $r (i32.wrap_i64 (local.get $rw)))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $rw) (i64.const 32))))
      (i32.store (i32.const 0) (i32.const 0x44332211))
      (if (local.get $read-first)
        (then
          (if (i32.ne (call $read (local.get $r) (i32.const 64) (i32.const 4)) (i32.const -1)) (then unreachable))
          (drop (memory.grow (i32.const 64)))
          (local.set $got (call $write (local.get $w) (i32.const 0) (i32.const 4))))
        (else
          (if (i32.ne (call $write (local.get $w) (i32.const 0) (i32.const 4)) (i32.const -1)) (then unreachable))
          (drop (memory.grow (i32.const 64)))
          (local.set $got (call $read (local.get $r) (i32.const 64) (i32.const 4)))))
      (if (i32.ne (local.get $got) (i32.const 0x40)) (then unreachable))  ;; 4 elements, COMPLETED
      (call $ret (i32.load (i32.const 64)))
      (i32.const 0))
    (func (export "cb") (param i32 i32 i32) (result i32) unreachable))
  (type $S (stream u8))
  (core func $new (canon stream.new $S))
  (core func $read (canon stream.read $S async (memory (core memory $memory "mem"))))
  (core func $write (canon stream.write $S async (memory (core memory $memory "mem"))))
  (core func $ret (canon task.return (result u32)))
  (core instance $i (instantiate $m (with "" (instance
    (export "mem" (memory $memory "mem"))
    (export "stream.new" (func $new))
    (export "stream.read" (func $read))
    (export "stream.write" (func $write))
    (export "task.return" (func $ret))))))
  (func (export "run") async (param "read-first" u32) (result u32)
    (canon lift (core func $i "run") async (callback (core func $i "cb")))))
"""


@pytest.mark.parametrize("read_first", [0, 1])
def test_stream_copy_after_the_memory_grew(read_first: int) -> None:
    store, instance = _instance(GROWING)
    run = instance.get_func(store, "run")
    assert run(store, read_first) == 0x44332211
    assert run(store, read_first) == 0x44332211
