"""``wasi:io`` 0.2: error, poll and streams, and the stream backends the other packages use.

Streams are Python objects (:class:`InputStream`, :class:`OutputStream`)
whose methods raise :class:`StreamClosed` or :class:`StreamFailed`; the
functions registered here turn those into WIT values:

* ``result<list<u8>, stream-error>`` and ``result<u64, stream-error>`` are
  untagged in the Python value model: ``bytes``/``int`` is ok, ``None`` is
  ``err(closed)``, an ``error`` resource is ``err(last-operation-failed)``;
* ``result<_, stream-error>`` is tagged: ``Variant("ok")`` /
  ``Variant("err", None | error)``.

Every function is synchronous.  Output backends accept everything at once,
so ``check-write`` always grants :data:`WRITE_PERMIT` bytes; with
``strict_permits`` (the default) writing more than the last grant traps,
as does ``blocking-write-and-flush`` of more than 4096 bytes (wasmtime's
limit).  ``flush`` only starts a flush (:meth:`OutputStream.flush`); the
``blocking-*`` calls wait for it (:meth:`OutputStream.blocking_flush`).
Pollables are ready, timed (a monotonic deadline) or backed by a stream's
readiness; ``poll`` waits on file descriptors with ``select`` and on
deadlines by sleeping (or by advancing a virtual clock).
"""

from __future__ import annotations

import os
import select
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..runtime.resources import ResourceHost
from ..runtime.values import Variant
from .ctx import HostObject, Interface, Res, trap

if TYPE_CHECKING:
    from .ctx import WasiCtx

WRITE_PERMIT = 1 << 20
BLOCKING_WRITE_LIMIT = 4096
OK_UNIT = Variant("ok", None)
ERR_CLOSED = Variant("err", None)


class IoError(HostObject):
    """The ``error`` resource: a message, plus the filesystem error code when it came from a file."""

    __slots__ = ("message", "fs_code")

    def __init__(self, message: str, fs_code: Optional[str] = None) -> None:
        super().__init__()
        self.message = message
        self.fs_code = fs_code


class StreamClosed(Exception):
    """The stream is closed: ``stream-error::closed``."""


class StreamFailed(Exception):
    """The last operation failed: ``stream-error::last-operation-failed``."""

    def __init__(self, error: IoError) -> None:
        super().__init__(error.message)
        self.error = error


def failed_from_oserror(err: OSError) -> StreamFailed:
    """A ``StreamFailed`` carrying the filesystem error code of ``err``."""
    from .filesystem import error_code

    return StreamFailed(IoError(str(err), error_code(err)))


# ------------------------------------------------------------------ pollables


