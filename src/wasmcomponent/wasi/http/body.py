"""HTTP bodies: thread-safe chunk buffers, and the body resources and streams over them.

* :class:`BodySource` is an incoming body (request body when serving,
  response body of an outgoing request).  A producer (the HTTP client's
  helper thread, or the serving API with all bytes at once) ``feed``\\ s
  chunks and ``end``\\ s it, possibly with an error code; the guest reads
  through a :class:`BodyInput` stream, never blocking in ``read``.
* :class:`PullSource` is an incoming body whose bytes are pulled from the
  producer when the guest reads, on the guest's thread (a WSGI input, an
  iterable, ASGI ``receive``): nothing is read ahead, so the host holds at
  most one producer chunk.  A read may wait for the producer.
* :class:`BodySink` is an outgoing body.  The guest writes through a
  :class:`BodyOutput` stream; ``finish`` / ``abort`` end it; the consumer (the
  client thread sending a request, or the serving API collecting a response)
  ``take``\\ s chunks.  Two bounds, both on what the sink holds:

  - ``capacity`` (a streaming window): ``check-write`` grants only the room
    left and ``blocking-flush`` (so ``blocking-write-and-flush``) waits for the
    consumer, as wasmtime's body channel does;
  - ``limit`` (``WasiConfig.max_http_body_bytes``, when the whole body is
    collected): a write past it fails with ``HTTP-request-body-size`` /
    ``HTTP-response-body-size`` and the sink is marked ``overflowed``.

Resources: :class:`IncomingBody` (``stream`` at most once, the stream is a
child: ``finish`` traps while it lives), :class:`FutureTrailers`,
:class:`OutgoingBody` (``write`` at most once, child stream; a declared
``content-length`` is enforced on write and at ``finish``; dropped without
``finish`` aborts the message).
"""

from __future__ import annotations

import collections
import threading
from concurrent.futures import Future
from typing import Callable, Optional, Union

from ...types.values import Variant
from ..ctx import HostObject
from ..io import (
    WRITE_PERMIT,
    IoError,
    OutputStream,
    Pollable,
    SharedInput,
    Signal,
    StreamClosed,
    StreamFailed,
)
from .codes import error_from_exception
from .fields import Fields
from .owned import Owned

# How long a blocking call waits on a buffer before re-checking (the guest loop polls again).
WAIT_SLICE = 0.25
DEFAULT_CAPACITY = 1 << 20


class HttpIoError(IoError):
    """A ``wasi:io/error`` raised by an HTTP body stream; ``http-error-code`` returns ``code``."""

    __slots__ = ("code",)

    def __init__(self, message: str, code: Variant) -> None:
        super().__init__(message)
        self.code = code


class BodyAborted(Exception):
    """The writer of an outgoing body dropped it without ``finish`` (the message is corrupt)."""


# ------------------------------------------------------------------ incoming


