"""A componentize-py 0.25 guest under asyncio (issue #13, acceptance "A componentize-py guest").

The guest is ``tests/guests/async_app`` (built at test time, see ``test_async_guest.py``):
its ``add-twice`` awaits the ``async func`` import ``host-add``, here a Python ``async def``
that sleeps; ``count`` returns a ``stream<u32>``, ``greet-later`` a ``future<string>``,
``sum-bytes`` takes a ``stream<u8>``.  Everything is called with ``await call_async``, and
streams are read with ``async for`` / ``await``, from one event loop.

componentize-py 0.25's runtime does not handle a task cancellation yet (its callback
raises ``NotImplementedError`` on the event): cancellation is tested on a WAT guest in
``test_asyncio.py``.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, AsyncIterator

import pytest
import wasmtime

import wasi_guests
from wasmcomponent import Component, FutureReader, Linker, StreamReader
from wasmcomponent.wasi import WasiConfig

API = "wasmcomponent-test:async-app/api"
MASK = 0xFFFF_FFFF


class SleepingAdd:
    """``host-add``: an ``async def`` that sleeps before answering, counting calls in flight."""

    def __init__(self, seconds: float = 0.001) -> None:
        self.seconds = seconds
        self.in_flight = 0
        self.most_in_flight = 0
        self.calls = 0

    async def __call__(self, _store: Any, a: int, b: int) -> int:
        self.calls += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.in_flight -= 1
        return (a + b) & MASK


async def instantiate(guest: tuple[wasmtime.Engine, Component], host_add: Any) -> tuple[wasmtime.Store, Any]:
    engine, component = guest
    store = wasmtime.Store(engine)
    store.set_wasi(WasiConfig())
    linker = Linker(engine)
    linker.add_wasip2()
    with linker.root() as root:
        root.add_func("host-add", host_add)
    return store, await linker.instantiate_async(store, component)


@pytest.fixture(scope="module")
def guest() -> tuple[wasmtime.Engine, Component]:
    """The engine and the async_app component (built once, cached)."""
    engine = wasi_guests.engine()
    return engine, Component.from_file(engine, str(wasi_guests.build("async_app")))


def api(store: wasmtime.Store, instance: Any, name: str) -> Any:
    iface = instance.get_export_index(store, API)
    index = instance.get_export_index(store, name, iface)
    assert index is not None, name
    return instance.get_func(store, index)


def test_async_export_awaits_an_async_def_host_function(guest: tuple[wasmtime.Engine, Component]) -> None:
    host = SleepingAdd()

    async def main() -> list[int]:
        store, instance = await instantiate(guest, host)
        add_twice = api(store, instance, "add-twice")
        return [await add_twice.call_async(store, a, b) for a, b in ((1, 2), (MASK, 7), (123456, 654321))]

    assert asyncio.run(main()) == [(2 * a + 2 * b) & MASK for a, b in ((1, 2), (MASK, 7), (123456, 654321))]
    assert host.calls == 3 * 4


def test_concurrent_calls_share_the_host_sleep(guest: tuple[wasmtime.Engine, Component]) -> None:
    """Fifty calls under one gather: their host sleeps overlap (they are not run one by one)."""
    host = SleepingAdd(seconds=0.01)

    async def main() -> list[int]:
        store, instance = await instantiate(guest, host)
        add_twice = api(store, instance, "add-twice")
        return await asyncio.gather(*(add_twice.call_async(store, i, 1) for i in range(50)))

    assert asyncio.run(main()) == [(2 * i + 2) & MASK for i in range(50)]
    assert host.most_in_flight >= 50  # every call's first host-add was pending at once


@pytest.mark.parametrize("n", [0, 1, 100, 5000])
def test_async_for_over_a_returned_stream(guest: tuple[wasmtime.Engine, Component], n: int) -> None:
    async def main() -> list[int]:
        store, instance = await instantiate(guest, SleepingAdd())
        reader = await api(store, instance, "count").call_async(store, n)
        assert isinstance(reader, StreamReader)
        return [x async for x in reader]

    assert asyncio.run(main()) == list(range(n))


def test_await_a_returned_future(guest: tuple[wasmtime.Engine, Component]) -> None:
    async def main() -> list[str]:
        store, instance = await instantiate(guest, SleepingAdd())
        greet_later = api(store, instance, "greet-later")
        values = []
        for name in ("world", "", "ünïcødé ✓"):
            future = await greet_later.call_async(store, name)
            assert isinstance(future, FutureReader)
            values.append(await future)
        return values

    assert asyncio.run(main()) == ["Hello, world!", "Hello, !", "Hello, ünïcødé ✓!"]


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[start : start + size]


async def single_bytes(data: bytes) -> AsyncIterator[int]:
    for byte in data:
        yield byte


@pytest.mark.parametrize("size", [0, 1, 10_000, 200_000])
def test_stream_u8_parameter_from_bytes_and_async_generators(
    guest: tuple[wasmtime.Engine, Component], size: int
) -> None:
    data = random.Random(size).randbytes(size)

    async def main() -> list[int]:
        store, instance = await instantiate(guest, SleepingAdd())
        sum_bytes = api(store, instance, "sum-bytes")
        sums = [
            await sum_bytes.call_async(store, data),
            await sum_bytes.call_async(store, bytearray(data)),
            await sum_bytes.call_async(store, memoryview(data)),
            await sum_bytes.call_async(store, chunks_of(data, 4096)),
        ]
        if size <= 10_000:
            sums.append(await sum_bytes.call_async(store, single_bytes(data)))
        return sums

    sums = asyncio.run(main())
    assert sums == [sum(data)] * len(sums)


def test_a_stream_from_one_call_feeds_another(guest: tuple[wasmtime.Engine, Component]) -> None:
    """A StreamReader the host holds can be passed on to a guest that expects a stream<u8>."""
    data = bytes(range(256)) * 300

    async def main() -> int:
        store, instance = await instantiate(guest, SleepingAdd())
        reader = await api(store, instance, "echo-bytes").call_async(store, data, 1000)
        return await api(store, instance, "sum-bytes").call_async(store, reader)  # type: ignore[no-any-return]

    assert asyncio.run(main()) == sum(data)
