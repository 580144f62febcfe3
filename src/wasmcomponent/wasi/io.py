"""``wasi:io`` 0.2: error, poll and streams, and the stream backends the other packages use.

Streams are Python objects (:class:`InputStream`, :class:`OutputStream`)
whose methods raise :class:`StreamClosed` or :class:`StreamFailed`; the
functions registered here turn those into WIT values:

* ``result<list<u8>, stream-error>`` and ``result<u64, stream-error>`` are
  untagged in the Python value model: ``bytes``/``int`` is ok, ``None`` is
  ``err(closed)``, an ``error`` resource is ``err(last-operation-failed)``;
* ``result<_, stream-error>`` is tagged: ``Variant("ok")`` /
  ``Variant("err", None | error)``.

Output backends accept everything at once,
so ``check-write`` always grants the same size (:data:`STREAM_PERMIT`, 64 KiB,
for stdio and file streams, as wasmtime 50 grants; 8 KiB for a
``stdout_custom`` callback, as wasmtime's; :data:`WRITE_PERMIT` for others); with
``strict_permits`` (the default) writing more than the last grant traps,
as does ``blocking-write-and-flush`` of more than 4096 bytes (wasmtime's
limit).  ``flush`` only starts a flush (:meth:`OutputStream.flush`); the
``blocking-*`` calls wait for it (:meth:`OutputStream.blocking_flush`).
Pollables are ready, timed (a monotonic deadline) or backed by a stream's
readiness; ``poll`` waits on file descriptors with ``select`` and on
deadlines by sleeping (or by advancing a virtual clock).

The blocking functions (``poll``, ``pollable.block``, the ``blocking-*``
calls) have asyncio variants, used by instances made under a running event
loop: steps that do all the work and yield only what they wait for
(:class:`Wait`, decided by :func:`next_wait` for both modes), waited for on
the loop (:mod:`.aio`).  The cold ones are written once as steps
(:func:`blocking`) that the sync function runs waiting in the thread.

Guest-chosen integers (issue #10) get wasmtime's answers, and never size a
host allocation beyond a limit:

* lengths of ``read``/``skip``/``blocking-*`` are clamped to
  ``WasiConfig.max_read_size``, as wasmtime clamps to its 64 KiB read size;
* ``write-zeroes(n)`` traps when ``n`` exceeds what ``check-write`` grants
  at that moment (wasmtime's "cannot write more zeroes than `check_write`
  allows"), so it allocates at most one grant; ``blocking-write-zeroes-and-flush``
  traps above 4096; ``splice`` moves at most one grant (and ``splice(0)`` is
  ``ok(0)`` without touching the source);
* a file stream at an offset the host cannot seek to (2**63 and above) fails
  with ``last-operation-failed`` carrying ``invalid``;
* a ``stdout_buffer()``/``stderr_buffer()`` sink holds at most
  ``WasiConfig.max_buffer_bytes``, like wasmtime's ``MemoryOutputPipe``:
  ``check-write`` grants only the room left and is ``closed`` once full, a
  ``write`` past the room traps ("write beyond capacity of the stdout
  buffer"), and the ``blocking-*`` calls write what fits, then report ``closed``.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from concurrent.futures import Future
from concurrent.futures import wait as futures_wait
from typing import TYPE_CHECKING, Any, Callable, Generator, NamedTuple, Optional, TypeVar, Union

from ..runtime.resources import ResourceHost
from ..types.values import Variant
from .ctx import HostObject, Interface, Res, trap

if TYPE_CHECKING:
    from .ctx import WasiCtx

WRITE_PERMIT = 1 << 20
# What wasmtime 50's check-write grants on stdio and file streams (and 8 KiB on a custom stdout).
STREAM_PERMIT = 64 << 10
CALLBACK_PERMIT = 8 << 10
BLOCKING_WRITE_LIMIT = 4096
MAX_BLOCKING_ATTEMPTS = 10
# The largest file offset the host's pread/pwrite take (off_t); beyond it wasmtime fails with EINVAL.
MAX_FILE_OFFSET = (1 << 63) - 1
# The longest single sleep while waiting on a deadline; longer waits loop (Python's sleep overflows
# for timeouts past about 2**63 ns, and a guest chooses the deadline).
MAX_SLEEP_SECONDS = 86400.0
MAX_SLEEP_NS = 86400 * 10**9
OK_UNIT = Variant("ok", None)
ERR_CLOSED = Variant("err", None)
T = TypeVar("T")


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


class Signal:
    """Readiness that another thread changes (an HTTP response arriving, a body chunk taken).

    The producer calls :meth:`notify` after each change; an asyncio waiter
    (``wasi.aio``) registers with :meth:`watch` and sleeps until then, instead
    of looking at the readiness check every millisecond as the sync ``poll``
    does.  ``version`` counts the changes, so a change between a check and the
    registration is never missed.
    """

    __slots__ = ("version", "_waiters", "_lock")

    def __init__(self) -> None:
        self.version = 0
        self._waiters: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def notify(self) -> None:
        """Readiness may have changed (any thread): wake the registered waiters, once."""
        with self._lock:
            self.version += 1
            waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake()

    def watch(self, seen: int, wake: Callable[[], None]) -> bool:
        """Call ``wake()`` at the next change; False (nothing registered) if one came since ``version`` was ``seen``."""
        with self._lock:
            if self.version != seen:
                return False
            self._waiters.append(wake)
            return True

    def unwatch(self, wake: Callable[[], None]) -> None:
        with self._lock:
            if wake in self._waiters:
                self._waiters.remove(wake)


class Pollable(HostObject):
    """A readiness source: ``ready()``; ``deadline`` (monotonic ns), ``fileno`` and ``signal`` help waiting."""

    __slots__ = ("check", "deadline", "fileno", "signal", "wfileno")

    def __init__(
        self,
        check: Optional[Callable[[], bool]] = None,
        deadline: Optional[int] = None,
        fileno: Optional[int] = None,
        signal: Optional[Signal] = None,
        wfileno: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.check = check
        self.deadline = deadline
        self.fileno = fileno  # ``check`` may turn true when it is readable
        self.signal = signal  # notified when ``check`` may have changed
        self.wfileno = wfileno  # ``check`` may turn true when it is writable

    def ready(self, now: int) -> bool:
        if self.deadline is not None:
            return now >= self.deadline
        check = self.check
        return True if check is None else check()


class NeverReady(Pollable):
    """A deadline too far to ever come (past 2**64-1 ns): waiting on it alone sleeps, as wasmtime's never wakes."""

    __slots__ = ()

    def ready(self, now: int) -> bool:
        return False