class Pollable(HostObject):
    """A readiness source: ``ready()``; ``deadline`` (monotonic ns) and ``fileno`` help waiting."""

    __slots__ = ("check", "deadline", "fileno")

    def __init__(
        self,
        check: Optional[Callable[[], bool]] = None,
        deadline: Optional[int] = None,
        fileno: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.check = check
        self.deadline = deadline
        self.fileno = fileno

    def ready(self, now: int) -> bool:
        if self.deadline is not None:
            return now >= self.deadline
        check = self.check
        return True if check is None else check()


def block_until_ready(ctx: WasiCtx, pollables: list[Pollable]) -> list[int]:
    """Indices of the ready pollables, waiting until at least one is."""
    clocks = ctx.clocks
    while True:
        now = clocks.monotonic_now()
        ready = [i for i, p in enumerate(pollables) if p.ready(now)]
        if ready:
            return ready
        deadlines = [p.deadline for p in pollables if p.deadline is not None]
        fds = [p.fileno for p in pollables if p.fileno is not None]
        pending_checks = any(p.deadline is None and p.fileno is None and p.check is not None for p in pollables)
        timeout: Optional[int] = min(deadlines) - now if deadlines else None
        if clocks.virtual and timeout is not None and not fds and not pending_checks:
            clocks.advance(timeout)
            continue
        if pending_checks:
            timeout = 1_000_000 if timeout is None else min(timeout, 1_000_000)
        seconds = None if timeout is None else max(timeout, 0) / 1e9
        if fds:
            try:
                select.select(fds, [], [], seconds)
            except (OSError, ValueError):
                time.sleep(0.001)
        elif seconds is None:
            time.sleep(3600)  # nothing can become ready: wait as wasmtime does (forever)
        else:
            clocks.sleep(timeout or 0)


# ------------------------------------------------------------------ input streams


class InputStream(HostObject):
    """Base input stream: subclasses implement ``read`` (non-blocking) and readiness."""

    __slots__ = ()

    def read(self, size: int) -> bytes:
        """Up to ``size`` available bytes (maybe none); raises ``StreamClosed`` at the end."""
        raise StreamClosed

    def blocking_read(self, size: int) -> bytes:
        """Like ``read`` but waits until at least one byte or the end."""
        return self.read(size)

    def ready(self) -> bool:
        return True

    def fileno(self) -> Optional[int]:
        return None

    def pollable(self) -> Pollable:
        fd = self.fileno()
        return Pollable(self.ready, None, fd)


class ClosedInput(InputStream):
    """A stream that is closed from the start (default stdin)."""

    __slots__ = ()


class SharedInput(InputStream):
    """A handle on a shared source (stdin): every ``get-stdin`` handle reads the same data."""

    __slots__ = ("source",)

    def __init__(self, source: InputSource) -> None:
        super().__init__()
        self.source = source

    def read(self, size: int) -> bytes:
        return self.source.read(size, block=False)

    def blocking_read(self, size: int) -> bytes:
        return self.source.read(size, block=True)

    def ready(self) -> bool:
        return self.source.ready()

    def fileno(self) -> Optional[int]:
        return self.source.fileno()


class InputSource:
    """Where a shared input stream's bytes come from."""

    def read(self, size: int, block: bool) -> bytes:
        raise StreamClosed

    def ready(self) -> bool:
        return True

    def fileno(self) -> Optional[int]:
        return None


class BytesSource(InputSource):
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, size: int, block: bool) -> bytes:
        pos = self.pos
        if pos >= len(self.data):
            raise StreamClosed
        chunk = self.data[pos : pos + size]
        self.pos = pos + len(chunk)
        return chunk


class ReaderSource(InputSource):
    """A binary file-like object; its ``read`` may block (it is treated as always ready)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.eof = False

    def read(self, size: int, block: bool) -> bytes:
        if self.eof:
            raise StreamClosed
        data = self.reader.read(size)
        if isinstance(data, str):
            data = data.encode()
        if not data:
            self.eof = True
            raise StreamClosed
        return bytes(data)


class FdSource(InputSource):
    """A host file descriptor (inherited stdin): read only when the guest asks, never ahead."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.eof = False

    def _selectable(self, timeout: float) -> bool:
        try:
            readable, _, _ = select.select([self.fd], [], [], timeout)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def read(self, size: int, block: bool) -> bytes:
        if self.eof:
            raise StreamClosed
        if not block and not self._selectable(0):
            return b""
        try:
            data = os.read(self.fd, size)
        except BlockingIOError:
            return b""
        except OSError as err:
            raise failed_from_oserror(err) from None
        if not data:
            self.eof = True
            raise StreamClosed
        return data

    def ready(self) -> bool:
        return self.eof or self._selectable(0)

    def fileno(self) -> Optional[int]:
        return self.fd


class FileInput(InputStream):
    """``read-via-stream``: positional reads of a host file, with the stream's own offset."""

    __slots__ = ("fd", "offset")

    def __init__(self, fd: int, offset: int) -> None:
        super().__init__()
        self.fd = fd
        self.offset = offset

    def read(self, size: int) -> bytes:
        try:
            data = os.pread(self.fd, size, self.offset)
        except OSError as err:
            raise failed_from_oserror(err) from None
        if not data and size > 0:
            raise StreamClosed
        self.offset += len(data)
        return data


# ------------------------------------------------------------------ output streams


class Sink:
    """Where an output stream's bytes go; ``write`` takes everything."""

    def write(self, data: bytes) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class DiscardSink(Sink):
    pass


