"""Streams and futures seen from Python: ``StreamReader``, ``FutureReader`` and host writers.

A ``stream<T>`` or ``future<T>`` that a component gives to the host (an
export's result) arrives as a :class:`StreamReader` or :class:`FutureReader`.
The host reads with ``await reader.read(n)`` (a ``list``, or ``bytes`` for
``stream<u8>``; an empty result means the writer dropped its end),
``async for item in reader`` or ``await future``; ``close()`` drops the
readable end.  Waiting runs the store's scheduler until the guest's writer
has copied something (or traps with wasmtime's deadlock message when
nothing can run): the coroutine does not give the event loop a turn yet,
so it can be driven with ``asyncio.run`` from plain synchronous code.

Where a component expects a stream, the host may pass ``bytes``,
``bytearray`` or ``memoryview`` (``stream<u8>``), any iterable, or a
``StreamReader`` it holds; where it expects a future, a plain value.  The
host side is a :class:`HostSource`: a writer that is always pending, whose
elements are taken from the iterable only as the guest reads them, one
chunk at a time, so a slow reader never makes the host buffer the whole
iterable.

Example (a component exporting ``count: async func(n: u32) -> stream<u32>``)::

    reader = count(store, 3)
    assert asyncio.run(reader.read(10)) == [0, 1, 2]
"""

from __future__ import annotations

import itertools
from typing import (
    Any,
    AsyncIterator,
    Generator,
    Generic,
    Iterable,
    Iterator,
    Optional,
    TypeVar,
    Union,
)

from .streams import CopyResult, SharedFuture, SharedStream

__all__ = [
    "StreamReader",
    "FutureReader",
    "HostSource",
    "HostSink",
    "HostPending",
    "HOST",
    "host_stream",
    "host_future",
]

T = TypeVar("T")

HOST = object()  # the "instance" of host-side buffers (never equal to a guest's)

CHUNK = 64 * 1024  # elements a host source takes from an iterable at a time


class HostSink:
    """A host buffer receiving up to ``length`` elements (bytes for ``stream<u8>``)."""

    __slots__ = ("length", "progress", "as_bytes", "values", "chunks")

    def __init__(self, length: int, as_bytes: bool) -> None:
        self.length = length
        self.progress = 0
        self.as_bytes = as_bytes
        self.values: list[Any] = []
        self.chunks: list[bytes] = []  # joined once (a single chunk is not copied again)

    @property
    def plain_bytes(self) -> bool:
        return self.as_bytes

    def remain(self) -> int:
        return self.length - self.progress

    def is_zero_length(self) -> bool:
        return self.length == 0

    def write(self, values: list) -> None:
        if self.as_bytes:
            self.chunks.append(bytes(values))
        else:
            self.values.extend(values)
        self.progress += len(values)

    def write_bytes(self, data: bytes, n: int) -> None:
        self.chunks.append(data)
        self.progress += n

    def result(self) -> Union[bytes, list]:
        return b"".join(self.chunks) if self.as_bytes else self.values


class HostSource:
    """A host writer's buffer: elements from an iterable, pulled a chunk at a time."""

    __slots__ = ("chunk", "offset", "iterator", "as_bytes", "progress", "exhausted")

    def __init__(self, items: Any, as_bytes: bool) -> None:
        self.as_bytes = as_bytes
        self.progress = 0
        self.offset = 0
        self.exhausted = False
        self.iterator: Optional[Iterator[Any]] = None
        if isinstance(items, (bytes, bytearray, memoryview)):
            self.chunk: Any = bytes(items) if as_bytes else list(bytes(items))
            self.exhausted = True
        else:
            self.chunk = b"" if as_bytes else []
            self.iterator = iter(items)
            self._refill()

    def _refill(self) -> None:
        if self.offset < len(self.chunk) or self.exhausted or self.iterator is None:
            return
        taken = list(itertools.islice(self.iterator, CHUNK))
        if len(taken) < CHUNK:
            self.exhausted = True
        if self.as_bytes:
            self.chunk = bytes(taken)
        else:
            self.chunk = taken
        self.offset = 0

    @property
    def plain_bytes(self) -> bool:
        return self.as_bytes

    def remain(self) -> int:
        self._refill()
        return len(self.chunk) - self.offset

    def is_zero_length(self) -> bool:
        return self.remain() == 0

    def read(self, n: int) -> list:
        part = self.chunk[self.offset : self.offset + n]
        self.offset += n
        self.progress += n
        return list(part)

    def read_bytes(self, n: int) -> bytes:
        part = self.chunk[self.offset : self.offset + n]
        self.offset += n
        self.progress += n
        return bytes(part)

    def finished(self) -> bool:
        return self.exhausted and self.remain() == 0


def _is_u8(payload: Any) -> bool:
    return getattr(payload, "name", None) == "u8"


