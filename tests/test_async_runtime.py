"""The async runtime seen from the host: limits, readers, deadlock, reentrance (issue #12).

The conformance suites cover the built-ins one by one; these tests cover what
the host sees: the per-store concurrency limit, ``StreamReader`` and
``FutureReader``, host-fed streams, sync calls of async exports, and that a
trapping async guest leaves other stores alone.
"""

from __future__ import annotations

import asyncio

import pytest
import wasmtime

from wasmcomponent import (
    Component,
    ComponentTrap,
    FutureReader,
    Linker,
    StreamReader,
    concurrency_limit,
    set_concurrency_limit,
)

SPAWNER = r"""
(component
  (core module $m
    (import "" "stream.new" (func $stream.new (result i64)))
    (import "" "waitable-set.new" (func $ws.new (result i32)))
    (import "" "task.return" (func $task.return))
    (func (export "streams") (param $n i32)
      (loop $l
        (drop (call $stream.new))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $l (local.get $n)))
      (call $task.return))
    (func (export "sets") (param $n i32)
      (loop $l
        (drop (call $ws.new))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $l (local.get $n)))
      (call $task.return)))
  (type $S (stream u8))
  (core func $stream.new (canon stream.new $S))
  (core func $ws.new (canon waitable-set.new))
  (core func $task.return (canon task.return))
  (core instance $i (instantiate $m (with "" (instance
    (export "stream.new" (func $stream.new))
    (export "waitable-set.new" (func $ws.new))
    (export "task.return" (func $task.return))))))
  (func (export "streams") async (param "n" u32) (canon lift (core func $i "streams") async))
  (func (export "sets") async (param "n" u32) (canon lift (core func $i "sets") async)))
"""

PRODUCER = r"""
(component
  (core module $mem (memory (export "mem") 1))
  (core instance $mem (instantiate $mem))
  (core module $m
    (import "" "mem" (memory 1))
    (import "" "stream.new" (func $stream.new (result i64)))
    (import "" "stream.write" (func $stream.write (param i32 i32 i32) (result i32)))
    (import "" "stream.drop-writable" (func $stream.drop-writable (param i32)))
    (import "" "future.new" (func $future.new (result i64)))
    (import "" "future.write" (func $future.write (param i32 i32) (result i32)))
    (import "" "stream.read" (func $stream.read (param i32 i32 i32) (result i32)))
    (import "" "task.return-stream" (func $return-stream (param i32)))
    (import "" "task.return-future" (func $return-future (param i32)))
    (import "" "task.return-u32" (func $return-u32 (param i32)))
    ;; bytes(n): a stream<u8> of 0, 1, ..., n-1 (mod 256), written after returning
    (func (export "bytes") (param $n i32)
      (local $rw i64) (local $w i32) (local $i i32) (local $ret i32)
      (local.set $rw (call $stream.new))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $rw) (i64.const 32))))
      (call $return-stream (i32.wrap_i64 (local.get $rw)))
      (block $done (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (local.get $i) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
      ;; a sync write: the task has returned, so it may block until the host reads
      (local.set $i (i32.const 0))
      (block $end (loop $more
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $ret (call $stream.write (local.get $w) (local.get $i) (i32.sub (local.get $n) (local.get $i))))
        (br_if $end (i32.eq (i32.and (local.get $ret) (i32.const 0xf)) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.shr_u (local.get $ret) (i32.const 4))))
        (br $more)))
      (call $stream.drop-writable (local.get $w)))
    ;; answer(): a future<u32> holding 42
    (func (export "answer")
      (local $rw i64)
      (local.set $rw (call $future.new))
      (call $return-future (i32.wrap_i64 (local.get $rw)))
      (i32.store (i32.const 0) (i32.const 42))
      (drop (call $future.write (i32.wrap_i64 (i64.shr_u (local.get $rw) (i64.const 32))) (i32.const 0))))
    ;; sum(s): the sum of a stream<u8>
    (func (export "sum") (param $r i32)
      (local $ret i32) (local $sum i32) (local $k i32) (local $i i32)
      (block $end (loop $more
        (local.set $ret (call $stream.read (local.get $r) (i32.const 1024) (i32.const 1000)))
        (local.set $k (i32.shr_u (local.get $ret) (i32.const 4)))
        (local.set $i (i32.const 0))
        (block $added (loop $add
          (br_if $added (i32.ge_u (local.get $i) (local.get $k)))
          (local.set $sum (i32.add (local.get $sum) (i32.load8_u offset=1024 (local.get $i))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $add)))
        (br_if $end (i32.eq (i32.and (local.get $ret) (i32.const 0xf)) (i32.const 1)))
        (br $more)))
      (call $return-u32 (local.get $sum))))
  (type $S (stream u8))
  (type $F (future u32))
  (core func $stream.new (canon stream.new $S))
  (core func $stream.write (canon stream.write $S (memory (core memory $mem "mem"))))
  (core func $stream.read (canon stream.read $S (memory (core memory $mem "mem"))))
  (core func $stream.drop-writable (canon stream.drop-writable $S))
  (core func $future.new (canon future.new $F))
  (core func $future.write (canon future.write $F (memory (core memory $mem "mem"))))
  (core func $return-stream (canon task.return (result $S)))
  (core func $return-future (canon task.return (result $F)))
  (core func $return-u32 (canon task.return (result u32)))
  (core instance $i (instantiate $m (with "" (instance
    (export "mem" (memory $mem "mem"))
    (export "stream.new" (func $stream.new))
    (export "stream.write" (func $stream.write))
    (export "stream.read" (func $stream.read))
    (export "stream.drop-writable" (func $stream.drop-writable))
    (export "future.new" (func $future.new))
    (export "future.write" (func $future.write))
    (export "task.return-stream" (func $return-stream))
    (export "task.return-future" (func $return-future))
    (export "task.return-u32" (func $return-u32))))))
  (func (export "bytes") async (param "n" u32) (result $S) (canon lift (core func $i "bytes") async))
  (func (export "answer") async (result $F) (canon lift (core func $i "answer") async))
  (func (export "sum") async (param "s" $S) (result u32) (canon lift (core func $i "sum") async)))
"""