class BodySource:
    """An incoming body being received: chunks, then the end (maybe an error code)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.cond = threading.Condition()
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.capacity = capacity
        self.done = False
        self.error: Optional[Variant] = None
        self.trailers: Optional[list[tuple[str, bytes]]] = None
        self.cancelled = False
        self.signal = Signal()  # notified when ``ready`` may change (a producer thread fed or ended it)

    @classmethod
    def of(cls, data: bytes) -> BodySource:
        """A complete body holding ``data``."""
        source = cls()
        if data:
            source.chunks.append(bytes(data))
            source.buffered = len(data)
        source.done = True
        return source

    # producer side (any thread)

    def feed(self, data: bytes, timeout: Optional[float] = None) -> bool:
        """Append ``data``, waiting while the buffer is full; False once the reader went away."""
        with self.cond:
            while self.buffered >= self.capacity and not self.cancelled:
                if not self.cond.wait(timeout if timeout is not None else WAIT_SLICE) and timeout is not None:
                    return False
            if self.cancelled:
                return False
            self.chunks.append(data)
            self.buffered += len(data)
            self.cond.notify_all()
        self.signal.notify()
        return True

    def end(self, error: Optional[Variant] = None, trailers: Optional[list[tuple[str, bytes]]] = None) -> None:
        with self.cond:
            self.done = True
            self.error = error
            self.trailers = trailers
            self.cond.notify_all()
        self.signal.notify()

    def cancel(self) -> None:
        """The guest dropped the body: the producer stops and buffered data is released."""
        with self.cond:
            self.cancelled = True
            self.chunks.clear()
            self.buffered = 0
            self.cond.notify_all()
        self.signal.notify()

    # consumer side (the guest's thread)

    def read(self, size: int, block: bool) -> bytes:
        with self.cond:
            if block and not self.chunks and not self.done:
                self.cond.wait(WAIT_SLICE)
            if not self.chunks:
                if self.done:
                    if self.error is not None:
                        raise StreamFailed(HttpIoError(f"body failed: {self.error.tag}", self.error))
                    raise StreamClosed
                return b""
            chunk = self.chunks.popleft()
            if len(chunk) > size:
                self.chunks.appendleft(chunk[size:])
                chunk = chunk[:size]
            self.buffered -= len(chunk)
            self.cond.notify_all()
            return chunk

    def ready(self) -> bool:
        return bool(self.chunks) or self.done

    def read_later(self, size: int) -> Optional[Future[bytes]]:
        """None: ``read(block=False)`` never waits (``InputSource.read_later``); under asyncio a
        blocking read waits on the stream's pollable instead.  (A :class:`PullSource`'s ``pull``
        may block: it serves requests on the servers' worker threads, never under a loop.)"""
        return None

    def discard(self) -> None:
        """The guest finished the body early: drop what it did not read so the producer can end."""
        with self.cond:
            self.chunks.clear()
            self.buffered = 0
            self.cond.notify_all()


# pull(size) -> the next bytes (at most a few more than ``size`` is fine), b"" for none yet, None at the end
Pull = Callable[[int], Optional[bytes]]


class PullSource(BodySource):
    """An incoming body read from ``pull`` on demand, on the reader's thread (no read-ahead).

    ``pull`` may block (a socket read): the body counts as always ready, as a
    blocking file does.  A producer failure ends the body with its
    ``error-code``; ``on_close`` runs once when the body ends or is dropped.
    """

    def __init__(self, pull: Pull, on_close: Optional[Callable[[], None]] = None) -> None:
        super().__init__()
        self.pull = pull
        self.on_close = on_close

    def _end(self, error: Optional[Variant] = None) -> None:
        self.end(error)
        on_close, self.on_close = self.on_close, None
        if on_close is not None:
            on_close()

    def read(self, size: int, block: bool) -> bytes:
        if self.chunks or self.done or self.cancelled:
            return super().read(size, block)
        try:
            data = self.pull(max(size, 1))
        except Exception as err:  # the producer failed (client gone): the guest sees an error code
            self._end(error_from_exception(err, "read"))
            return super().read(size, block)
        if data is None:
            self._end()
            raise StreamClosed
        data = bytes(data)
        if len(data) > size:  # keep the rest for the next read (one producer chunk at most)
            with self.cond:
                self.chunks.append(data[size:])
                self.buffered += len(data) - size
            data = data[:size]
        return data

    def ready(self) -> bool:
        return True

    def discard(self) -> None:
        """Read the rest of the body and drop it (its end, and trailers, come after it)."""
        super().discard()
        while not self.done and not self.cancelled:
            try:
                data = self.pull(READ_DISCARD)
            except Exception as err:
                self._end(error_from_exception(err, "read"))
                continue
            if data is None:
                self._end()
            elif not data:
                with self.cond:  # "nothing yet": wait a slice instead of spinning
                    self.cond.wait(WAIT_SLICE)

    def cancel(self) -> None:
        super().cancel()
        on_close, self.on_close = self.on_close, None
        if on_close is not None:
            on_close()


