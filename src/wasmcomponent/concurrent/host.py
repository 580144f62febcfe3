"""Streams and futures seen from Python: ``StreamReader``, ``FutureReader`` and host writers.

A ``stream<T>`` or ``future<T>`` that a component gives to the host (an
export's result) arrives as a :class:`StreamReader` or :class:`FutureReader`.
The host reads with ``await reader.read(n)`` (a ``list``, or ``bytes`` for
``stream<u8>``; an empty result means the writer dropped its end),
``async for item in reader`` (``bytes`` chunks for ``stream<u8>``, as jco's
byte streams give ``Uint8Array`` chunks) or ``await future``; ``close()``
drops the readable end.  Waiting is asynchronous: the store's driver runs the
guest's writer, and the event loop runs other tasks while nothing is ready
(``concurrent.aio``).  ``read_now``/``get`` are the synchronous forms.

Where a component expects a stream, the host may pass ``bytes``,
``bytearray`` or ``memoryview`` (``stream<u8>``), any iterable or async
iterable, or a ``StreamReader`` it holds; where it expects a future, a
plain value or an awaitable.  The host side is a :class:`HostSource`: a
writer whose elements are taken from the iterable only as the guest reads
them, one chunk at a time (one item at a time from an async iterable), so a
slow reader never makes the host buffer the whole iterable.

Example (a component exporting ``count: async func(n: u32) -> stream<u32>``)::

    reader = count(store, 3)
    assert asyncio.run(reader.read(10)) == [0, 1, 2]
"""

from __future__ import annotations

import itertools
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Generator,
    Generic,
    Iterable,
    Iterator,
    Optional,
    TypeVar,
    Union,
)

from .aio import async_state, start_host_coroutine, wait_on
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
    "host_stream_async",
    "host_future_async",
]

T = TypeVar("T")

HOST = object()  # the "instance" of host-side buffers (never equal to a guest's)

CHUNK = 64 * 1024  # elements a host source takes from an iterable at a time
BYTE_CHUNK = 1024 * 1024  # bytes one step of ``async for`` over a stream<u8> asks for (one copy each)


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


def host_stream_async(shared_payload: Any, items: Any, scheduler: Any) -> SharedStream:
    """A new stream whose writer is a host async iterable, pulled as the guest reads.

    A pump coroutine on the running loop offers one item at a time (one
    chunk for ``stream<u8>`` when the iterable yields ``bytes``) and takes
    the next only when the guest has copied all of it, so the host never
    holds more than one item.  It ends the stream (drops the writable end)
    when the iterable is exhausted or the guest dropped its end.
    """
    shared = SharedStream(shared_payload)
    as_bytes = _is_u8(shared_payload)
    iterator = items.__aiter__()
    state = async_state(scheduler)

    async def pump() -> None:
        try:
            while not shared.dropped:
                try:
                    item = await iterator.__anext__()
                except StopAsyncIteration:
                    return
                chunk = item if as_bytes and isinstance(item, (bytes, bytearray, memoryview)) else [item]
                await _offer(shared, HostSource(chunk, as_bytes), state)
        finally:
            shared.drop()
            state.notify()

    start_host_coroutine(scheduler, pump(), _ignore, "a stream's async iterable")
    return shared


async def _offer(shared: SharedStream, source: HostSource, state: Any) -> None:
    """Offer ``source`` to the stream's reader until all of it is copied (or the reader dropped)."""
    import asyncio

    loop = asyncio.get_running_loop()
    while source.remain() > 0 and not shared.dropped:
        copied: asyncio.Future[None] = loop.create_future()

        def on_copy(reclaim: Any, copied: asyncio.Future[None] = copied) -> None:
            reclaim()
            if not copied.done():
                copied.set_result(None)

        def on_copy_done(result: int, copied: asyncio.Future[None] = copied) -> None:
            if not copied.done():
                copied.set_result(None)

        shared.write(HOST, source, on_copy, on_copy_done)
        state.notify()  # a guest reader may be waiting for this write
        try:
            await copied
        except BaseException:
            if shared.pending_buffer is source:
                shared.reset_pending()
            raise