class YieldOnce(Pollable):
    """A deadline already reached: ready from the second look on, as wasmtime's.

    wasmtime's past deadline yields to its event loop once before reporting
    ready, so ``subscribe-duration(0).ready()`` is false the first time and
    true after; ``poll``/``block`` see it ready at once (they look twice).
    """

    __slots__ = ("yielded",)

    def __init__(self) -> None:
        super().__init__()
        self.yielded = False

    def ready(self, now: int) -> bool:
        if self.yielded:
            return True
        self.yielded = True
        return False


class Wait(NamedTuple):
    """What a blocking call waits for before it looks again: readable descriptors, a timeout.

    ``signals``: when every readiness check being waited on has a
    :class:`Signal` (with the version seen before the check), an asyncio
    waiter may wait for them and ``signal_timeout`` (the deadlines' timeout)
    instead of looking again after ``timeout`` (a millisecond).
    """

    timeout: Optional[int]  # nanoseconds of the context's monotonic clock; None: no limit
    fds: list[int]  # wait until one of them is readable (or the timeout)
    signals: Optional[list[tuple[Signal, int]]] = None
    signal_timeout: Optional[int] = None
    wfds: tuple[int, ...] = ()  # or one of these is writable

    def seconds(self) -> Optional[float]:
        """The timeout in seconds for ``select``/``sleep`` (at most a day: longer waits loop)."""
        timeout = self.timeout
        return None if timeout is None else min(max(timeout, 0) / 1e9, MAX_SLEEP_SECONDS)