def host_stream(shared_payload: Any, items: Any) -> SharedStream:
    """A new stream whose writer is the host, fed from ``items`` as the guest reads."""
    shared = SharedStream(shared_payload)
    source = HostSource(items, _is_u8(shared_payload))

    def offer() -> None:
        if source.finished():
            shared.drop()  # the host's writable end: the reader sees DROPPED
            return
        shared.write(HOST, source, on_copy, on_copy_done)

    def on_copy(reclaim: Any) -> None:
        reclaim()
        offer()

    def on_copy_done(result: int) -> None:
        if result == CopyResult.COMPLETED and not shared.dropped:
            offer()

    offer()
    return shared


def host_future(shared_payload: Any, value: Any) -> SharedFuture:
    """A new future whose writer is the host, already holding ``value``."""
    shared = SharedFuture(shared_payload)

    def on_copy_done(result: int) -> None:
        shared.drop()

    shared.write(HOST, HostSource([value], False), on_copy_done)
    return shared


class StreamReader(Generic[T]):
    """The readable end of a ``stream<T>`` held by the host (see the module docstring)."""

    __slots__ = ("_shared", "_scheduler", "_closed", "_done", "_as_bytes")

    def __init__(self, shared: SharedStream, scheduler: Any) -> None:
        self._shared = shared
        self._scheduler = scheduler
        self._closed = False
        self._done = False
        self._as_bytes = _is_u8(shared.t)

    def _take(self) -> SharedStream:
        """Give the stream away (passing the reader to a guest); this reader is then closed."""
        if self._closed:
            raise ValueError("this stream reader is closed")
        self._closed = True
        return self._shared

    def read_now(self, n: int) -> Union[bytes, list]:
        """Read up to ``n`` elements, running the store's scheduler until some arrive."""
        if self._closed:
            raise ValueError("this stream reader is closed")
        if self._done or n <= 0:
            return b"" if self._as_bytes else []
        sink = HostSink(n, self._as_bytes)
        outcome: list[int] = []

        def on_copy(reclaim: Any) -> None:
            reclaim()
            outcome.append(CopyResult.COMPLETED)

        def on_copy_done(result: int) -> None:
            outcome.append(result)

        self._shared.read(HOST, sink, on_copy, on_copy_done)
        try:
            self._scheduler.run_until(lambda: bool(outcome))
        except BaseException:
            if self._shared.pending_buffer is sink:
                self._shared.reset_pending()
            raise
        if outcome[0] == CopyResult.DROPPED:
            self._done = True
        return sink.result()

    async def read(self, n: int) -> Union[bytes, list]:
        """Up to ``n`` elements (``bytes`` for ``stream<u8>``); empty once the writer dropped."""
        return self.read_now(n)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            chunk = self.read_now(CHUNK)
            if not chunk:
                return
            for item in chunk:
                yield item

    def close(self) -> None:
        """Drop the readable end (the writer sees DROPPED)."""
        if not self._closed:
            self._closed = True
            self._shared.drop()

    def __enter__(self) -> StreamReader[T]:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<StreamReader {'closed' if self._closed else 'open'}>"


class FutureReader(Generic[T]):
    """The readable end of a ``future<T>`` held by the host: ``await`` it for the value."""

    __slots__ = ("_shared", "_scheduler", "_closed")

    def __init__(self, shared: SharedFuture, scheduler: Any) -> None:
        self._shared = shared
        self._scheduler = scheduler
        self._closed = False

    def _take(self) -> SharedFuture:
        if self._closed:
            raise ValueError("this future reader is closed")
        self._closed = True
        return self._shared

    def get(self) -> Any:
        """The value, running the store's scheduler until the guest writes it."""
        if self._closed:
            raise ValueError("this future reader is closed")
        sink = HostSink(1, False)
        outcome: list[int] = []
        self._shared.read(HOST, sink, outcome.append)
        self._scheduler.run_until(lambda: bool(outcome))
        self._closed = True
        if outcome[0] != CopyResult.COMPLETED or not sink.values:
            raise ValueError("the future's writer dropped without writing a value")
        return sink.values[0]

    def __await__(self) -> Generator[Any, None, Any]:
        return self.get()
        yield  # pragma: no cover  (makes this a generator)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._shared.drop()

    def __repr__(self) -> str:
        return f"<FutureReader {'closed' if self._closed else 'open'}>"


class HostPending:
    """The result of a host call that arrives later (wasmtime's ``func_wrap_concurrent``).

    A concurrent host function returns one; the calling guest task goes on
    (async lower) or blocks (sync lower) until :meth:`resolve`.  ``cancel()``
    is what a guest's ``subtask.cancel`` does to it: afterwards the result
    is never delivered.
    """

    __slots__ = ("done", "value", "cancelled", "_callbacks")

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.cancelled = False
        self._callbacks: list[Any] = []

    def resolve(self, value: Any) -> None:
        if self.done or self.cancelled:
            return
        self.done = True
        self.value = value
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(value)

    def on_done(self, callback: Any) -> None:
        if self.done:
            callback(self.value)
        else:
            self._callbacks.append(callback)

    def cancel(self) -> bool:
        """Stop waiting; True if the result had not arrived."""
        if self.done:
            return False
        self.cancelled = True
        self._callbacks.clear()
        return True


def is_iterable(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, dict))