class BufferSink(Sink):
    def __init__(self, buffer: bytearray) -> None:
        self.buffer = buffer

    def write(self, data: bytes) -> None:
        self.buffer += data


class CallbackSink(Sink):
    def __init__(self, callback: Callable[[bytes], Any]) -> None:
        self.callback = callback

    def write(self, data: bytes) -> None:
        self.callback(data)


class WriterSink(Sink):
    """A binary (or text) file-like object."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def write(self, data: bytes) -> None:
        _write_to(self.writer, data)

    def flush(self) -> None:
        flush = getattr(self.writer, "flush", None)
        if flush is not None:
            flush()

    def isatty(self) -> bool:
        isatty = getattr(self.writer, "isatty", None)
        try:
            return bool(isatty()) if isatty is not None else False
        except (OSError, ValueError):
            return False


class InheritSink(Sink):
    """The host's ``sys.stdout``/``sys.stderr``, looked up at each write (so redirection works)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, data: bytes) -> None:
        stream = getattr(sys, self.name)
        _write_to(stream, data)
        stream.flush()

    def isatty(self) -> bool:
        try:
            return bool(getattr(sys, self.name).isatty())
        except (AttributeError, OSError, ValueError):
            return False


def _write_to(stream: Any, data: bytes) -> None:
    binary = getattr(stream, "buffer", None)
    if binary is not None:
        stream.flush()
        binary.write(data)
        binary.flush()
        return
    try:
        stream.write(data)
    except TypeError:
        stream.write(data.decode("utf-8", "replace"))


class OutputStream(HostObject):
    """Base output stream with the permit bookkeeping of ``check-write``/``write``."""

    __slots__ = ("permit", "strict")

    def __init__(self, strict: bool = True) -> None:
        super().__init__()
        self.permit = 0
        self.strict = strict

    def check_write(self) -> int:
        self.permit = WRITE_PERMIT
        return WRITE_PERMIT

    def write(self, data: bytes) -> None:
        size = len(data)
        if self.strict and size > self.permit:
            raise trap(f"write of {size} bytes exceeds the {self.permit} bytes permitted by check-write")
        self.permit = max(self.permit - size, 0)
        self.emit(data)

    def emit(self, data: bytes) -> None:
        """Deliver ``data``; raises ``StreamClosed``/``StreamFailed``."""

    def flush(self) -> None:
        """``flush``: start flushing what was written, without waiting (completion shows in ``ready``)."""

    def blocking_flush(self) -> None:
        """``blocking-flush`` (and the ``blocking-*-and-flush`` calls): wait until the flush completed.

        By default the same as :meth:`flush`, right for backends whose flush completes at once.
        """
        self.flush()

    def ready(self) -> bool:
        return True


class SinkOutput(OutputStream):
    """A handle on a shared :class:`Sink` (stdout, stderr)."""

    __slots__ = ("sink",)

    def __init__(self, sink: Sink, strict: bool = True) -> None:
        super().__init__(strict)
        self.sink = sink

    def emit(self, data: bytes) -> None:
        try:
            self.sink.write(data)
        except OSError as err:
            raise failed_from_oserror(err) from None

    def flush(self) -> None:
        try:
            self.sink.flush()
        except OSError as err:
            raise failed_from_oserror(err) from None


class FileOutput(OutputStream):
    """``write-via-stream``/``append-via-stream``: positional writes with the stream's own offset."""

    __slots__ = ("fd", "offset", "append")

    def __init__(self, fd: int, offset: int, append: bool, strict: bool = True) -> None:
        super().__init__(strict)
        self.fd = fd
        self.offset = offset
        self.append = append

    def emit(self, data: bytes) -> None:
        try:
            if self.append:
                self.offset = os.fstat(self.fd).st_size
            view = memoryview(data)
            while view:
                written = os.pwrite(self.fd, view, self.offset)
                self.offset += written
                view = view[written:]
        except OSError as err:
            raise failed_from_oserror(err) from None

    def flush(self) -> None:
        pass