# What a blocking call yields while it waits: a :class:`Wait`, or the future of work that blocks
# running on a helper thread (:func:`in_thread`).  The sync driver (:func:`run_blocking`) waits
# in the thread, the asyncio one (``wasi.aio``) on the loop; everything else runs on the caller's
# thread.
Steps = Generator[Union[Wait, "Future[Any]"], None, T]


def in_thread(work: Callable[..., T], *args: Any) -> Future[T]:
    """``work(*args)`` on a new daemon thread (under asyncio, for work that blocks and cannot wait on the loop).

    A daemon thread, not the loop's executor: such work (a read of the host's
    stdin, a name lookup) may take long or never end, and ``asyncio.run``
    waits for its executor's threads at exit.  The thread ends when ``work``
    returns; nothing interrupts it.
    """
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(work(*args))
        except BaseException as err:  # noqa: BLE001 - handed to whoever takes the result
            future.set_exception(err)

    threading.Thread(target=run, name="wasi-blocking", daemon=True).start()
    return future


def next_wait(ctx: WasiCtx, pollables: list[Pollable]) -> Union[list[int], Wait]:
    """The indices of the ready pollables, or what to wait for before looking again.

    The one place that decides how ``poll``/``block`` wait, for the sync and
    the asyncio drivers: deadline-only waits under a virtual clock advance it
    here (no wait at all); pollables with only a readiness check are looked
    at again every millisecond (or, under asyncio with real clocks, when
    their :class:`Signal` says so).
    """
    clocks = ctx.clocks
    while True:
        now = clocks.monotonic_now()
        ready = [i for i, p in enumerate(pollables) if p.ready(now)]
        if ready:
            return ready
        if any(type(p) is YieldOnce for p in pollables):
            continue  # it has yielded now: ready on the next look
        deadlines = [p.deadline for p in pollables if p.deadline is not None]
        fds = [p.fileno for p in pollables if p.fileno is not None]
        wfds = tuple(p.wfileno for p in pollables if p.wfileno is not None)
        # (a NeverReady has no check: waiting on it alone sleeps)
        checks = [
            p for p in pollables if p.deadline is None and p.fileno is None and p.wfileno is None and p.check is not None
        ]
        timeout: Optional[int] = min(deadlines) - now if deadlines else None
        if clocks.virtual and timeout is not None and not fds and not wfds and not checks:
            clocks.advance(timeout)
            continue
        if not checks:
            return Wait(timeout, fds, None, None, wfds)
        polled = 1_000_000 if timeout is None else min(timeout, 1_000_000)
        if clocks.virtual or any(p.signal is None for p in checks):
            return Wait(polled, fds, None, None, wfds)
        signals = [(p.signal, p.signal.version) for p in checks if p.signal is not None]
        if any(p.check() for p in checks if p.check is not None):  # changed before the versions were noted
            continue
        return Wait(polled, fds, signals, timeout, wfds)


def wait_ready(ctx: WasiCtx, pollables: list[Pollable]) -> Steps[list[int]]:
    """Steps of waiting until at least one of ``pollables`` is ready; returns the ready indices."""
    while True:
        step = next_wait(ctx, pollables)
        if type(step) is list:
            return step
        yield step  # type: ignore[misc]


def wait_in_thread(ctx: WasiCtx, wait: Union[Wait, Future[Any]]) -> None:
    """Do one :class:`Wait` blocking the calling thread (the sync driver's wait)."""
    if isinstance(wait, Future):
        futures_wait([wait])
        return
    seconds = wait.seconds()
    if wait.fds or wait.wfds:
        try:
            select.select(wait.fds, wait.wfds, [], seconds)
        except (OSError, ValueError):
            time.sleep(0.001)
    elif seconds is None:
        time.sleep(3600)  # nothing can become ready: wait as wasmtime does (forever)
    else:
        ctx.clocks.sleep(min(max(wait.timeout or 0, 0), MAX_SLEEP_NS))  # the caller waits the rest


