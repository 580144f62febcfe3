"""Streams and futures (``definitions.py``: buffers, ``SharedStreamImpl``, ``SharedFutureImpl``, ends).

A stream or future is one shared object with a readable and a writable end;
each end lives in some instance's handle table (and moves between tables
when passed in a call).  A copy is a rendezvous: the first side to arrive
leaves its buffer pending, the second copies as much as both buffers allow,
and each side hears about it through an event on its end.

Buffers are guest memory ranges checked once, when the read or write starts
(alignment, bounds, ``Buffer.MAX_LENGTH``).  Elements move through the ABI's
element codec: types whose values are plain bytes (``stream<u8>``, numbers)
are copied as bytes in one slice, never one Python object per element.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Callable, Optional

from .traps import trap
from .waitables import EventCode, Waitable

__all__ = [
    "MAX_BUFFER_LENGTH",
    "CopyResult",
    "CopyState",
    "COMPLETED",
    "DROPPED",
    "CANCELLED",
    "IDLE",
    "COPYING",
    "CANCELLING_COPY",
    "DONE",
    "GuestBuffer",
    "SharedStream",
    "SharedFuture",
    "CopyEnd",
    "ReadableStreamEnd",
    "WritableStreamEnd",
    "ReadableFutureEnd",
    "WritableFutureEnd",
]

MAX_BUFFER_LENGTH = 2**28 - 1


class CopyResult(IntEnum):
    COMPLETED = 0
    DROPPED = 1
    CANCELLED = 2


class CopyState(IntEnum):
    IDLE = 1
    COPYING = 2
    CANCELLING_COPY = 3
    DONE = 4


# The members as module globals for the hot paths: reading one is a dict
# lookup, where ``CopyState.IDLE`` goes through the enum's metaclass (~0.1 us).
COMPLETED, DROPPED, CANCELLED = CopyResult.COMPLETED, CopyResult.DROPPED, CopyResult.CANCELLED
IDLE, COPYING, CANCELLING_COPY, DONE = CopyState.IDLE, CopyState.COPYING, CopyState.CANCELLING_COPY, CopyState.DONE


class GuestBuffer:
    """A range of guest memory being read from or written to (spec ``BufferGuestImpl``)."""

    __slots__ = ("codec", "cx", "ptr", "progress", "length", "role", "fresh_view")

    def __init__(self, codec: Any, cx: Any, ptr: int, length: int, role: str = "read") -> None:
        # wasmtime checks the bounds when the operation starts (one message for
        # either side) and the alignment only when elements are copied.
        if length > MAX_BUFFER_LENGTH:
            raise trap("stream read/write count too large")
        # The view of the memory the bounds were checked against: exact until
        # wasm runs again (only then can a memory grow and move), so valid for
        # a copy made by the same built-in call, which clears it when it returns.
        self.fresh_view: Any = None
        if codec.size and length > 0:
            memory = cx.memory
            if memory is None:
                raise trap("read pointer out of bounds of memory")
            view = memory.view()
            if ptr + length * codec.size > len(view):
                raise trap("read pointer out of bounds of memory")
            if codec.plain:  # only a plain copy uses it: one that runs no realloc meanwhile
                self.fresh_view = view
        self.codec = codec
        self.cx = cx
        self.ptr = ptr
        self.progress = 0
        self.length = length
        self.role = role  # "read": the reader's buffer, "write": the writer's

    def _aligned(self) -> None:
        if self.ptr % self.codec.alignment:
            raise trap(f"{self.role} pointer not aligned")

    @property
    def plain_bytes(self) -> bool:
        """Whether elements are plain bytes in memory (copied as one slice)."""
        return bool(self.codec.plain)

    def remain(self) -> int:
        return self.length - self.progress

    def is_zero_length(self) -> bool:
        return self.length == 0

    def read(self, n: int) -> list:
        """Lift the next ``n`` elements (spec ``ReadableBufferGuestImpl.read``)."""
        self._aligned()
        values = self.codec.load_many(self.cx, self.ptr, n)
        self.ptr += n * self.codec.size
        self.progress += n
        return values  # type: ignore[no-any-return]

    def write(self, values: list) -> None:
        """Lower ``values`` after the elements already written."""
        self._aligned()
        self.codec.store_many(self.cx, values, self.ptr)
        self.ptr += len(values) * self.codec.size
        self.progress += len(values)

    def read_bytes(self, n: int) -> bytes:
        self._aligned()
        data = self.codec.load_bytes(self.cx, self.ptr, n)
        self.ptr += n * self.codec.size
        self.progress += n
        return data  # type: ignore[no-any-return]

    def write_bytes(self, data: bytes, n: int) -> None:
        self._aligned()
        self.codec.store_bytes(self.cx, data, self.ptr)
        self.ptr += n * self.codec.size
        self.progress += n


def move(src: Any, dst: Any, n: int) -> None:
    """Copy ``n`` elements from buffer ``src`` to buffer ``dst``; plain types in one slice."""
    if n == 0:
        return
    if type(src) is GuestBuffer and type(dst) is GuestBuffer and src.codec.plain and dst.codec.plain:
        # Memory to memory in one slice assignment (a memcpy): no bytes object
        # in between.  Both ranges were bounds-checked when the copies began,
        # and a linear memory never shrinks.
        if src.ptr % src.codec.alignment or dst.ptr % dst.codec.alignment:
            src._aligned()
            dst._aligned()
        nbytes = n * src.codec.size
        # Both memories exist: a buffer of elements with a size checked its memory at the start.
        dst_view = dst.fresh_view or dst.cx.memory.view()
        src_view = src.fresh_view or src.cx.memory.view()
        dst_view[dst.ptr : dst.ptr + nbytes] = src_view[src.ptr : src.ptr + nbytes]
        src.ptr += nbytes
        src.progress += n
        dst.ptr += nbytes
        dst.progress += n
    elif src.plain_bytes and dst.plain_bytes:
        dst.write_bytes(src.read_bytes(n), n)
    else:
        dst.write(src.read(n))


def _numeric_or_none(codec: Any) -> bool:
    return codec is None or codec.plain or codec.size == 0


OnCopy = Callable[[Callable[[], None]], None]
OnCopyDone = Callable[[int], None]


class SharedBase:
    """What a stream and a future share (spec ``SharedBase``): the pending copy, the drop, cancel."""

    __slots__ = ("t", "dropped", "pending_inst", "pending_buffer", "pending_on_copy", "pending_on_copy_done")

    def __init__(self, t: Any) -> None:
        self.t = t
        self.dropped = False
        self.reset_pending()

    def reset_pending(self) -> None:
        self.pending_inst: Any = None
        self.pending_buffer: Any = None
        self.pending_on_copy: Optional[OnCopy] = None
        self.pending_on_copy_done: Optional[OnCopyDone] = None

    def reset_and_notify_pending(self, result: int) -> None:
        on_copy_done = self.pending_on_copy_done
        self.reset_pending()
        assert on_copy_done is not None
        on_copy_done(result)

    def cancel(self) -> None:
        self.reset_and_notify_pending(CANCELLED)

    def drop(self) -> None:
        if not self.dropped:
            self.dropped = True
            if self.pending_buffer is not None:
                self.reset_and_notify_pending(DROPPED)

    def _same_instance_check(self, inst: Any, buffer: Any) -> None:
        if inst is self.pending_inst and not _numeric_or_none(getattr(buffer, "codec", None)):
            raise trap("cannot read from and write to intra-component future/stream with non-numeric payload")


class SharedStream(SharedBase):
    """The state both ends of a stream share (spec ``SharedStreamImpl``)."""

    __slots__ = ()

    def set_pending(self, inst: Any, buffer: Any, on_copy: Optional[OnCopy], on_copy_done: Optional[OnCopyDone]) -> None:
        self.pending_inst = inst
        self.pending_buffer = buffer
        self.pending_on_copy = on_copy
        self.pending_on_copy_done = on_copy_done

    def read(self, inst: Any, dst: Any, on_copy: OnCopy, on_copy_done: OnCopyDone) -> None:
        if self.dropped:
            on_copy_done(DROPPED)
        elif self.pending_buffer is None:
            self.set_pending(inst, dst, on_copy, on_copy_done)
        else:
            if inst is self.pending_inst:
                self._same_instance_check(inst, dst)
            src = self.pending_buffer
            available = src.remain()
            if available > 0:
                room = dst.remain()
                if room > 0:
                    move(src, dst, min(room, available))
                    assert self.pending_on_copy is not None
                    self.pending_on_copy(self.reset_pending)
                on_copy_done(COMPLETED)
            else:
                self.reset_and_notify_pending(COMPLETED)
                self.set_pending(inst, dst, on_copy, on_copy_done)

    def write(self, inst: Any, src: Any, on_copy: OnCopy, on_copy_done: OnCopyDone) -> None:
        if self.dropped:
            on_copy_done(DROPPED)
        elif self.pending_buffer is None:
            self.set_pending(inst, src, on_copy, on_copy_done)
        else:
            if inst is self.pending_inst:
                self._same_instance_check(inst, src)
            dst = self.pending_buffer
            room = dst.remain()
            if room > 0:
                available = src.remain()
                if available > 0:
                    move(src, dst, min(available, room))
                    assert self.pending_on_copy is not None
                    self.pending_on_copy(self.reset_pending)
                on_copy_done(COMPLETED)
            elif src.is_zero_length() and dst.is_zero_length():
                on_copy_done(COMPLETED)
            else:
                self.reset_and_notify_pending(COMPLETED)
                self.set_pending(inst, src, on_copy, on_copy_done)


class SharedFuture(SharedBase):
    """The state both ends of a future share (spec ``SharedFutureImpl``)."""

    __slots__ = ()

    def set_pending(self, inst: Any, buffer: Any, on_copy_done: Optional[OnCopyDone]) -> None:
        self.pending_inst = inst
        self.pending_buffer = buffer
        self.pending_on_copy_done = on_copy_done

    def read(self, inst: Any, dst: Any, on_copy_done: OnCopyDone) -> None:
        if self.pending_buffer is None:
            self.set_pending(inst, dst, on_copy_done)
        else:
            self._same_instance_check(inst, dst)
            move(self.pending_buffer, dst, 1)
            self.reset_and_notify_pending(COMPLETED)
            on_copy_done(COMPLETED)

    def write(self, inst: Any, src: Any, on_copy_done: OnCopyDone) -> None:
        if self.dropped:
            on_copy_done(DROPPED)
        elif self.pending_buffer is None:
            self.set_pending(inst, src, on_copy_done)
        else:
            self._same_instance_check(inst, src)
            move(src, self.pending_buffer, 1)
            self.reset_and_notify_pending(COMPLETED)
            on_copy_done(COMPLETED)


class CopyEnd(Waitable):
    """One end of a stream or future in a handle table (spec ``CopyEnd``)."""

    __slots__ = ("state", "shared", "partial")

    kind = "stream end"
    readable = True
    is_stream = True

    def __init__(self, shared: Any) -> None:
        super().__init__()
        self.state = IDLE
        self.shared = shared
        self.partial = False

    def copying(self) -> bool:
        return self.state in (COPYING, CANCELLING_COPY)

    def drop(self) -> None:
        if self.copying():
            verb = "remove" if self.readable else "drop"
            raise trap(f"cannot {verb} busy {'stream' if self.is_stream else 'future'}")
        self.shared.drop()
        super().drop()


class ReadableStreamEnd(CopyEnd):
    __slots__ = ()
    kind = "stream readable end"


class WritableStreamEnd(CopyEnd):
    __slots__ = ()
    kind = "stream writable end"
    readable = False


class ReadableFutureEnd(CopyEnd):
    __slots__ = ()
    kind = "future readable end"
    is_stream = False


class WritableFutureEnd(CopyEnd):
    __slots__ = ()
    kind = "future writable end"
    readable = False
    is_stream = False

    def drop(self) -> None:
        if self.state != DONE:
            raise trap("cannot drop future write end without first writing a value")
        super().drop()


EVENT_CODES = {
    (True, True): EventCode.STREAM_READ,
    (True, False): EventCode.STREAM_WRITE,
    (False, True): EventCode.FUTURE_READ,
    (False, False): EventCode.FUTURE_WRITE,
}


# ------------------------------------------------------------------ passing ends in calls


def _kind_name(is_stream: bool) -> str:
    return "stream" if is_stream else "future"


def lift_end(table: Any, index: int, payload: Any, is_stream: bool) -> Any:
    """Take the readable end ``index`` out of ``table`` for a call (spec ``lift_async_value``).

    Returns the shared stream or future, which the receiving side lowers as
    a new readable end of its own table.
    """
    desc = _kind_name(is_stream)
    end = table.get(index)
    cls = ReadableStreamEnd if is_stream else ReadableFutureEnd
    if not isinstance(end, CopyEnd) or end.is_stream != is_stream:
        raise trap(f"handle is not a {desc}")
    if not isinstance(end, cls):
        raise trap(f"handle is not a readable end of a {desc}")
    if end.shared.t != payload:
        raise trap(f"handle is a {desc} of a different type")
    if end.copying():
        raise trap(f"cannot remove busy {desc}")
    if end.state == DONE:
        if is_stream or end.shared.dropped:
            raise trap(f"cannot lift {desc} after being notified that the writable end dropped")
        raise trap(f"cannot lift {desc} after previous read succeeded")
    if end.in_waitable_set():
        raise trap(f"cannot lift {desc} while it's in a waitable set")
    table.remove(index)
    return end.shared


def lower_end(table: Any, shared: Any, is_stream: bool) -> int:
    """Add a readable end of ``shared`` to ``table`` (spec ``lower_stream``/``lower_future``)."""
    expected = SharedStream if is_stream else SharedFuture
    if not isinstance(shared, expected):
        raise TypeError(f"expected a {_kind_name(is_stream)}, got {type(shared).__name__}")
    end = ReadableStreamEnd(shared) if is_stream else ReadableFutureEnd(shared)
    return table.add(end)  # type: ignore[no-any-return]
