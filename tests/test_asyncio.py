"""asyncio (issue #13): ``call_async``, ``async def`` host functions, cancellation, errors.

The guests are WAT (``asyncio_guests.py``); the componentize-py guest is in
``test_asyncio_guest.py``.  No test measures time: concurrency is shown by
counting host coroutines in flight, not by a stopwatch (the benchmark in
``benchmarks/bench_asyncio.py`` times it).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import wasmtime

from asyncio_guests import SLEEPER, SYNC_SLEEPER
from wasmcomponent import Component, ComponentTrap, Linker, StreamReader

BIG = 1000  # what the host's sleep returns


class SleepHost:
    """``sleep(ms) -> u32``: an ``async def`` that records how many calls are in flight."""

    def __init__(self, seconds_per_ms: float = 0.0) -> None:
        self.seconds_per_ms = seconds_per_ms
        self.in_flight = 0
        self.most_in_flight = 0
        self.started = asyncio.Event()
        self.cancelled = 0
        self.completed = 0
        self.fail_with: BaseException | None = None

    async def __call__(self, _store: Any, ms: int) -> int:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.started.set()
        try:
            await asyncio.sleep(ms * self.seconds_per_ms)
            if self.fail_with is not None:
                raise self.fail_with
            self.completed += 1
            return BIG
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1


def load(wat: str, host: Any) -> tuple[wasmtime.Store, Any]:
    engine = wasmtime.Engine()
    linker = Linker(engine)
    linker.root().add_func("sleep", host)
    store = wasmtime.Store(engine)
    return store, linker.instantiate(store, Component(engine, wat))


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# ------------------------------------------------------------------ results


@pytest.mark.parametrize("wat", [SLEEPER, SYNC_SLEEPER], ids=["async-export", "sync-component"])
def test_call_async_awaits_an_async_host_function(wat: str) -> None:
    host = SleepHost()
    store, instance = load(wat, host)
    work = instance.get_func(store, "work")
    assert run(work.call_async(store, 7)) == 7 + BIG
    assert host.completed == 1


@pytest.mark.parametrize("wat", [SLEEPER, SYNC_SLEEPER], ids=["async-export", "sync-component"])
def test_concurrent_calls_interleave(wat: str) -> None:
    """Every call's host coroutine is in flight at once: the calls did not run one by one."""
    host = SleepHost(seconds_per_ms=0.001)
    store, instance = load(wat, host)
    work = instance.get_func(store, "work")

    async def main() -> list[int]:
        return await asyncio.gather(*(work.call_async(store, 20 + i % 3) for i in range(200)))

    results = run(main())
    assert results == [20 + i % 3 + BIG for i in range(200)]
    assert host.most_in_flight == 200
    assert host.completed == 200


def test_a_plain_function_satisfies_an_async_import_under_call_async() -> None:
    store, instance = load(SLEEPER, lambda _store, ms: ms * 2)
    work = instance.get_func(store, "work")
    assert run(work.call_async(store, 5)) == 15
    assert work(store, 6) == 18  # and under a plain call


def test_typed_func_and_sync_functions_have_call_async() -> None:
    store, instance = load(SLEEPER, SleepHost())
    work = instance.get_func(store, "work").typed(store, [int], int)
    cancelled = instance.get_func(store, "cancelled")
    assert run(work.call_async(store, 1)) == 1 + BIG
    assert run(cancelled.call_async(store)) == 0
    with pytest.raises(TypeError, match="wrong number of parameters"):
        run(work.call_async(store))


def test_instantiate_async_is_awaitable() -> None:
    engine = wasmtime.Engine()
    linker = Linker(engine)
    linker.root().add_func_async("sleep", SleepHost())
    store = wasmtime.Store(engine)

    async def main() -> int:
        instance = await linker.instantiate_async(store, Component(engine, SLEEPER))
        return await instance.get_func(store, "work").call_async(store, 2)  # type: ignore[no-any-return]

    assert run(main()) == 2 + BIG


@pytest.mark.parametrize("wat", [SLEEPER, SYNC_SLEEPER], ids=["async-export", "sync-component"])
def test_an_async_host_function_under_a_sync_call_is_a_clear_error(wat: str) -> None:
    store, instance = load(wat, SleepHost())
    with pytest.raises(RuntimeError, match=r"host function `sleep` is an `async def`.*call_async"):
        instance.get_func(store, "work")(store, 1)


# ------------------------------------------------------------------ cancellation


def test_cancelling_the_awaiting_task_cancels_the_guest_task() -> None:
    host = SleepHost(seconds_per_ms=1.0)  # effectively forever
    store, instance = load(SLEEPER, host)
    work = instance.get_func(store, "work")
    cancelled = instance.get_func(store, "cancelled")

    async def main() -> None:
        call = asyncio.ensure_future(work.call_async(store, 1000))
        await host.started.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.sleep(0)  # the host coroutine's own cancellation runs
        assert host.cancelled == 1  # the guest cancelled its subtask: the host coroutine too
        assert await cancelled.call_async(store) == 1  # the guest saw task.cancel
        host.seconds_per_ms = 0.0
        assert await work.call_async(store, 3) == 3 + BIG  # still usable

    run(main())


def test_wait_for_times_out_a_call_and_the_instance_stays_usable() -> None:
    host = SleepHost(seconds_per_ms=1.0)
    store, instance = load(SLEEPER, host)
    work = instance.get_func(store, "work")
    cancelled = instance.get_func(store, "cancelled")

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(work.call_async(store, 1000), 0.01)
        assert await cancelled.call_async(store) == 1
        host.seconds_per_ms = 0.0
        assert await work.call_async(store, 4) == 4 + BIG

    run(main())