def host_future_async(shared_payload: Any, awaitable: Any, scheduler: Any) -> SharedFuture:
    """A new future whose writer is a host awaitable: its value is written when it completes."""
    shared = SharedFuture(shared_payload)
    state = async_state(scheduler)

    def write(value: Any) -> None:
        shared.write(HOST, HostSource([value], False), lambda _result: shared.drop())
        state.notify()

    start_host_coroutine(scheduler, awaitable, write, "a future's awaitable")
    return shared


def _ignore(_value: Any) -> None:
    pass


class StreamReader(Generic[T]):
    """The readable end of a ``stream<T>`` held by the host (see the module docstring).

    Example (``count: async func(n: u32) -> stream<u32>``)::

        reader = await count.call_async(store, 3)
        assert [x async for x in reader] == [0, 1, 2]
    """

    __slots__ = ("_shared", "_scheduler", "_closed", "_done", "_as_bytes", "__weakref__")

    def __init__(self, shared: SharedStream, scheduler: Any) -> None:
        self._shared = shared
        self._scheduler = scheduler
        self._closed = False
        self._done = False
        self._as_bytes = _is_u8(shared.t)
        _hold_end(self, scheduler)

    def _take(self) -> SharedStream:
        """Give the stream away (passing the reader to a guest); this reader is then closed."""
        self._check_open()
        self._closed = True
        _released(self._scheduler)
        return self._shared

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("this stream reader is closed")

    def holds_end(self) -> bool:
        """Whether the host may still read from this reader (open, and the writer has not dropped)."""
        return not self._closed and not self._done

    def _start_read(self, n: int, wake: Optional[list[Callable[[], None]]] = None) -> tuple[HostSink, list[int]]:
        """Offer a buffer for ``n`` elements; ``outcome`` gets the copy's result, then ``wake`` runs."""
        sink = HostSink(n, self._as_bytes)
        outcome: list[int] = []

        def on_copy_done(result: int) -> None:
            outcome.append(result)
            for callback in wake or ():
                callback()

        def on_copy(reclaim: Any) -> None:
            reclaim()
            on_copy_done(CopyResult.COMPLETED)

        self._shared.read(HOST, sink, on_copy, on_copy_done)
        return sink, outcome

    def _end_read(self, sink: HostSink, outcome: list[int]) -> Union[bytes, list]:
        if outcome[0] == CopyResult.DROPPED:
            self._done = True
            _released(self._scheduler)
        return sink.result()

    def _abandon(self, sink: HostSink) -> None:
        """The wait for ``sink`` ended without a copy (a trap, a cancelled coroutine)."""
        if self._shared.pending_buffer is sink:
            self._shared.reset_pending()

    def read_now(self, n: int) -> Union[bytes, list]:
        """Read up to ``n`` elements, running the store's scheduler until some arrive.

        Synchronous: nothing else runs meanwhile, and a writer that waits on
        the host is a deadlock (wasmtime's trap).  Under asyncio use ``read``.
        """
        self._check_open()
        if self._done or n <= 0:
            return b"" if self._as_bytes else []
        sink, outcome = self._start_read(n)
        try:
            self._scheduler.run_until(lambda: bool(outcome))
        except BaseException:
            self._abandon(sink)
            raise
        return self._end_read(sink, outcome)

    async def read(self, n: int) -> Union[bytes, list]:
        """Up to ``n`` elements (``bytes`` for ``stream<u8>``); empty once the writer dropped.

        Waits as a coroutine: the event loop runs other tasks while the
        writer has nothing to give.
        """
        self._check_open()
        if self._done or n <= 0:
            return b"" if self._as_bytes else []
        wake: list[Callable[[], None]] = []
        sink, outcome = self._start_read(n, wake)
        if not outcome:  # nothing to copy yet: wait (most reads of a ready writer do not)
            import asyncio

            copied: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def wake_reader() -> None:
                if not copied.done():
                    copied.set_result(None)

            wake.append(wake_reader)
            async_state(self._scheduler).notify()  # a guest writer may be waiting for this read
            try:
                await wait_on(self._scheduler, copied)
            except BaseException:
                self._abandon(sink)
                raise
        return self._end_read(sink, outcome)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        size = BYTE_CHUNK if self._as_bytes else CHUNK
        while True:
            chunk = await self.read(size)
            if not chunk:
                return
            if self._as_bytes:
                yield chunk  # a byte stream iterates by chunks, as jco's and asyncio's byte streams do
            else:
                for item in chunk:
                    yield item

    def close(self) -> None:
        """Drop the readable end (the writer sees DROPPED)."""
        if not self._closed:
            self._closed = True
            self._shared.drop()
            _released(self._scheduler)

    def __enter__(self) -> StreamReader[T]:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<StreamReader {'closed' if self._closed else 'open'}>"