READ_DISCARD = 64 * 1024


class BodyInput(SharedInput):
    """The ``input-stream`` of an incoming body: reads from its :class:`BodySource`."""

    __slots__ = ()

    def __init__(self, source: BodySource) -> None:
        super().__init__(source)  # type: ignore[arg-type]  # same read/ready protocol, no fd

    def fileno(self) -> Optional[int]:
        return None


class IncomingBody(Owned):
    """The ``incoming-body`` resource."""

    __slots__ = ("source", "streamed")

    def __init__(self, source: BodySource) -> None:
        super().__init__()
        self.source = source
        self.streamed = False

    def release(self) -> None:
        if not self.source.done:
            self.source.cancel()


class FutureTrailers(HostObject):
    """The ``future-trailers`` resource: ready when the body's end has been received."""

    __slots__ = ("source", "consumed")

    def __init__(self, source: BodySource) -> None:
        super().__init__()
        self.source = source
        self.consumed = False

    def ready(self) -> bool:
        source = self.source
        if not source.done:
            source.discard()
        return source.done

    def close(self) -> None:
        if not self.source.done:
            self.source.cancel()


# ------------------------------------------------------------------ outgoing


class BodySink:
    """An outgoing body: chunks written by the guest, then ``finish`` (or ``abort``).

    ``capacity`` is the streaming window (None: no backpressure); ``limit``
    caps what may be held at once when nobody consumes concurrently (None: no
    cap).  Both can change while the body is written (``response-outparam.set``
    picks the mode of a served response).
    """

    def __init__(self, capacity: Optional[int] = DEFAULT_CAPACITY, limit: Optional[int] = None) -> None:
        self.cond = threading.Condition()
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.capacity = capacity
        self.limit = limit
        self.overflowed = False
        self.total = 0  # bytes written so far (over the body's life)
        self.finished = False
        self.aborted = False
        self.closed = False  # the consumer went away
        self.trailers: Optional[list[tuple[str, bytes]]] = None
        self.signal = Signal()  # notified when the consumer made room or went away

    def put(self, data: bytes) -> None:
        with self.cond:
            if self.closed:
                raise StreamClosed
            if data:
                self.chunks.append(bytes(data))
                self.buffered += len(data)
                self.total += len(data)
            self.cond.notify_all()

    def room(self) -> int:
        """Bytes the guest may write now without waiting (the window left)."""
        if self.capacity is None:
            return WRITE_PERMIT
        return max(min(self.capacity - self.buffered, WRITE_PERMIT), 0)

    def full(self) -> bool:
        return self.capacity is not None and self.buffered >= self.capacity

    def over_limit(self, size: int) -> bool:
        """Whether holding ``size`` more bytes passes ``limit``."""
        return self.limit is not None and self.buffered + size > self.limit

    def waits_for_room(self) -> bool:
        """Whether a blocking flush still waits: the window is full, the consumer and the writer still there."""
        return self.full() and not self.closed and not self.aborted

    def wait_for_room(self) -> None:
        """Block until the window has room, the consumer left or the body ended (the guest's thread)."""
        with self.cond:
            while self.waits_for_room():
                self.cond.wait(WAIT_SLICE)
            if self.closed:
                raise StreamClosed

    def finish(self, trailers: Optional[list[tuple[str, bytes]]]) -> None:
        with self.cond:
            self.finished = True
            self.trailers = trailers
            self.cond.notify_all()

    def abort(self) -> None:
        with self.cond:
            self.aborted = True
            self.cond.notify_all()
        self.signal.notify()

    def close(self) -> None:
        """The consumer stops reading: further writes see a closed stream."""
        with self.cond:
            self.closed = True
            self.chunks.clear()
            self.buffered = 0
            self.cond.notify_all()
        self.signal.notify()

    def ended(self) -> bool:
        """Finished, aborted or overflowed: nothing more will be written."""
        return self.finished or self.aborted or self.overflowed

    def wait_ended(self, timeout: float = WAIT_SLICE) -> bool:
        with self.cond:
            if not self.ended():
                self.cond.wait(timeout)
            return self.ended()

    def take(self, timeout: float = WAIT_SLICE) -> Union[bytes, None, bool]:
        """The next chunk; None at the (finished) end; False if nothing arrived in ``timeout``.

        Raises :class:`BodyAborted` if the body was dropped without ``finish``.
        """
        with self.cond:
            if not self.chunks and not self.finished and not self.aborted:
                self.cond.wait(timeout)
            if not self.chunks:
                if self.aborted:
                    raise BodyAborted("outgoing body dropped without finish")
                return None if self.finished else False
            chunk = self.chunks.popleft()
            self.buffered -= len(chunk)
            self.cond.notify_all()
        self.signal.notify()  # room made: outside the lock (it may wake a loop)
        return chunk

    def collected(self) -> bytes:
        """Everything written so far (used when nobody consumes concurrently)."""
        with self.cond:
            data = b"".join(self.chunks)
            self.chunks.clear()
            self.buffered = 0
            return data