def run_blocking(ctx: WasiCtx, steps: Steps[T]) -> T:
    """Run a blocking call's steps to the end, waiting in this thread."""
    try:
        while True:
            wait_in_thread(ctx, next(steps))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def block_until_ready(ctx: WasiCtx, pollables: list[Pollable]) -> list[int]:
    """Indices of the ready pollables, waiting (in this thread) until at least one is.

    :func:`wait_ready` run by :func:`run_blocking`, spelled out: the sync
    ``poll``/``block`` are hot (guests poll in loops), and generators cost.
    """
    while True:
        step = next_wait(ctx, pollables)
        if type(step) is list:
            return step
        wait_in_thread(ctx, step)  # type: ignore[arg-type]


def blocking(iface: Interface, wit_name: str) -> Callable[[Callable[..., Steps[Any]]], Callable[..., Any]]:
    """Register a blocking WIT function written once, as steps ``f(ctx, *args, off_loop)``.

    Returns the sync function.  ``iface.funcs`` gets it (the steps run with
    :func:`run_blocking`, ``off_loop`` false: reads may block the thread);
    ``iface.async_funcs`` the variant an instance made under asyncio uses
    (``off_loop`` true: nothing blocks the thread; see :mod:`.aio`).  For
    the calls that are not hot; the hot ones (``poll``, ``block``,
    ``blocking-read``, the blocking writes) keep plain sync functions and
    register steps for asyncio only (``Interface.async_func``).
    """

    def register(f: Callable[..., Steps[Any]]) -> Callable[..., Any]:
        def sync(ctx: WasiCtx, *args: Any) -> Any:
            return run_blocking(ctx, f(ctx, *args, False))

        def off_loop(ctx: WasiCtx, *args: Any) -> Any:
            from .aio import run_steps

            return run_steps(ctx, f(ctx, *args, True))

        sync.__name__ = off_loop.__name__ = f.__name__
        iface.funcs[wit_name] = sync
        iface.async_funcs[wit_name] = off_loop
        return sync

    return register


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

    def blocking_read_zero(self) -> bytes:
        """``blocking-read(0)``: what a zero-length read answers (wasmtime: ``read(0)`` once ready)."""
        return self.read(0)

    def read_later(self, size: int) -> Optional[Future[bytes]]:
        """Under asyncio, for a stream whose ``read`` may block the thread: that read, started on a helper thread.

        None (the default) when ``read`` never blocks.  The future's result is
        not the answer: the next ``read`` on the loop thread takes it from the
        source (so a read whose waiter was cancelled loses nothing).
        """
        return None

    def ready(self) -> bool:
        return True

    def fileno(self) -> Optional[int]:
        return None

    def ready_signal(self) -> Optional[Signal]:
        """What another thread notifies when :meth:`ready` may change (None: nothing does)."""
        return None

    def pollable(self) -> Pollable:
        fd = self.fileno()
        return Pollable(self.ready, None, fd, self.ready_signal())


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

    def read_later(self, size: int) -> Optional[Future[bytes]]:
        return self.source.read_later(size)

    def ready_signal(self) -> Optional[Signal]:
        return getattr(self.source, "signal", None)

    def ready(self) -> bool:
        return self.source.ready()

    def fileno(self) -> Optional[int]:
        return self.source.fileno()