@pytest.fixture(scope="module")
def engine() -> wasmtime.Engine:
    return wasmtime.Engine()


def _instance(engine: wasmtime.Engine, text: str) -> tuple[wasmtime.Store, object]:
    store = wasmtime.Store(engine)
    return store, Linker(engine).instantiate(store, Component(engine, text))


def test_concurrency_limit_traps_unbounded_spawning(engine: wasmtime.Engine) -> None:
    store, instance = _instance(engine, SPAWNER)
    assert concurrency_limit(store) == 100_000
    set_concurrency_limit(store, 50)
    sets = instance.get_func(store, "sets")  # type: ignore[attr-defined]
    with pytest.raises(ComponentTrap, match="resource table has no free keys"):
        sets(store, 1_000_000)
    store2, instance2 = _instance(engine, SPAWNER)
    set_concurrency_limit(store2, 1000)
    instance2.get_func(store2, "streams")(store2, 400)  # type: ignore[attr-defined]  # 800 handles: fine
    with pytest.raises(ComponentTrap, match="resource table has no free keys"):
        instance2.get_func(store2, "streams")(store2, 400)  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        set_concurrency_limit(store2, 0)


def test_stream_reader_reads_in_order(engine: wasmtime.Engine) -> None:
    store, instance = _instance(engine, PRODUCER)
    reader = instance.get_func(store, "bytes")(store, 300)  # type: ignore[attr-defined]
    assert isinstance(reader, StreamReader)

    async def drain() -> bytes:
        parts = []
        while True:
            chunk = await reader.read(64)
            if not chunk:
                return b"".join(parts)
            assert isinstance(chunk, bytes) and len(chunk) <= 64
            parts.append(chunk)

    assert asyncio.run(drain()) == bytes(i % 256 for i in range(300))


def test_stream_reader_async_for_and_close(engine: wasmtime.Engine) -> None:
    store, instance = _instance(engine, PRODUCER)
    reader = instance.get_func(store, "bytes")(store, 10)  # type: ignore[attr-defined]

    async def collect() -> list[bytes]:
        return [chunk async for chunk in reader]  # a stream<u8> iterates by bytes chunks

    chunks = asyncio.run(collect())
    assert all(isinstance(chunk, bytes) for chunk in chunks)
    assert b"".join(chunks) == bytes(range(10))
    reader.close()
    with pytest.raises(ValueError):
        asyncio.run(reader.read(1))


def test_future_reader(engine: wasmtime.Engine) -> None:
    store, instance = _instance(engine, PRODUCER)
    future = instance.get_func(store, "answer")(store)  # type: ignore[attr-defined]
    assert isinstance(future, FutureReader)

    async def get() -> int:
        return await future  # type: ignore[no-any-return]

    assert asyncio.run(get()) == 42