class OutgoingBody(Owned):
    """The ``outgoing-body`` resource of a request or response (``kind``)."""

    __slots__ = ("sink", "kind", "expected", "written", "stream_taken", "done")

    def __init__(self, sink: BodySink, kind: str, expected: Optional[int]) -> None:
        super().__init__()
        self.sink = sink
        self.kind = kind
        self.expected = expected
        self.written = 0
        self.stream_taken = False
        self.done = False

    def size_error(self) -> Variant:
        case = "HTTP-request-body-size" if self.kind == "request" else "HTTP-response-body-size"
        return Variant(case, self.written)

    def release(self) -> None:
        if not self.done:
            self.done = True
            self.sink.abort()


class BodyOutput(OutputStream):
    """The ``output-stream`` of an outgoing body."""

    __slots__ = ("body",)

    def __init__(self, body: OutgoingBody, strict: bool = True) -> None:
        super().__init__(strict)
        self.body = body

    def check_write(self) -> int:
        sink = self.body.sink
        if sink.closed or sink.overflowed:
            raise StreamClosed
        self.permit = sink.room()
        return self.permit

    def emit(self, data: bytes) -> None:
        body = self.body
        sink = body.sink
        if sink.overflowed:
            raise StreamClosed
        written = body.written + len(data)
        if body.expected is not None and written > body.expected:
            body.written = written
            code = body.size_error()
            raise StreamFailed(HttpIoError(f"body larger than the declared content-length: {code.tag}", code))
        if sink.over_limit(len(data)):
            # the host would have to hold more than max_http_body_bytes: refuse, as wasmtime
            # refuses a body past its size (the stream is closed afterwards)
            sink.overflowed = True
            body.written = sink.total = written
            code = body.size_error()
            with sink.cond:
                sink.cond.notify_all()
            raise StreamFailed(
                HttpIoError(f"body larger than WasiConfig.max_http_body_bytes ({sink.limit}): {code.tag}", code)
            )
        body.written = written
        sink.put(data)

    def flush(self) -> None:
        if self.body.sink.closed:
            raise StreamClosed

    def blocking_flush(self) -> None:
        # wait for the consumer to make room in the window (backpressure), as wasmtime's
        # blocking flush waits for its body channel
        self.body.sink.wait_for_room()

    def flush_wait(self) -> Optional[Pollable]:
        sink = self.body.sink
        if sink.waits_for_room():
            return Pollable(lambda: not sink.waits_for_room(), signal=sink.signal)
        if sink.closed:
            raise StreamClosed
        return None

    def ready(self) -> bool:
        sink = self.body.sink
        return sink.closed or sink.overflowed or not sink.full()

    def ready_signal(self) -> Optional[Signal]:
        return self.body.sink.signal


def trailer_pairs(fields: Optional[Fields]) -> Optional[list[tuple[str, bytes]]]:
    return None if fields is None else list(fields.entries)