# ------------------------------------------------------------------ WIT glue

ERROR = Interface("wasi:io/error", resources={"error": Res.ERROR})
POLL = Interface("wasi:io/poll", resources={"pollable": Res.POLLABLE})
STREAMS = Interface(
    "wasi:io/streams",
    resources={
        "input-stream": Res.INPUT_STREAM,
        "output-stream": Res.OUTPUT_STREAM,
        "error": Res.ERROR,
        "pollable": Res.POLLABLE,
    },
    # What every guest print goes through: served without generic lifting/lowering.
    direct=frozenset({
        "[method]output-stream.check-write",
        "[method]output-stream.write",
        "[method]output-stream.blocking-write-and-flush",
        "[method]output-stream.flush",
        "[method]output-stream.blocking-flush",
    }),
)
INTERFACES = [ERROR, POLL, STREAMS]


def stream_error(ctx: WasiCtx, err: Exception) -> Optional[ResourceHost]:
    """The untagged ``stream-error`` value of a stream exception."""
    if isinstance(err, StreamFailed):
        return ctx.own(err.error, Res.ERROR)
    return None


def unit_result(ctx: WasiCtx, action: Callable[[], Any]) -> Variant:
    """Run ``action`` and return the tagged ``result<_, stream-error>``."""
    try:
        action()
    except (StreamClosed, StreamFailed) as err:
        return Variant("err", stream_error(ctx, err))
    return OK_UNIT


def _check_len(ctx: WasiCtx, size: int) -> int:
    return min(size, ctx.config.max_read_size)


@ERROR.func("[method]error.to-debug-string")
def error_to_debug_string(ctx: WasiCtx, self: Any) -> str:
    return ctx.get(self, IoError).message


@POLL.func("[method]pollable.ready")
def pollable_ready(ctx: WasiCtx, self: Any) -> bool:
    return ctx.get(self, Pollable).ready(ctx.clocks.monotonic_now())


@POLL.func("[method]pollable.block")
def pollable_block(ctx: WasiCtx, self: Any) -> None:
    block_until_ready(ctx, [ctx.get(self, Pollable)])


@POLL.func("poll")
def poll(ctx: WasiCtx, pollables: list[Any]) -> list[int]:
    if not pollables:
        raise trap("empty poll list")
    return block_until_ready(ctx, [ctx.get(p, Pollable) for p in pollables])


@STREAMS.func("[method]input-stream.read")
def input_read(ctx: WasiCtx, self: Any, size: int) -> Any:
    stream = ctx.get(self, InputStream)
    try:
        return stream.read(_check_len(ctx, size))
    except (StreamClosed, StreamFailed) as err:
        return stream_error(ctx, err)


@STREAMS.func("[method]input-stream.blocking-read")
def input_blocking_read(ctx: WasiCtx, self: Any, size: int) -> Any:
    stream = ctx.get(self, InputStream)
    size = _check_len(ctx, size)
    try:
        if size == 0:
            return stream.read(0)
        while True:
            data = stream.blocking_read(size)
            if data:
                return data
            block_until_ready(ctx, [stream.pollable()])
    except (StreamClosed, StreamFailed) as err:
        return stream_error(ctx, err)


def _skip(ctx: WasiCtx, self: Any, size: int, blocking: bool) -> Any:
    result = (input_blocking_read if blocking else input_read)(ctx, self, size)
    return len(result) if isinstance(result, bytes) else result


@STREAMS.func("[method]input-stream.skip")
def input_skip(ctx: WasiCtx, self: Any, size: int) -> Any:
    return _skip(ctx, self, size, False)


@STREAMS.func("[method]input-stream.blocking-skip")
def input_blocking_skip(ctx: WasiCtx, self: Any, size: int) -> Any:
    return _skip(ctx, self, size, True)


@STREAMS.func("[method]input-stream.subscribe")
def input_subscribe(ctx: WasiCtx, self: Any) -> ResourceHost:
    stream = ctx.get(self, InputStream)
    return ctx.own(stream.adopt(stream.pollable()), Res.POLLABLE)