class FutureReader(Generic[T]):
    """The readable end of a ``future<T>`` held by the host: ``await`` it for the value.

    Example (``later: async func() -> future<string>``)::

        value = await (await later.call_async(store))
    """

    __slots__ = ("_shared", "_scheduler", "_closed", "__weakref__")

    def __init__(self, shared: SharedFuture, scheduler: Any) -> None:
        self._shared = shared
        self._scheduler = scheduler
        self._closed = False
        _hold_end(self, scheduler)

    def holds_end(self) -> bool:
        """Whether the host may still await this reader."""
        return not self._closed

    def _take(self) -> SharedFuture:
        if self._closed:
            raise ValueError("this future reader is closed")
        self._closed = True
        _released(self._scheduler)
        return self._shared

    def _start(self) -> tuple[HostSink, list[int]]:
        if self._closed:
            raise ValueError("this future reader is closed")
        sink = HostSink(1, False)
        outcome: list[int] = []
        self._shared.read(HOST, sink, outcome.append)
        return sink, outcome

    def _finish(self, sink: HostSink, outcome: list[int]) -> Any:
        self._closed = True
        _released(self._scheduler)
        if outcome[0] != CopyResult.COMPLETED or not sink.values:
            raise ValueError("the future's writer dropped without writing a value")
        return sink.values[0]

    def get(self) -> Any:
        """The value, running the store's scheduler until the guest writes it (synchronous)."""
        sink, outcome = self._start()
        self._scheduler.run_until(lambda: bool(outcome))
        return self._finish(sink, outcome)

    async def get_async(self) -> Any:
        """The value; the event loop runs other tasks meanwhile (what ``await reader`` does)."""
        import asyncio

        if self._closed:
            raise ValueError("this future reader is closed")
        sink = HostSink(1, False)
        copied: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_copy_done(result: int) -> None:
            if not copied.done():
                copied.set_result(result)

        self._shared.read(HOST, sink, on_copy_done)
        if not copied.done():
            async_state(self._scheduler).notify()
        try:
            result = await wait_on(self._scheduler, copied)
        except BaseException:
            if self._shared.pending_buffer is sink:
                self._shared.reset_pending()
            raise
        return self._finish(sink, [result])

    def __await__(self) -> Generator[Any, None, Any]:
        return self.get_async().__await__()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._shared.drop()
            _released(self._scheduler)

    def __repr__(self) -> str:
        return f"<FutureReader {'closed' if self._closed else 'open'}>"


def _hold_end(reader: Any, scheduler: Any) -> None:
    """Note an end the host holds: while it is open, the host may still use it (see ``aio``).

    The store's asyncio state keeps a weak set of readers and asks them only
    when nothing is ready (``holds_end``); a reader collected unclosed simply
    leaves the set (its end is not dropped: a collection must not act on the
    guest at an arbitrary moment).
    """
    async_state(scheduler).host_readers.add(reader)


def _released(scheduler: Any) -> None:
    """A reader let its end go: a waiting driver re-checks whether anything can still wake it."""
    async_state(scheduler).notify()


class HostPending:
    """The result of a host call that arrives later (wasmtime's ``func_wrap_concurrent``).

    A concurrent host function returns one; the calling guest task goes on
    (async lower) or blocks (sync lower) until :meth:`resolve`.  ``cancel()``
    is what a guest's ``subtask.cancel`` does to it: afterwards the result
    is never delivered.
    """

    __slots__ = ("done", "value", "cancelled", "_callbacks", "on_cancel")

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.cancelled = False
        self._callbacks: list[Any] = []
        # Stops the work producing the value (a host coroutine's task), if any.
        self.on_cancel: Optional[Callable[[], None]] = None

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
        if self.on_cancel is not None:
            self.on_cancel()
        return True


def is_iterable(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, dict))