class InputSource:
    """Where a shared input stream's bytes come from."""

    def read(self, size: int, block: bool) -> bytes:
        raise StreamClosed

    def read_later(self, size: int) -> Optional[Future[bytes]]:
        """See :meth:`InputStream.read_later`."""
        return None

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
    """A binary file-like object; its ``read`` may block (it is treated as always ready).

    Under asyncio its reads run on a helper thread (:meth:`read_later`,
    :func:`in_thread`), one at a time.  The thread ends when the reader's
    ``read`` returns; what it read waits in the source for the next ``read``.
    """

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.eof = False
        self.pending: Optional[Future[bytes]] = None
        self.rest = b""  # what a helper thread read beyond the size of the read that takes it

    def read(self, size: int, block: bool) -> bytes:
        rest = self.rest
        if rest:
            self.rest = rest[size:]
            return rest[:size]
        if self.eof:
            raise StreamClosed
        pending = self.pending
        if pending is not None:  # a helper thread's read (maybe of another size): this read's bytes
            self.pending = None
            data = pending.result()
        else:
            data = self.reader.read(size)
        if isinstance(data, str):
            data = data.encode()
        if not data:
            self.eof = True
            raise StreamClosed
        data = bytes(data)
        if len(data) > size:
            self.rest = data[size:]
            data = data[:size]
        return data

    def read_later(self, size: int) -> Optional[Future[bytes]]:
        if self.eof or self.rest:
            return None
        pending = self.pending
        if pending is None:
            pending = self.pending = in_thread(self.reader.read, size)
        return pending


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


def _offset_failure() -> StreamFailed:
    """wasmtime's answer to a file offset past ``off_t``: the host call fails with EINVAL."""
    return StreamFailed(IoError("Invalid argument (os error 22)", "invalid"))


class FileInput(InputStream):
    """``read-via-stream``: positional reads of a host file, with the stream's own offset."""

    __slots__ = ("fd", "offset", "closed")

    def __init__(self, fd: int, offset: int) -> None:
        super().__init__()
        self.fd = fd
        self.offset = offset
        self.closed = False

    def read(self, size: int) -> bytes:
        if self.closed:
            raise StreamClosed
        if self.offset > MAX_FILE_OFFSET:
            raise _offset_failure()
        try:
            data = os.pread(self.fd, size, self.offset)
        except OSError as err:
            raise failed_from_oserror(err) from None
        except OverflowError:  # offset + size past off_t
            raise _offset_failure() from None
        if not data and size > 0:
            raise StreamClosed
        self.offset += len(data)
        return data

    def blocking_read_zero(self) -> bytes:
        # wasmtime reads 0 bytes from the file, takes the 0 for the end of the file, and the
        # stream stays closed from then on.
        self.closed = True
        raise StreamClosed


# ------------------------------------------------------------------ output streams


class Sink:
    """Where an output stream's bytes go; ``write`` takes everything (up to :meth:`room`)."""

    grant = STREAM_PERMIT  # what check-write grants

    def room(self) -> Optional[int]:
        """How many more bytes the sink holds (None: no limit)."""
        return None

    def write(self, data: bytes) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class DiscardSink(Sink):
    pass


class BufferSink(Sink):
    """A ``bytearray`` the embedder reads, holding at most ``limit`` bytes (``max_buffer_bytes``).

    The room is what the buffer holds less than the limit, so an embedder that
    empties the buffer between runs gives the room back.
    """

    def __init__(self, buffer: bytearray, limit: Optional[int] = None, name: str = "output") -> None:
        self.buffer = buffer
        self.limit = limit
        self.name = name

    def room(self) -> Optional[int]:
        limit = self.limit
        return None if limit is None else max(limit - len(self.buffer), 0)

    def write(self, data: bytes) -> None:
        self.buffer += data


class CallbackSink(Sink):
    grant = CALLBACK_PERMIT

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
    GRANT = WRITE_PERMIT  # what check-write grants

    def __init__(self, strict: bool = True) -> None:
        super().__init__()
        self.permit = 0
        self.strict = strict

    def check_write(self) -> int:
        self.permit = grant = self.GRANT
        return grant

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

    def flush_wait(self) -> Optional[Pollable]:
        """One step of :meth:`blocking_flush` that does not block (the asyncio drivers' form).

        Starts or continues the flush; None once it completed, else a pollable
        to wait on before calling again.  By default :meth:`blocking_flush`,
        for backends whose flush completes at once.
        """
        self.blocking_flush()
        return None

    def ready(self) -> bool:
        return True

    def ready_signal(self) -> Optional[Signal]:
        """What another thread notifies when :meth:`ready` may change (None: nothing does)."""
        return None

    def pollable(self) -> Pollable:
        """The readiness of this stream (``subscribe``)."""
        return Pollable(self.ready, None, None, self.ready_signal())