@STREAMS.func("[method]output-stream.check-write")
def output_check_write(ctx: WasiCtx, self: Any) -> Any:
    stream = ctx.get(self, OutputStream)
    try:
        return stream.check_write()
    except (StreamClosed, StreamFailed) as err:
        return stream_error(ctx, err)


@STREAMS.func("[method]output-stream.write")
def output_write(ctx: WasiCtx, self: Any, contents: bytes) -> Variant:
    stream = ctx.get(self, OutputStream)
    try:
        stream.write(contents)
    except (StreamClosed, StreamFailed) as err:
        return Variant("err", stream_error(ctx, err))
    return OK_UNIT


@STREAMS.func("[method]output-stream.blocking-write-and-flush")
def output_blocking_write_and_flush(ctx: WasiCtx, self: Any, contents: bytes) -> Variant:
    stream = ctx.get(self, OutputStream)
    if len(contents) > BLOCKING_WRITE_LIMIT:
        raise trap(f"Buffer too large for blocking-write-and-flush (expected at most {BLOCKING_WRITE_LIMIT})")
    try:
        stream.emit(contents)
        stream.blocking_flush()
    except (StreamClosed, StreamFailed) as err:
        return Variant("err", stream_error(ctx, err))
    return OK_UNIT


@STREAMS.func("[method]output-stream.flush")
def output_flush(ctx: WasiCtx, self: Any) -> Variant:
    stream = ctx.get(self, OutputStream)
    return unit_result(ctx, stream.flush)


@STREAMS.func("[method]output-stream.blocking-flush")
def output_blocking_flush(ctx: WasiCtx, self: Any) -> Variant:
    stream = ctx.get(self, OutputStream)
    try:
        stream.blocking_flush()
    except (StreamClosed, StreamFailed) as err:
        return Variant("err", stream_error(ctx, err))
    return OK_UNIT


@STREAMS.func("[method]output-stream.subscribe")
def output_subscribe(ctx: WasiCtx, self: Any) -> ResourceHost:
    stream = ctx.get(self, OutputStream)
    return ctx.own(stream.adopt(Pollable(stream.ready)), Res.POLLABLE)


@STREAMS.func("[method]output-stream.write-zeroes")
def output_write_zeroes(ctx: WasiCtx, self: Any, size: int) -> Variant:
    stream = ctx.get(self, OutputStream)
    return unit_result(ctx, lambda: stream.write(bytes(size)))


@STREAMS.func("[method]output-stream.blocking-write-zeroes-and-flush")
def output_blocking_write_zeroes_and_flush(ctx: WasiCtx, self: Any, size: int) -> Variant:
    stream = ctx.get(self, OutputStream)
    if size > BLOCKING_WRITE_LIMIT:
        raise trap(f"Buffer too large for blocking-write-zeroes-and-flush (expected at most {BLOCKING_WRITE_LIMIT})")

    def run() -> None:
        stream.emit(bytes(size))
        stream.blocking_flush()

    return unit_result(ctx, run)


def _splice(ctx: WasiCtx, self: Any, src: Any, size: int, blocking: bool) -> Any:
    out = ctx.get(self, OutputStream)
    source = ctx.get(src, InputStream)
    try:
        if blocking:
            size = min(size, BLOCKING_WRITE_LIMIT)
        else:
            size = min(size, out.check_write())
        data = source.blocking_read(_check_len(ctx, size)) if blocking else source.read(_check_len(ctx, size))
        out.emit(data)
        if blocking:
            out.blocking_flush()
        return len(data)
    except (StreamClosed, StreamFailed) as err:
        return stream_error(ctx, err)


@STREAMS.func("[method]output-stream.splice")
def output_splice(ctx: WasiCtx, self: Any, src: Any, size: int) -> Any:
    return _splice(ctx, self, src, size, False)


@STREAMS.func("[method]output-stream.blocking-splice")
def output_blocking_splice(ctx: WasiCtx, self: Any, src: Any, size: int) -> Any:
    return _splice(ctx, self, src, size, True)
