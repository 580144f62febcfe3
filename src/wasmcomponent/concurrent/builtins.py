"""The canonical built-ins of async, streams, futures, error contexts and threads.

:func:`build` turns one planned ``Builtin`` into a Python implementation and
says whether it may block.  A non-blocking one is a plain function of the
core arguments returning the core results; a blocking one is a generator
function (it yields where the spec's thread blocks, see ``scheduler``), which
the runtime wraps in a suspendable core function.

Each implementation follows its ``canon_*`` function in ``definitions.py``
line by line, with wasmtime's trap messages.  ``env`` is what the runtime
resolved for the built-in (:class:`BuiltinEnv`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Optional

from .scheduler import Blocking, Scheduler, Thread
from .streams import (
    CANCELLED,
    CANCELLING_COPY,
    COMPLETED,
    COPYING,
    DONE,
    DROPPED,
    EVENT_CODES,
    IDLE,
    MAX_BUFFER_LENGTH,
    CopyEnd,
    GuestBuffer,
    ReadableFutureEnd,
    ReadableStreamEnd,
    SharedFuture,
    SharedStream,
    WritableFutureEnd,
    WritableStreamEnd,
)
from .tasks import BLOCKED, AsyncInstance, Subtask, Task
from .traps import cannot_block_sync, trap
from .waitables import Event, Waitable, WaitableSet

__all__ = ["BuiltinEnv", "ErrorContext", "build"]

M32 = 0xFFFFFFFF
_EVENT_PAYLOAD = struct.Struct("<II").pack_into  # an event's two payload words, little-endian
NOT_A_SET = "handle is not an waitable-set"  # sic, wasmtime's text
MAX_BACKPRESSURE = 2**16 - 1
def _no_context() -> Any:
    raise trap("built-in needs canonical options")


def _no_message(cx: Any, ptr: int, units: int) -> str:
    raise AssertionError("no message lifter")


def _no_store(cx: Any, message: str, ptr: int) -> None:
    raise AssertionError("no message storer")




class ErrorContext:
    """An ``error-context`` value: a debug message."""

    __slots__ = ("debug_message",)
    kind = "error context"

    def __init__(self, debug_message: str) -> None:
        self.debug_message = debug_message


@dataclass(slots=True)
class BuiltinEnv:
    """What one built-in needs at run time, resolved by the runtime.

    ``make_cx()`` gives a lift/lower context for the built-in's options;
    ``codec`` is the element codec of a stream/future payload;
    ``lift_return(cx, flat)`` lifts ``task.return``'s arguments;
    ``return_key`` identifies task.return's result type, encoding and memory;
    ``table_get(i)`` reads ``thread.new-indirect``'s core table.
    """

    scheduler: Scheduler
    inst: AsyncInstance
    builtin: Any  # translate.plan.Builtin
    memory: Any = None
    make_cx: Callable[[], Any] = _no_context
    codec: Any = None
    is_async: bool = False
    lift_return: Optional[Callable[[Any, tuple], Any]] = None
    return_key: tuple = ()
    table_get: Optional[Callable[[int], tuple[Any, Any]]] = None
    debug_message_lift: Callable[[Any, int, int], str] = _no_message
    debug_message_store: Callable[[Any, str, int], None] = _no_store


def _current(scheduler: Scheduler) -> Thread:
    thread = scheduler.current
    if thread is None:
        raise cannot_block_sync()
    return thread


def _may_block(scheduler: Scheduler) -> Thread:
    """The current thread, which is about to block: wasmtime's may-block rule first."""
    thread = _current(scheduler)
    if not thread.may_block():
        raise cannot_block_sync()
    return thread


def _entry(inst: AsyncInstance, index: int, cls: Any, message: str) -> Any:
    """The table entry at ``index``, which must be a ``cls`` (else wasmtime's ``message``)."""
    entry = inst.handles.get(index & M32)
    if not isinstance(entry, cls):
        raise trap(message)
    return entry