class SinkOutput(OutputStream):
    """A handle on a shared :class:`Sink` (stdout, stderr), bounded by the sink's :meth:`~Sink.room`.

    As wasmtime's ``MemoryOutputPipe``: ``check-write`` grants at most the room
    left and is ``closed`` once there is none; ``write`` past the room traps;
    ``emit`` (the ``blocking-*`` calls) writes what fits, then reports ``closed``.
    """

    __slots__ = ("sink",)

    def __init__(self, sink: Sink, strict: bool = True) -> None:
        super().__init__(strict)
        self.sink = sink

    def check_write(self) -> int:
        sink = self.sink
        room = sink.room()
        if room is None:
            self.permit = sink.grant
        elif room <= 0:
            raise StreamClosed  # full for good: nothing more will ever be written
        else:
            self.permit = min(sink.grant, room)
        return self.permit

    def write(self, data: bytes) -> None:
        room = self.sink.room()
        if room is not None and len(data) > room:
            raise trap(f"write beyond capacity of the {getattr(self.sink, 'name', 'output')} buffer (max_buffer_bytes)")
        super().write(data)

    def emit(self, data: bytes) -> None:
        room = self.sink.room()
        if room is not None and len(data) > room:
            self._deliver(data[:room])
            raise StreamClosed
        self._deliver(data)

    def _deliver(self, data: bytes) -> None:
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
    GRANT = STREAM_PERMIT

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
                if self.offset > MAX_FILE_OFFSET:
                    raise _offset_failure()
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
    """A guest's read length clamped to ``max_read_size`` (the most one call allocates)."""
    return min(size, ctx.config.max_read_size)


@ERROR.func("[method]error.to-debug-string")
def error_to_debug_string(ctx: WasiCtx, self: Any) -> str:
    return ctx.get(self, IoError).message


@POLL.func("[method]pollable.ready")
def pollable_ready(ctx: WasiCtx, self: Any) -> bool:
    return ctx.get(self, Pollable).ready(ctx.clocks.monotonic_now())


def _pollables(ctx: WasiCtx, handles: list[Any]) -> list[Pollable]:
    if not handles:
        raise trap("empty poll list")
    return [ctx.get(p, Pollable) for p in handles]


@POLL.func("[method]pollable.block")
def pollable_block(ctx: WasiCtx, self: Any) -> None:
    block_until_ready(ctx, [ctx.get(self, Pollable)])


@POLL.func("poll")
def poll(ctx: WasiCtx, pollables: list[Any]) -> list[int]:
    return block_until_ready(ctx, _pollables(ctx, pollables))


@POLL.async_func("[method]pollable.block")
def pollable_block_off_loop(ctx: WasiCtx, self: Any) -> Any:
    from .aio import run_steps

    return run_steps(ctx, wait_ready(ctx, [ctx.get(self, Pollable)]))


@POLL.async_func("poll")
def poll_off_loop(ctx: WasiCtx, pollables: list[Any]) -> Any:
    from .aio import run_steps

    return run_steps(ctx, wait_ready(ctx, _pollables(ctx, pollables)))


@STREAMS.func("[method]input-stream.read")
def input_read(ctx: WasiCtx, self: Any, size: int) -> Any:
    stream = ctx.get(self, InputStream)
    try:
        return stream.read(_check_len(ctx, size))
    except (StreamClosed, StreamFailed) as err:
        return stream_error(ctx, err)


