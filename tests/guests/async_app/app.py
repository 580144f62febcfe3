"""Async guest for issue #12 (built with componentize-py 0.25 at test time): async exports
(callback ABI) that await coroutines and the async import `host-add`, a stream<u32>, a
future<string>, a stream<u8> consumer and producer, and a sync export.

Every result is a pure function of the arguments (and of `host-add`), so the host test can
compute it independently.
"""

import asyncio

import componentize_py_async_support
import wit_world
from componentize_py_async_support.futures import FutureReader
from componentize_py_async_support.streams import ByteStreamReader, StreamReader
from wit_world import exports


async def _plus_b(x: int, b: int) -> int:
    # A plain coroutine between the export and the import, with a yield to the loop first.
    await asyncio.sleep(0)
    return await wit_world.host_add(x, b)


async def _produce(writer, n: int) -> int:
    """Write 0..n-1 one element per write; return how many the reader took."""
    delivered = 0
    with writer:
        for i in range(n):
            if await writer.write([i]) == 0:
                break
            delivered += 1
    return delivered


class Api(exports.Api):
    async def add_twice(self, a: int, b: int) -> int:
        first = await wit_world.host_add(a, b)
        second = await _plus_b(first, b)
        left, right = await asyncio.gather(wit_world.host_add(a, 1), wit_world.host_add(b, 1))
        return (second + left - right + b) & 0xFFFFFFFF

    async def count(self, n: int) -> StreamReader[int]:
        writer, reader = wit_world.u32_stream()

        async def run() -> None:
            await _produce(writer, n)

        componentize_py_async_support.spawn(run())
        return reader

    async def count_reported(self, n: int) -> tuple[StreamReader[int], FutureReader[int]]:
        writer, reader = wit_world.u32_stream()
        report_writer, report_reader = wit_world.u32_future(lambda: 0)

        async def run() -> None:
            delivered = await _produce(writer, n)
            await report_writer.write(delivered)

        componentize_py_async_support.spawn(run())
        return reader, report_reader

    async def greet_later(self, name: str) -> FutureReader[str]:
        writer, reader = wit_world.string_future(lambda: "")

        async def run() -> None:
            await asyncio.sleep(0)
            await writer.write(f"Hello, {name}!")

        componentize_py_async_support.spawn(run())
        return reader

    async def sum_bytes(self, data: ByteStreamReader) -> int:
        total = 0
        with data:
            while not data.writer_dropped:
                total += sum(await data.read(4096))
        return total

    async def sum_own(self, data: bytes) -> int:
        writer, reader = wit_world.byte_stream()

        async def run() -> None:
            with writer:
                await writer.write_all(data)

        componentize_py_async_support.spawn(run())
        return await self.sum_bytes(reader)

    async def echo_bytes(self, data: bytes, chunk: int) -> ByteStreamReader:
        writer, reader = wit_world.byte_stream()
        step = max(chunk, 1)

        async def run() -> None:
            with writer:
                for start in range(0, len(data), step):
                    await writer.write_all(data[start : start + step])

        componentize_py_async_support.spawn(run())
        return reader

    def describe(self, values: list[int]) -> str:
        return f"{len(values)}:{sum(values)}:{max(values, default=0)}"
