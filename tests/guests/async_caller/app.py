"""Caller guest for issue #12 (built with componentize-py 0.25 at test time): imports
async-app's `api` and calls it guest to guest, so that a composition of the two moves stream
elements, futures and async results across a component boundary.
"""

import componentize_py_async_support
import wit_world
from componentize_py_async_support.streams import StreamReader
from wit_world.imports import api


async def _read_all(reader, batch: int) -> list:
    """Every element of `reader`, in order, read in batches of at most `batch`."""
    items: list = []
    with reader:
        while not reader.writer_dropped:
            items.extend(await reader.read(max(batch, 1)))
    return items


class WitWorld(wit_world.WitWorld):
    async def add_via(self, a: int, b: int) -> int:
        return await api.add_twice(a, b)

    async def relay_count(self, n: int) -> StreamReader[int]:
        source = await api.count(n)
        writer, reader = wit_world.u32_stream()

        async def forward() -> None:
            with source, writer:
                while not source.writer_dropped and not writer.reader_dropped:
                    chunk = await source.read(16)
                    await writer.write_all(chunk)

        componentize_py_async_support.spawn(forward())
        return reader

    async def collect_count(self, n: int, batch: int) -> list[int]:
        return await _read_all(await api.count(n), batch)

    async def take_then_drop(self, n: int, k: int) -> tuple[list[int], int]:
        source, report = await api.count_reported(n)
        taken: list[int] = []
        with source:
            while len(taken) < k and not source.writer_dropped:
                taken.extend(await source.read(1))
        # The readable end is dropped here; the callee's pending write sees DROPPED.
        return taken, await report.read()

    async def greet_via(self, name: str) -> str:
        return await (await api.greet_later(name)).read()

    async def sum_via(self, data: bytes, chunk: int) -> int:
        writer, reader = wit_world.byte_stream()
        step = max(chunk, 1)

        async def feed() -> None:
            with writer:
                for start in range(0, len(data), step):
                    await writer.write_all(data[start : start + step])

        componentize_py_async_support.spawn(feed())
        return await api.sum_bytes(reader)

    async def echo_via(self, data: bytes, chunk: int, batch: int) -> bytes:
        return bytes(await _read_all(await api.echo_bytes(data, chunk), batch))

    def describe_via(self, values: list[int]) -> str:
        return api.describe(values)