def _blocking_read(ctx: WasiCtx, stream: InputStream, size: int) -> bytes:
    """At least one byte (at most ``size``, already clamped), waiting for it in the thread; raises at the end."""
    if size == 0:
        return stream.blocking_read_zero()
    while True:
        data = stream.blocking_read(size)
        if data:
            return data
        block_until_ready(ctx, [stream.pollable()])


def _read_steps(ctx: WasiCtx, stream: InputStream, size: int) -> Steps[bytes]:
    """:func:`_blocking_read` for asyncio: the thread never blocks.

    A stream whose reads block reads on a helper thread (``read_later``); the
    others read without waiting, then wait on their pollable.
    """
    if size == 0:
        return stream.blocking_read_zero()
    while True:
        later = stream.read_later(size)
        if later is not None and not later.done():
            yield later
        data = stream.read(size)
        if data:
            return data
        yield Wait(0, [])  # a turn for the loop, even if the stream says it is ready (it may spin)
        yield from wait_ready(ctx, [stream.pollable()])


def _read(ctx: WasiCtx, stream: InputStream, size: int, off_loop: bool) -> Steps[bytes]:
    """The blocking read of ``stream`` for either driver."""
    if off_loop:
        return (yield from _read_steps(ctx, stream, size))
    return _blocking_read(ctx, stream, size)


def flush_steps(ctx: WasiCtx, stream: OutputStream, off_loop: bool) -> Steps[None]:
    """``stream.blocking_flush()``, in steps that wait off the thread when ``off_loop`` (raises as it does)."""
    if not off_loop:
        stream.blocking_flush()
        return
    while True:
        pollable = stream.flush_wait()
        if pollable is None:
            return
        yield from wait_ready(ctx, [pollable])


def _read_result(ctx: WasiCtx, self: Any, size: int, off_loop: bool) -> Steps[Any]:
    """``blocking-read``'s untagged ``result<list<u8>, stream-error>``."""
    stream = ctx.get(self, InputStream)
    try:
        return (yield from _read(ctx, stream, _check_len(ctx, size), off_loop))
    except (StreamClosed, StreamFailed) as err:
        return stream_error(ctx, err)


@STREAMS.func("[method]input-stream.blocking-read")
def input_blocking_read(ctx: WasiCtx, self: Any, size: int) -> Any:
    stream = ctx.get(self, InputStream)
    try:
        return _blocking_read(ctx, stream, _check_len(ctx, size))
    except (StreamClosed, StreamFailed) as err:
        return stream_error(ctx, err)


@STREAMS.async_func("[method]input-stream.blocking-read")
def input_blocking_read_off_loop(ctx: WasiCtx, self: Any, size: int) -> Any:
    from .aio import run_steps

    return run_steps(ctx, _read_result(ctx, self, size, True))


@STREAMS.func("[method]input-stream.skip")
def input_skip(ctx: WasiCtx, self: Any, size: int) -> Any:
    result = input_read(ctx, self, size)
    return len(result) if isinstance(result, bytes) else result


@blocking(STREAMS, "[method]input-stream.blocking-skip")
def input_blocking_skip(ctx: WasiCtx, self: Any, size: int, off_loop: bool) -> Steps[Any]:
    result = yield from _read_result(ctx, self, size, off_loop)
    return len(result) if isinstance(result, bytes) else result


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


def _check_blocking_write(size: int, name: str) -> None:
    if size > BLOCKING_WRITE_LIMIT:
        raise trap(f"Buffer too large for {name} (expected at most {BLOCKING_WRITE_LIMIT})")


# The blocking writes and flushes: plain sync functions (they are the hot path of every guest
# print, served directly by ``_direct``), and their steps for instances under asyncio.


@STREAMS.func("[method]output-stream.blocking-write-and-flush")
def output_blocking_write_and_flush(ctx: WasiCtx, self: Any, contents: bytes) -> Variant:
    stream = ctx.get(self, OutputStream)
    _check_blocking_write(len(contents), "blocking-write-and-flush")
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