def test_cancelling_one_of_many_calls_leaves_the_others() -> None:
    host = SleepHost(seconds_per_ms=0.001)
    store, instance = load(SLEEPER, host)
    work = instance.get_func(store, "work")

    async def main() -> list[Any]:
        calls = [asyncio.ensure_future(work.call_async(store, 1000 if i == 3 else 5)) for i in range(8)]
        await host.started.wait()
        calls[3].cancel()
        return await asyncio.gather(*calls, return_exceptions=True)

    results = run(main())
    assert isinstance(results[3], asyncio.CancelledError)
    assert [r for i, r in enumerate(results) if i != 3] == [5 + BIG] * 7


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("wat", [SLEEPER, SYNC_SLEEPER], ids=["async-export", "sync-component"])
def test_an_exception_of_an_async_host_function_reaches_the_caller_unchanged(wat: str) -> None:
    host = SleepHost()
    error = KeyError("the host's own error")
    host.fail_with = error
    store, instance = load(wat, host)
    work = instance.get_func(store, "work")
    with pytest.raises(KeyError) as raised:
        run(work.call_async(store, 1))
    assert raised.value is error
    # As after a sync host function's exception: the store is poisoned.
    with pytest.raises(ComponentTrap, match="cannot enter component instance"):
        run(work.call_async(store, 1))


TRAPPING = r"""
(component
  (core module $M
    (func (export "boom") (result i32) unreachable)
    (func (export "cb") (param i32 i32 i32) (result i32) unreachable))
  (core instance $m (instantiate $M))
  (func (export "boom") async (canon lift (core func $m "boom") async (callback (core func $m "cb"))))
)
"""


def test_a_trap_under_call_async_is_the_sync_path_trap() -> None:
    engine = wasmtime.Engine()
    component = Component(engine, TRAPPING)
    messages = []
    for use_async in (False, True):
        store = wasmtime.Store(engine)
        boom = Linker(engine).instantiate(store, component).get_func(store, "boom")
        with pytest.raises(ComponentTrap) as raised:
            if use_async:
                run(boom.call_async(store))
            else:
                boom(store)
        messages.append(str(raised.value))
        with pytest.raises(ComponentTrap, match="cannot enter component instance"):
            run(boom.call_async(store))
    assert messages[0] == messages[1]
    assert "wasm trap: wasm `unreachable` instruction executed" in messages[0]


DEADLOCK = r"""
(component
  (core func $ws.new (canon waitable-set.new))
  (core module $M
    (import "" "ws.new" (func $ws.new (result i32)))
    (func (export "stuck") (result i32) (i32.or (i32.const 2) (i32.shl (call $ws.new) (i32.const 4))))
    (func (export "cb") (param i32 i32 i32) (result i32) unreachable))
  (core instance $m (instantiate $M (with "" (instance (export "ws.new" (func $ws.new))))))
  (func (export "stuck") async (canon lift (core func $m "stuck") async (callback (core func $m "cb"))))
)
"""


def test_a_guest_waiting_on_nothing_is_a_deadlock_not_a_hang() -> None:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    stuck = Linker(engine).instantiate(store, Component(engine, DEADLOCK)).get_func(store, "stuck")
    with pytest.raises(ComponentTrap, match="deadlock detected: event loop cannot make further progress"):
        run(stuck.call_async(store))


# ------------------------------------------------------------------ host streams


def test_an_async_iterable_is_pulled_only_as_the_reader_reads() -> None:
    """The host's async generator runs at most one chunk ahead of the reader."""
    from wasmcomponent.concurrent.host import host_stream_async
    from wasmcomponent.concurrent.scheduler import scheduler_of
    from wasmcomponent.types import model

    store = wasmtime.Store(wasmtime.Engine())
    scheduler = scheduler_of(store)
    produced: list[int] = []
    lookahead: list[int] = []

    async def producer() -> Any:
        for i in range(30):
            produced.append(i)
            yield bytes([i]) * 100

    async def main() -> bytes:
        reader: StreamReader[int] = StreamReader(host_stream_async(model.U8, producer(), scheduler), scheduler)
        data = b""
        while True:
            chunk = await reader.read(100)
            if not chunk:
                return data
            data += chunk
            lookahead.append(len(produced) - len(data) // 100)

    assert run(main()) == b"".join(bytes([i]) * 100 for i in range(30))
    assert max(lookahead) <= 1


# ------------------------------------------------------------------ the CLI


@pytest.mark.parametrize(
    "call, printed",
    [("double(21)", "42"), ("digits(5)", "[0, 1, 2, 3, 4]"), ("digits(0)", "[]")],
)
def test_cli_invokes_an_async_export_and_prints_a_stream_as_a_list(
    tmp_path: Any, call: str, printed: str
) -> None:
    import io

    from asyncio_guests import DIGITS
    from wasmcomponent.cli import run as cli_run

    path = tmp_path / "digits.wat"
    path.write_text(DIGITS)
    out = io.StringIO()
    assert cli_run(str(path), call, out, use_cache=False) == 0
    assert out.getvalue() == printed + "\n"


def test_a_wrong_python_value_raises_and_leaves_the_instance_usable() -> None:
    """As on the synchronous path: a value that does not fit is the caller's error, not a trap."""
    from asyncio_guests import DIGITS

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    double = Linker(engine).instantiate(store, Component(engine, DIGITS)).get_func(store, "double")
    with pytest.raises(TypeError, match="parameter `x`: expected `u32`"):
        double(store, "21")
    with pytest.raises(ValueError):
        run(double.call_async(store, -1))
    assert double(store, 21) == 42
    assert run(double.call_async(store, 4)) == 8
