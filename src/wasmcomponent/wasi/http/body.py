"""HTTP bodies: thread-safe chunk buffers, and the body resources and streams over them.

* :class:`BodySource` is an incoming body (request body when serving,
  response body of an outgoing request).  A producer (the HTTP client's
  helper thread, or the serving API with all bytes at once) ``feed``\\ s
  chunks and ``end``\\ s it, possibly with an error code; the guest reads
  through a :class:`BodyInput` stream, never blocking in ``read``.
* :class:`BodySink` is an outgoing body.  The guest writes through a
  :class:`BodyOutput` stream; ``finish`` / ``abort`` end it; the consumer (the
  client thread sending a request, or the serving API collecting a response)
  ``take``\\ s chunks.  ``capacity`` bounds what is buffered: ``check-write``
  grants nothing while it is full.

Resources: :class:`IncomingBody` (``stream`` at most once, the stream is a
child: ``finish`` traps while it lives), :class:`FutureTrailers`,
:class:`OutgoingBody` (``write`` at most once, child stream; a declared
``content-length`` is enforced on write and at ``finish``; dropped without
``finish`` aborts the message).
"""

from __future__ import annotations

import collections
import threading
from typing import Optional, Union

from ...runtime.values import Variant
from ..ctx import HostObject
from ..io import IoError, OutputStream, SharedInput, StreamClosed, StreamFailed
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
            return True

    def end(self, error: Optional[Variant] = None, trailers: Optional[list[tuple[str, bytes]]] = None) -> None:
        with self.cond:
            self.done = True
            self.error = error
            self.trailers = trailers
            self.cond.notify_all()

    def cancel(self) -> None:
        """The guest dropped the body: the producer stops and buffered data is released."""
        with self.cond:
            self.cancelled = True
            self.chunks.clear()
            self.buffered = 0
            self.cond.notify_all()

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
            # the guest finished early: drop what it did not read so the producer can finish
            with source.cond:
                source.chunks.clear()
                source.buffered = 0
                source.cond.notify_all()
        return source.done

    def close(self) -> None:
        if not self.source.done:
            self.source.cancel()


# ------------------------------------------------------------------ outgoing


class BodySink:
    """An outgoing body: chunks written by the guest, then ``finish`` (or ``abort``)."""

    def __init__(self, capacity: Optional[int] = DEFAULT_CAPACITY) -> None:
        self.cond = threading.Condition()
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.capacity = capacity
        self.finished = False
        self.aborted = False
        self.closed = False  # the consumer went away
        self.trailers: Optional[list[tuple[str, bytes]]] = None

    def put(self, data: bytes) -> None:
        with self.cond:
            if self.closed:
                raise StreamClosed
            if data:
                self.chunks.append(bytes(data))
                self.buffered += len(data)
            self.cond.notify_all()

    def full(self) -> bool:
        return self.capacity is not None and self.buffered >= self.capacity

    def finish(self, trailers: Optional[list[tuple[str, bytes]]]) -> None:
        with self.cond:
            self.finished = True
            self.trailers = trailers
            self.cond.notify_all()

    def abort(self) -> None:
        with self.cond:
            self.aborted = True
            self.cond.notify_all()

    def close(self) -> None:
        """The consumer stops reading: further writes see a closed stream."""
        with self.cond:
            self.closed = True
            self.chunks.clear()
            self.buffered = 0
            self.cond.notify_all()

    def take(self, timeout: float = WAIT_SLICE) -> Union[bytes, None, bool]:
        """The next chunk; None at the (finished) end; False if nothing arrived in ``timeout``.

        Raises :class:`BodyAborted` if the body was dropped without ``finish``.
        """
        with self.cond:
            if not self.chunks and not self.finished and not self.aborted:
                self.cond.wait(timeout)
            if self.chunks:
                chunk = self.chunks.popleft()
                self.buffered -= len(chunk)
                self.cond.notify_all()
                return chunk
            if self.aborted:
                raise BodyAborted("outgoing body dropped without finish")
            if self.finished:
                return None
            return False

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
        if sink.closed:
            raise StreamClosed
        if sink.full():
            self.permit = 0
            return 0
        return super().check_write()

    def emit(self, data: bytes) -> None:
        body = self.body
        body.written += len(data)
        if body.expected is not None and body.written > body.expected:
            code = body.size_error()
            raise StreamFailed(HttpIoError(f"body larger than the declared content-length: {code.tag}", code))
        body.sink.put(data)

    def flush(self) -> None:
        if self.body.sink.closed:
            raise StreamClosed

    def ready(self) -> bool:
        sink = self.body.sink
        return sink.closed or not sink.full()


def trailer_pairs(fields: Optional[Fields]) -> Optional[list[tuple[str, bytes]]]:
    return None if fields is None else list(fields.entries)