def _write_and_flush(ctx: WasiCtx, stream: OutputStream, data: Optional[bytes], off_loop: bool) -> Steps[Variant]:
    """Emit ``data`` (None: nothing), then flush, waiting for it; the tagged ``result<_, stream-error>``."""
    try:
        if data is not None:
            stream.emit(data)
        yield from flush_steps(ctx, stream, off_loop)
    except (StreamClosed, StreamFailed) as err:
        return Variant("err", stream_error(ctx, err))
    return OK_UNIT


@STREAMS.async_func("[method]output-stream.blocking-write-and-flush")
def output_blocking_write_and_flush_off_loop(ctx: WasiCtx, self: Any, contents: bytes) -> Any:
    from .aio import run_steps

    stream = ctx.get(self, OutputStream)
    _check_blocking_write(len(contents), "blocking-write-and-flush")
    return run_steps(ctx, _write_and_flush(ctx, stream, contents, True))


@STREAMS.async_func("[method]output-stream.blocking-flush")
def output_blocking_flush_off_loop(ctx: WasiCtx, self: Any) -> Any:
    from .aio import run_steps

    return run_steps(ctx, _write_and_flush(ctx, ctx.get(self, OutputStream), None, True))


@STREAMS.func("[method]output-stream.subscribe")
def output_subscribe(ctx: WasiCtx, self: Any) -> ResourceHost:
    stream = ctx.get(self, OutputStream)
    return ctx.own(stream.adopt(stream.pollable()), Res.POLLABLE)


@STREAMS.func("[method]output-stream.write-zeroes")
def output_write_zeroes(ctx: WasiCtx, self: Any, size: int) -> Variant:
    stream = ctx.get(self, OutputStream)

    def run() -> None:
        # As wasmtime: measured against a fresh check-write grant (not the guest's last one),
        # so the zeroes allocated are at most one grant.
        if size > stream.check_write():
            raise trap("cannot write more zeroes than check-write allows")
        stream.write(bytes(size))

    return unit_result(ctx, run)


@blocking(STREAMS, "[method]output-stream.blocking-write-zeroes-and-flush")
def output_blocking_write_zeroes_and_flush(ctx: WasiCtx, self: Any, size: int, off_loop: bool) -> Steps[Variant]:
    stream = ctx.get(self, OutputStream)
    _check_blocking_write(size, "blocking-write-zeroes-and-flush")
    return (yield from _write_and_flush(ctx, stream, bytes(size), off_loop))


def _splice(ctx: WasiCtx, self: Any, src: Any, size: int, blocking: bool, off_loop: bool) -> Steps[Any]:
    out = ctx.get(self, OutputStream)
    source = ctx.get(src, InputStream)
    try:
        # As wasmtime: at most what the destination grants now; 0 touches neither stream.
        permit = out.check_write()
        if blocking:
            attempts = 0
            while permit == 0:
                # wasmtime's write-ready gives up after 10 wake-ups that grant nothing
                if attempts == MAX_BLOCKING_ATTEMPTS:
                    raise trap("max blocking attempts exceeded")
                attempts += 1
                yield from wait_ready(ctx, [out.pollable()])
                permit = out.check_write()
        size = _check_len(ctx, min(size, permit))
        if size == 0:
            return 0
        if blocking:
            data = yield from _read(ctx, source, size, off_loop)
            out.emit(data)
            yield from flush_steps(ctx, out, off_loop)
        else:
            data = source.read(size)
            if data:
                out.write(data)
        return len(data)
    except (StreamClosed, StreamFailed) as err:
        return stream_error(ctx, err)


@STREAMS.func("[method]output-stream.splice")
def output_splice(ctx: WasiCtx, self: Any, src: Any, size: int) -> Any:
    return run_blocking(ctx, _splice(ctx, self, src, size, False, False))  # (never waits)


@blocking(STREAMS, "[method]output-stream.blocking-splice")
def output_blocking_splice(ctx: WasiCtx, self: Any, src: Any, size: int, off_loop: bool) -> Steps[Any]:
    return (yield from _splice(ctx, self, src, size, True, off_loop))