@pytest.mark.parametrize("data", [b"", b"\x01", bytes(range(256)) * 9])
def test_host_bytes_as_a_stream(engine: wasmtime.Engine, data: bytes) -> None:
    store, instance = _instance(engine, PRODUCER)
    assert instance.get_func(store, "sum")(store, data) == sum(data)  # type: ignore[attr-defined]


def test_host_generator_as_a_stream(engine: wasmtime.Engine) -> None:
    store, instance = _instance(engine, PRODUCER)
    pulled: list[int] = []

    def numbers():  # type: ignore[no-untyped-def]
        for i in range(5000):
            pulled.append(i)
            yield i % 256

    assert instance.get_func(store, "sum")(store, numbers()) == sum(i % 256 for i in range(5000))  # type: ignore[attr-defined]
    assert len(pulled) == 5000


def test_reader_passed_back_to_a_guest(engine: wasmtime.Engine) -> None:
    store, instance = _instance(engine, PRODUCER)
    reader = instance.get_func(store, "bytes")(store, 200)  # type: ignore[attr-defined]
    total = instance.get_func(store, "sum")(store, reader)  # type: ignore[attr-defined]
    assert total == sum(i % 256 for i in range(200))
    with pytest.raises(ValueError):
        asyncio.run(reader.read(1))  # given away


def test_wrong_value_for_a_stream_is_a_type_error(engine: wasmtime.Engine) -> None:
    store, instance = _instance(engine, PRODUCER)
    with pytest.raises(TypeError):
        instance.get_func(store, "sum")(store, 5)  # type: ignore[attr-defined]


def test_a_trapping_async_guest_leaves_other_stores_alone(engine: wasmtime.Engine) -> None:
    good_store, good = _instance(engine, PRODUCER)
    bad_store, bad = _instance(engine, SPAWNER)
    set_concurrency_limit(bad_store, 10)
    with pytest.raises(ComponentTrap):
        bad.get_func(bad_store, "sets")(bad_store, 100)  # type: ignore[attr-defined]
    with pytest.raises(ComponentTrap, match="cannot enter component instance"):
        bad.get_func(bad_store, "sets")(bad_store, 1)  # type: ignore[attr-defined]
    assert good.get_func(good_store, "sum")(good_store, b"\x02\x03") == 5  # type: ignore[attr-defined]


@pytest.mark.parametrize("callback_type", ["(param i32 i32) (result i32)", "(param i32 i32 i32) (result i64)", "(param v128 i32 i32) (result i32)"])
def test_callback_with_a_wrong_signature_is_invalid(engine: wasmtime.Engine, callback_type: str) -> None:
    """wasmparser's rule: reaching such a callback on a fiber would abort the process in wasmtime."""
    text = f"""(component
      (core module $m
        (func (export "f") (result i32) (i32.const 0))
        (func (export "cb") {callback_type} unreachable))
      (core instance $i (instantiate $m))
      (func (export "f") async (canon lift (core func $i "f") async (callback (core func $i "cb")))))"""
    from wasmcomponent import ValidationError

    with pytest.raises(ValidationError, match="canonical option `callback` uses a core function with an incorrect signature"):
        Component(engine, text)


def test_resource_drop_of_a_waitable_set_is_a_trap(engine: wasmtime.Engine) -> None:
    """resource.drop on an index holding an async object (fuzz finding: an AttributeError escaped)."""
    text = r"""(component
      (type $R (resource (rep i32)))
      (core func $drop (canon resource.drop $R))
      (core func $ws.new (canon waitable-set.new))
      (core func $ret (canon task.return))
      (core module $m
        (import "" "drop" (func $drop (param i32)))
        (import "" "ws.new" (func $ws.new (result i32)))
        (import "" "ret" (func $ret))
        (func (export "run") (call $drop (call $ws.new)) (call $ret)))
      (core instance $i (instantiate $m (with "" (instance
        (export "drop" (func $drop)) (export "ws.new" (func $ws.new)) (export "ret" (func $ret))))))
      (func (export "run") async (canon lift (core func $i "run") async)))"""
    store, instance = _instance(engine, text)
    with pytest.raises(ComponentTrap, match="used with the wrong type"):
        instance.get_func(store, "run")(store)  # type: ignore[attr-defined]