def _store_event(env: BuiltinEnv, ptr: int, event: Event) -> int:
    code, p1, p2 = event
    ptr &= M32
    if ptr % 4:
        raise trap("pointer not aligned")
    view = env.memory.view()  # the whole memory, current (one native call)
    if ptr + 8 > len(view):
        raise trap("pointer out of bounds")
    _EVENT_PAYLOAD(view, ptr, p1 & M32, p2 & M32)
    return int(code)


def build(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    """The implementation of ``env.builtin`` and whether it may block."""
    name = env.builtin.name
    maker = _MAKERS.get(name)
    if maker is None:
        from ..errors import UnsupportedError

        raise UnsupportedError(f"`canon {name}` is not supported yet")
    return maker(env)  # type: ignore[no-any-return]


def _leave_check(inst: AsyncInstance) -> None:
    if not inst.flags.may_leave:
        raise trap("cannot leave component instance")


# ------------------------------------------------------------------ context, backpressure, task


def _context_get(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    slot = env.builtin.slot

    def context_get() -> int:
        return _current(env.scheduler).storage[slot]

    return context_get, False


def _context_set(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    slot = env.builtin.slot

    def context_set(value: int) -> None:
        _current(env.scheduler).storage[slot] = value

    return context_set, False


def _backpressure(delta: int) -> Callable[[BuiltinEnv], tuple[Callable[..., Any], bool]]:
    def make(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
        inst = env.inst

        def backpressure() -> None:
            value = inst.backpressure + delta
            if value > MAX_BACKPRESSURE:
                raise trap("backpressure counter overflow")
            if value < 0:
                raise trap("backpressure counter overflow")  # wasmtime's text for both
            inst.backpressure = value

        return backpressure, False

    return make


def _backpressure_set(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst

    def backpressure_set(enabled: int) -> None:
        inst.backpressure = 1 if enabled else 0

    return backpressure_set, False


def _task_return(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst
    flags = inst.flags
    scheduler = env.scheduler
    lift_return = env.lift_return
    assert lift_return is not None
    has_result = env.builtin.result is not None
    # The last callee whose signature matched (its fields never change).
    matched: list[Any] = [None]

    def task_return(*flat: Any) -> None:
        if not flags.may_leave:
            raise trap("cannot leave component instance")
        thread = scheduler.current
        if thread is None:
            raise cannot_block_sync()
        task: Task = thread.task
        callee = task.callee
        if callee is not matched[0]:
            _check_return_signature(env, callee)
            matched[0] = callee
        if task.state == Task.RESOLVED:
            raise trap("`task.return` or `task.cancel` called more than once for current task")
        # No result lifts to None without a context (lift_return would give it).
        task.return_((lift_return(env.make_cx(), flat) if has_result else None,))

    return task_return, False


def _check_return_signature(env: BuiltinEnv, callee: Any) -> None:
    """Trap unless ``task.return``'s result type and options are those of ``callee`` (an async lift)."""
    key, memory = callee.return_key, env.return_key
    # The memory is compared only when task.return names one (wasmtime).
    if (
        not callee.is_async
        or key[:2] != memory[:2]
        or (memory[2] is not None and key[2] != memory[2])
        or callee.inst is not env.inst
    ):
        raise trap("invalid `task.return` signature and/or options for current task")


def _task_cancel(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst

    def task_cancel() -> None:
        _leave_check(inst)
        task: Task = _current(env.scheduler).task
        if not task.callee.is_async:
            raise trap("`task.cancel` called by non-async task")
        task.cancel()

    return task_cancel, False


# ------------------------------------------------------------------ waitables


def _waitable_set_new(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst

    def waitable_set_new() -> int:
        _leave_check(inst)
        return inst.add_handle(WaitableSet())  # type: ignore[no-any-return]

    return waitable_set_new, False


def _waitable_set_wait(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst
    cancellable = env.builtin.cancellable

    def waitable_set_wait(si: int, ptr: int) -> Blocking:
        _leave_check(inst)
        thread = _may_block(env.scheduler)
        wset = _entry(inst, si, WaitableSet, NOT_A_SET)
        event = yield from wset.wait_for_event(thread, cancellable)
        return _store_event(env, ptr, event)

    return waitable_set_wait, True


def _waitable_set_poll(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst
    cancellable = env.builtin.cancellable

    def waitable_set_poll(si: int, ptr: int) -> int:
        _leave_check(inst)
        thread = _current(env.scheduler)
        wset = _entry(inst, si, WaitableSet, NOT_A_SET)
        return _store_event(env, ptr, wset.poll(thread, cancellable))

    return waitable_set_poll, False


def _waitable_set_drop(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst

    def waitable_set_drop(si: int) -> None:
        _leave_check(inst)
        wset = _entry(inst, si, WaitableSet, "handle is not a waitable-set")
        wset.drop()
        inst.handles.remove(si & M32)

    return waitable_set_drop, False


def _waitable_join(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst

    def waitable_join(wi: int, si: int) -> None:
        _leave_check(inst)
        w = _entry(inst, wi, Waitable, "handle is not a waitable")
        if w.has_sync_waiter and si & M32:
            raise trap("waitable cannot be used synchronously while added to a waitable set")
        if si & M32 == 0:
            w.join(None)
        else:
            w.join(_entry(inst, si, WaitableSet, NOT_A_SET))

    return waitable_join, False


# ------------------------------------------------------------------ subtasks


def _subtask_cancel(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst
    is_async = env.builtin.is_async

    def subtask_cancel(i: int) -> Blocking:
        _leave_check(inst)
        thread = _current(env.scheduler) if is_async else _may_block(env.scheduler)
        subtask = _entry(inst, i, Subtask, "handle is not a subtask")
        if subtask.resolve_delivered():
            raise trap("`subtask.cancel` called after terminal status delivered")
        if subtask.cancellation_requested:
            raise trap("`subtask.cancel` called after terminal status delivered")
        if subtask.in_waitable_set() and not is_async:
            raise trap("waitable cannot be used synchronously while added to a waitable set")
        if not subtask.resolved():
            subtask.cancellation_requested = True
            assert subtask.on_cancel is not None
            subtask.on_cancel(inst)
            if not subtask.resolved():
                if not is_async:
                    yield from subtask.wait_for_pending_event(thread)
                else:
                    return BLOCKED
        if not subtask.has_pending_event():
            # Resolved without the caller having asked for progress events.
            subtask.deliver_resolve()
            return subtask.state
        subtask.get_pending_event()
        return subtask.state

    return subtask_cancel, True


def _subtask_drop(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst

    def subtask_drop(i: int) -> None:
        _leave_check(inst)
        _entry(inst, i, Waitable, "handle is not a waitable")
        subtask = _entry(inst, i, Subtask, "handle is not a subtask")
        subtask.drop()
        inst.handles.remove(i & M32)

    return subtask_drop, False


# ------------------------------------------------------------------ streams and futures


def _new(shared_cls: Any, readable: Any, writable: Any) -> Callable[[BuiltinEnv], tuple[Callable[..., Any], bool]]:
    def make(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
        inst = env.inst
        payload = getattr(env.builtin.type, "payload", None)

        def new() -> int:
            _leave_check(inst)
            shared = shared_cls(payload)
            ri = inst.add_handle(readable(shared))
            wi = inst.add_handle(writable(shared))
            return ri | (wi << 32)  # type: ignore[no-any-return]

        return new, False

    return make


def _end(inst: AsyncInstance, index: int, cls: Any, payload: Any, wrong_end: str) -> CopyEnd:
    """The stream/future end at ``index``, of ``cls``'s kind and ``payload`` type, with wasmtime's messages.

    ``wrong_end`` is the message when it is the other end of the right kind.
    """
    end = inst.handles.get(index & M32)
    if type(end) is cls and (end.shared.t is payload or end.shared.t == payload):
        return end  # type: ignore[no-any-return]
    desc = "stream" if cls.is_stream else "future"
    if not isinstance(end, CopyEnd) or end.is_stream != cls.is_stream:
        raise trap(f"handle is not a {desc}")
    if end.shared.t != payload:
        raise trap(f"handle is a {desc} of a different type")
    raise trap(wrong_end)


def _done_message(end: CopyEnd) -> str:
    if end.is_stream:
        if end.readable:
            return "cannot read from stream after being notified that the writable end dropped"
        return "cannot write to stream after being notified that the readable end dropped"
    if end.readable:
        return "cannot read from future after previous read succeeded"
    return "cannot write to future after previous write succeeded or readable end dropped"


def _copy(end_cls: Any, is_stream: bool) -> Callable[[BuiltinEnv], tuple[Callable[..., Any], bool]]:
    def make(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
        inst = env.inst
        flags = inst.flags
        scheduler = env.scheduler
        payload_type = getattr(env.builtin.type, "payload", None)
        codec = env.codec
        event_code = EVENT_CODES[(is_stream, end_cls.readable)]
        role = "read" if end_cls.readable else "write"
        busy = "cannot have concurrent operations active on a future/stream"
        readable = end_cls.readable
        contexts: list[Any] = []  # the built-in's lift/lower context, made once

        def start(i: int, ptr: int, n: int, sync: bool) -> CopyEnd:
            """Check everything, start the copy; the end has a pending event unless the copy blocked."""
            if not flags.may_leave:
                raise trap("cannot leave component instance")
            if is_stream and n & M32 > MAX_BUFFER_LENGTH:
                raise trap("stream read/write count too large")
            thread = scheduler.current
            if thread is None or (sync and not thread.may_block()):
                raise cannot_block_sync()
            index = i & M32
            e = _end(inst, index, end_cls, payload_type, busy)
            if e.state != IDLE:
                raise trap(_done_message(e) if e.state == DONE else busy)
            if sync and e.wset is not None:
                raise trap("waitable cannot be used synchronously while added to a waitable set")
            if not contexts:
                contexts.append(env.make_cx())
            buffer = GuestBuffer(codec, contexts[0], ptr & M32, n & M32 if is_stream else 1, role)

            def event(result: int, reclaim: Optional[Callable[[], None]]) -> Event:
                if reclaim is not None:
                    reclaim()
                if result == DROPPED or (not is_stream and result == COMPLETED):
                    e.state = DONE
                else:
                    e.state = IDLE
                if is_stream:
                    return (event_code, index, result | (buffer.progress << 4))
                return (event_code, index, result)

            def on_copy(reclaim: Callable[[], None]) -> None:
                # A partial copy: the other side may still copy more into this
                # buffer until the event is taken; a cancel now reports CANCELLED.
                e.partial = True
                e.pending_event = partial(event, COMPLETED, reclaim)  # a C-level thunk: no extra frame

            def on_copy_done(result: int) -> None:
                e.partial = False
                e.pending_event = partial(event, result, None)

            e.state = COPYING
            shared = e.shared
            try:
                if is_stream:
                    (shared.read if readable else shared.write)(inst, buffer, on_copy, on_copy_done)
                else:
                    (shared.read if readable else shared.write)(inst, buffer, on_copy_done)
            finally:
                buffer.fresh_view = None  # wasm runs next: the memory may grow and move
            return e

        if env.is_async:

            def copy_async(i: int, ptr: int, n: int = 1) -> int:
                e = start(i, ptr, n, False)
                if e.pending_event is None:
                    return BLOCKED
                return e.get_pending_event()[2]

            return copy_async, False

        def copy(i: int, ptr: int, n: int = 1) -> Blocking:
            e = start(i, ptr, n, True)
            if e.pending_event is None:
                thread = scheduler.current
                assert thread is not None
                yield from e.wait_for_pending_event(thread, release_lock=True)
            return e.get_pending_event()[2]

        return copy, True

    return make


def _run_at_once(body: Callable[..., Blocking]) -> Callable[..., Any]:
    """A plain function running ``body``, a built-in's generator that never blocks (its ``async`` form)."""

    def run(*args: Any) -> Any:
        try:
            body(*args).send(None)  # type: ignore[arg-type]
        except StopIteration as stop:
            return stop.value
        raise AssertionError("an async built-in blocked")

    return run


def _cancel(end_cls: Any) -> Callable[[BuiltinEnv], tuple[Callable[..., Any], bool]]:
    def make(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
        inst = env.inst
        payload_type = getattr(env.builtin.type, "payload", None)
        is_async = env.builtin.is_async
        op, other = ("read", "write") if end_cls.readable else ("write", "read")
        wrong_end = f"passed {other} end to `{{stream|future}}.cancel-{op}`"
        nothing_pending = f"stream or future {op} cancelled when no {op} is pending"

        def cancel(i: int) -> Blocking:
            _leave_check(inst)
            thread = _current(env.scheduler) if is_async else _may_block(env.scheduler)
            e = _end(inst, i, end_cls, payload_type, wrong_end)
            if e.state != COPYING or e.has_sync_waiter:
                raise trap(nothing_pending)
            if e.in_waitable_set() and not is_async:
                raise trap("waitable cannot be used synchronously while added to a waitable set")
            e.state = CANCELLING_COPY
            if e.is_stream and e.has_pending_event():
                # wasmtime reports a stream copy that completed but was not yet
                # taken as CANCELLED, with its progress.
                e.partial = False
                _, _, payload = e.get_pending_event()
                if payload & 0xF == COMPLETED:
                    payload = (payload & ~0xF) | CANCELLED
                return payload
            if not e.has_pending_event():
                e.shared.cancel()
                if not e.has_pending_event():
                    if not is_async:
                        yield from e.wait_for_pending_event(thread, release_lock=True)
                    else:
                        return BLOCKED
            _, _, payload = e.get_pending_event()
            return payload

        if is_async:
            return _run_at_once(cancel), False
        return cancel, True

    return make


def _drop(end_cls: Any) -> Callable[[BuiltinEnv], tuple[Callable[..., Any], bool]]:
    def make(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
        inst = env.inst
        payload_type = getattr(env.builtin.type, "payload", None)
        desc = "stream" if end_cls.is_stream else "future"
        wrong = (
            f"handle is not a readable end of a {desc}"
            if end_cls.readable
            else f"passed read end to `{desc}.drop-writable`"
        )

        def drop(i: int) -> None:
            _leave_check(inst)
            e = _end(inst, i, end_cls, payload_type, wrong)
            e.drop()
            inst.handles.remove(i & M32)

        return drop, False

    return make


# ------------------------------------------------------------------ error contexts


def _error_context_new(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst

    def error_context_new(ptr: int, units: int) -> int:
        _leave_check(inst)
        message = env.debug_message_lift(env.make_cx(), ptr, units)
        return inst.add_handle(ErrorContext(message))  # type: ignore[no-any-return]

    return error_context_new, False


def _error_context_debug_message(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst

    def error_context_debug_message(i: int, ptr: int) -> None:
        _leave_check(inst)
        errctx = _entry(inst, i, ErrorContext, "handle is not an error-context")
        env.debug_message_store(env.make_cx(), errctx.debug_message, ptr)

    return error_context_debug_message, False


def _error_context_drop(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst

    def error_context_drop(i: int) -> None:
        _leave_check(inst)
        _entry(inst, i, ErrorContext, "handle is not an error-context")
        inst.handles.remove(i & M32)

    return error_context_drop, False


# ------------------------------------------------------------------ threads


def _thread_index(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    def thread_index() -> int:
        _leave_check(env.inst)
        index = _current(env.scheduler).index
        return 0 if index is None else index

    return thread_index, False


def _other_thread(inst: AsyncInstance, i: int) -> Thread:
    thread = inst.threads.get(i & M32)
    return thread  # type: ignore[no-any-return]


def _thread_new_indirect(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst
    scheduler = env.scheduler

    def thread_new_indirect(fi: int, c: int) -> int:
        _leave_check(inst)
        task: Task = _current(scheduler).task
        assert env.table_get is not None
        func, direct = env.table_get(fi & M32)
        new_thread = Thread(scheduler, task, None, uses_fiber=True)

        def body() -> Blocking:
            yield from new_thread.call(func, (c,), direct)
            task.unregister_thread(new_thread)

        new_thread.body = body()
        task.register_thread(new_thread)
        return new_thread.index  # type: ignore[return-value]

    return thread_new_indirect, False


def _thread_resume_later(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    inst = env.inst

    def thread_resume_later(i: int) -> None:
        _leave_check(inst)
        other = _other_thread(inst, i)
        if not other.suspended():
            raise trap("cannot resume thread which is not suspended")
        other.resume_later()

    return thread_resume_later, False


def _thread_suspend(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    cancellable = env.builtin.cancellable

    def thread_suspend() -> Blocking:
        _leave_check(env.inst)
        cancelled = yield from _may_block(env.scheduler).suspend(cancellable)
        return int(cancelled)

    return thread_suspend, True


def _thread_yield(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
    cancellable = env.builtin.cancellable

    def thread_yield() -> Blocking:
        _leave_check(env.inst)
        cancelled = yield from _current(env.scheduler).yield_(cancellable)
        return int(cancelled)

    return thread_yield, True


def _thread_switch(then_wait: bool, promote: bool) -> Callable[[BuiltinEnv], tuple[Callable[..., Any], bool]]:
    def make(env: BuiltinEnv) -> tuple[Callable[..., Any], bool]:
        inst = env.inst
        cancellable = env.builtin.cancellable

        def switch(i: int) -> Blocking:
            _leave_check(inst)
            thread = _current(env.scheduler)
            other = _other_thread(inst, i)
            if promote:
                if other.ready():
                    other.stop_waiting()
                else:
                    if then_wait:
                        return int((yield from thread.yield_(cancellable)))
                    return int((yield from thread.suspend(cancellable)))
            elif not other.suspended():
                raise trap("cannot resume thread which is not suspended")
            return int((yield from thread.switch(other, cancellable, then_wait)))

        return switch, True

    return make


_MAKERS: dict[str, Callable[[BuiltinEnv], tuple[Callable[..., Any], bool]]] = {
    "context.get": _context_get,
    "context.set": _context_set,
    "backpressure.inc": _backpressure(1),
    "backpressure.dec": _backpressure(-1),
    "backpressure.set": _backpressure_set,
    "task.return": _task_return,
    "task.cancel": _task_cancel,
    "waitable-set.new": _waitable_set_new,
    "waitable-set.wait": _waitable_set_wait,
    "waitable-set.poll": _waitable_set_poll,
    "waitable-set.drop": _waitable_set_drop,
    "waitable.join": _waitable_join,
    "subtask.cancel": _subtask_cancel,
    "subtask.drop": _subtask_drop,
    "stream.new": _new(SharedStream, ReadableStreamEnd, WritableStreamEnd),
    "stream.read": _copy(ReadableStreamEnd, True),
    "stream.write": _copy(WritableStreamEnd, True),
    "stream.cancel-read": _cancel(ReadableStreamEnd),
    "stream.cancel-write": _cancel(WritableStreamEnd),
    "stream.drop-readable": _drop(ReadableStreamEnd),
    "stream.drop-writable": _drop(WritableStreamEnd),
    "future.new": _new(SharedFuture, ReadableFutureEnd, WritableFutureEnd),
    "future.read": _copy(ReadableFutureEnd, False),
    "future.write": _copy(WritableFutureEnd, False),
    "future.cancel-read": _cancel(ReadableFutureEnd),
    "future.cancel-write": _cancel(WritableFutureEnd),
    "future.drop-readable": _drop(ReadableFutureEnd),
    "future.drop-writable": _drop(WritableFutureEnd),
    "error-context.new": _error_context_new,
    "error-context.debug-message": _error_context_debug_message,
    "error-context.drop": _error_context_drop,
    "thread.index": _thread_index,
    "thread.new-indirect": _thread_new_indirect,
    "thread.resume-later": _thread_resume_later,
    "thread.suspend": _thread_suspend,
    "thread.yield": _thread_yield,
    "thread.suspend-then-resume": _thread_switch(False, False),
    "thread.yield-then-resume": _thread_switch(True, False),
    "thread.suspend-then-promote": _thread_switch(False, True),
    "thread.yield-then-promote": _thread_switch(True, True),
}

