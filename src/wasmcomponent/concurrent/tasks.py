"""Tasks, subtasks, ``canon lift`` and ``canon lower`` (``definitions.py``).

* :class:`AsyncInstance` is the async half of a runtime component instance:
  its handle table (shared with resources, as in the spec), its thread
  table, backpressure and the exclusive lock that sync-lifted and
  callback-lifted tasks take.
* :class:`Task` is one call of a lifted function; :func:`canon_lift` starts
  it on a new implicit thread whose body follows the spec's ``thread_func``
  (including the callback loop of the callback ABI).
* :class:`Subtask` is the caller's view of a call made through an async (or
  blocked sync) ``canon lower``; :func:`canon_lower` is that call.

The callee of a lowered call is a :data:`StartCall`: a function taking the
spec's ``on_start``/``on_resolve`` and the calling instance, that returns the
``on_cancel`` callback.  A lifted guest function, a Python host function or
the conformance host's "returns later" functions all have this shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Callable, Optional, Sequence

from .scheduler import Blocking, Scheduler, Table, Thread
from .traps import trap
from .waitables import CANCELLED_EVENT, NO_EVENT, Event, EventCode, Waitable, WaitableSet

__all__ = [
    "AsyncInstance",
    "Task",
    "Subtask",
    "LiftedCallee",
    "canon_lift",
    "lift_now",
    "ArgumentsRejected",
    "canon_lower",
    "CallbackCode",
    "StartCall",
]

OnStart = Callable[[], Sequence[Any]]
# ``on_resolve((value,))`` when the callee returned, ``on_resolve(None)`` when cancelled.
OnResolve = Callable[[Optional[tuple]], None]
OnCancel = Callable[[Optional["AsyncInstance"]], None]
StartCall = Callable[[OnStart, OnResolve, Optional["AsyncInstance"]], OnCancel]



class AsyncInstance:
    """The async state of one runtime component instance."""

    __slots__ = (
        "flags",
        "handles",
        "threads",
        "backpressure",
        "num_waiting_to_enter",
        "exclusive_thread",
        "scheduler",
        "__weakref__",
    )

    def __init__(self, scheduler: Scheduler, flags: Any, handles: Any) -> None:
        self.scheduler = scheduler
        self.flags = flags  # may_enter / may_leave, shared with the synchronous paths
        self.handles = handles  # the instance's handle table (resources, waitables, sets, ...)
        self.threads = Table()
        self.backpressure = 0
        self.num_waiting_to_enter = 0
        self.exclusive_thread: Optional[Thread] = None
        scheduler.instances.add(self)

    def add_handle(self, entry: Any) -> int:
        """Add an async object to the handle table, within the store's limit."""
        self.scheduler.check_capacity(len(self.handles))
        return self.handles.add(entry)  # type: ignore[no-any-return]

    def add_thread(self, thread: Thread) -> int:
        """Give ``thread`` an index in this instance's thread table, within the store's limit."""
        self.scheduler.check_capacity(len(self.threads))
        return self.threads.add(thread)


@dataclass(slots=True)
class LiftedCallee:
    """A lifted function of one instance, as ``canon_lift`` needs it (built by the runtime).

    ``core_direct``/``callback_direct`` are the plain synchronous calls of
    ``core``/``callback`` (used when the task cannot block); ``lift_results``
    is None for an async lift (the value comes through ``task.return``).
    """

    ft_async: bool
    inst: AsyncInstance
    is_async: bool
    core: Any
    core_direct: Callable[..., Any]
    callback: Any
    callback_direct: Optional[Callable[..., Any]]
    post_return: Optional[Callable[..., Any]]
    lower_params: Callable[[Any, Sequence[Any]], Sequence[Any]]
    lift_results: Optional[Callable[[Any, Sequence[Any]], Any]]
    cx: Any
    result_count: int
    return_key: tuple
    # Core calls on a fiber even for a synchronous type: the component uses
    # ``thread.*``, whose switches suspend the calling thread.
    always_fiber: bool = False
    # Whether any core code of the callee's instance may stop mid-call at all
    # (``Plan.suspending_instances``); if not, no thread needs a fiber.
    may_suspend: bool = True
    # Whether the component can see thread indices (it has ``thread.*``
    # built-ins); if not, a call run by :func:`lift_now` needs no thread-table entry.
    threads_visible: bool = True
    # Whether every parameter is one scalar core value: lowering them runs no
    # guest code and needs no call scope.
    scalar_params: bool = False
    # The function type's ``(name, type)`` parameters, when the runtime gives
    # them: scalar ones are then lowered by generated code (``scalar_lowerer``).
    params: Optional[Sequence[tuple[str, Any]]] = None
    # Whether host calls may take :func:`lift_now`'s fast path (derived).
    immediate: bool = field(init=False, default=False)
    # Whether its tasks take the instance's exclusive lock (derived, spec ``needs_exclusive``).
    exclusive: bool = field(init=False, default=False)
    # ``runs_on_fiber()`` (derived).
    fiber: bool = field(init=False, default=False)
    # The implicit thread (and its task) of the last call :func:`lift_now`
    # completed, kept for the next one (see there why nothing else holds it).
    spare: Optional[Thread] = field(init=False, default=None)

    def runs_on_fiber(self) -> bool:
        """Whether the core calls of this function's tasks run on a fiber."""
        return bool((self.ft_async or self.always_fiber) and self.may_suspend)

    def __post_init__(self) -> None:
        self.fiber = self.runs_on_fiber()
        self.immediate = not self.threads_visible and not self.fiber
        self.exclusive = not self.is_async or self.callback is not None
        if self.scalar_params and self.params is not None:
            fast = scalar_lowerer(self.params)
            if fast is not None:
                self.lower_params = fast


def scalar_lowerer(params: Sequence[tuple[str, Any]]) -> Optional[Callable[[Any, Sequence[Any]], tuple]]:
    """``lower_params(cx, args)`` for parameters that are all one-slot scalars, as generated code.

    Value for value and error for error what the compiled lowering gives
    (``abi.inline``, as the synchronous ``Func`` calls use): each argument is
    checked inline and handed to the per-type closure only when the fast test
    rejects it.  None when the parameters are not all scalars or spill.
    """
    from ..abi.inline import flat_scalar_lowerer, inline_lower, is_inline_scalar
    from ..types.abi import MAX_FLAT_PARAMS

    if len(params) > MAX_FLAT_PARAMS or not all(is_inline_scalar(t) for _, t in params):
        return None
    names = [f"a{i}" for i in range(len(params))]
    lines = ["def lower(cx, args):"]
    if names:
        lines.append(f"    {', '.join(names)}, = args")
    for i, (_, t) in enumerate(params):
        lines += [f"    {line}" for line in inline_lower(t, names[i], f"slow{i}")]
    lines.append(f"    return ({''.join(f'{n}, ' for n in names)})")
    namespace: dict[str, Any] = {f"slow{i}": flat_scalar_lowerer(t, f"parameter `{name}`") for i, (name, t) in enumerate(params)}
    exec(compile("\n".join(lines), f"<lower {len(params)} scalars>", "exec"), namespace)
    return namespace["lower"]  # type: ignore[no-any-return]


class Task:
    """One call of a lifted function (spec ``Task``)."""

    INITIAL, STARTED, PENDING_CANCEL, CANCEL_DELIVERED, RESOLVED = range(5)

    __slots__ = ("callee", "inst", "on_start", "on_resolve", "state", "num_borrows", "implicit_thread", "threads", "scope")

    def __init__(self, callee: LiftedCallee, on_start: OnStart, on_resolve: OnResolve, scope: Any = None) -> None:
        # The borrow scope of the call (``runtime.handles.CallScope``) when its type has handles.
        self.scope = scope
        self.callee = callee
        self.inst: AsyncInstance = callee.inst
        self.on_start = on_start
        self.on_resolve = on_resolve
        self.state = Task.INITIAL
        self.num_borrows = 0
        self.implicit_thread: Optional[Thread] = None
        self.threads: list[Thread] = []

    def may_block(self) -> bool:
        """wasmtime: a task of a synchronous function type may not block before it returns."""
        return bool(self.callee.ft_async) or self.state == Task.RESOLVED

    def holds_lock_only_running(self) -> bool:
        """Whether the exclusive lock may be released while the thread is blocked (callback ABI)."""
        return self.callee.callback is not None

    def needs_exclusive(self) -> bool:
        return self.callee.exclusive

    def must_wait_to_enter(self) -> bool:
        """Whether the implicit thread waits before it enters: backpressure, callers waiting, the lock."""
        inst = self.inst
        return bool(
            self.callee.ft_async
            and (
                inst.backpressure > 0
                or inst.num_waiting_to_enter > 0
                or (self.callee.exclusive and inst.exclusive_thread is not None)
            )
        )

    def wait_to_enter(self, thread: Thread) -> Blocking:
        """Wait until the implicit thread may enter; False (having cancelled the task) if cancelled first."""
        inst = self.inst
        exclusive = self.callee.exclusive

        def no_backpressure() -> bool:
            return inst.backpressure == 0 and not (exclusive and inst.exclusive_thread is not None)

        inst.num_waiting_to_enter += 1
        try:
            cancelled = yield from thread.wait_until(no_backpressure, cancellable=True)
        finally:
            inst.num_waiting_to_enter -= 1
        if cancelled:
            self.cancel()
            return False
        return True

    def enter_implicit_thread(self, thread: Thread) -> None:
        """The implicit thread enters (it need not wait, or has waited): the lock, a thread index."""
        self.implicit_thread = thread
        if self.callee.ft_async and self.callee.exclusive:
            self.inst.exclusive_thread = thread
        self.register_thread(thread)

    def register_thread(self, thread: Thread) -> None:
        self.threads.append(thread)
        thread.index = self.inst.add_thread(thread)

    def exit_implicit_thread(self, thread: Thread) -> None:
        self.unregister_thread(thread)
        if self.inst.exclusive_thread is thread:
            self.inst.exclusive_thread = None
        # Break the task <-> thread cycle so reference counting frees them.
        self.implicit_thread = None

    def unregister_thread(self, thread: Thread) -> None:
        self.threads.remove(thread)
        if not self.threads and self.state != Task.RESOLVED:
            raise trap("async-lifted export failed to produce a result")
        if thread.index is not None:
            self.inst.threads.remove(thread.index)
            thread.index = None

    def request_cancellation(self, caller: Optional[AsyncInstance]) -> None:
        if self.state == Task.INITIAL:
            self.state = Task.CANCEL_DELIVERED
            thread = self.implicit_thread
            if thread is not None and not thread.running:
                self.inst.scheduler.resume(thread, True)
            return
        if self.state != Task.STARTED:
            return
        candidates = [t for t in self.threads if t.cancellable and not t.running and not t.done]
        if self.needs_exclusive() and self.inst.exclusive_thread not in (None, self.implicit_thread):
            candidates = [t for t in candidates if t is not self.implicit_thread]
        if candidates and self.inst.flags.may_enter:
            self.state = Task.CANCEL_DELIVERED
            self.inst.scheduler.resume(candidates[0], True)
        else:
            self.state = Task.PENDING_CANCEL

    def deliver_pending_cancel(self, cancellable: bool) -> bool:
        if cancellable and self.state == Task.PENDING_CANCEL:
            self.state = Task.CANCEL_DELIVERED
            return True
        return False

    def start(self) -> Sequence[Any]:
        self.state = Task.STARTED
        return self.on_start()

    def return_(self, result: tuple) -> None:
        """Resolve with ``result``, a 1-tuple holding the value (``None`` for no result)."""
        if self.state == Task.RESOLVED:
            raise trap("`task.return` or `task.cancel` called more than once for current task")
        if self.scope is not None:
            self.scope.exit_guest_call()
        self.on_resolve(result)
        self.state = Task.RESOLVED

    def cancel(self) -> None:
        if self.state == Task.RESOLVED:
            raise trap("`task.return` or `task.cancel` called more than once for current task")
        if self.state != Task.CANCEL_DELIVERED:
            raise trap("`task.cancel` called by task which has not been cancelled")
        if self.scope is not None:
            self.scope.exit_guest_call()
        self.on_resolve(None)
        self.state = Task.RESOLVED


class CallbackCode(IntEnum):
    EXIT = 0
    YIELD = 1
    WAIT = 2


# Plain ints for the hot paths (an IntEnum member costs an attribute lookup).
_EXIT, _YIELD, _WAIT = 0, 1, 2
_STARTED = 1  # Task.STARTED
_SUBTASK_EVENT = EventCode.SUBTASK


def _as_tuple(raw: Any, count: int) -> tuple:
    if count == 0:
        return ()
    if count == 1 and not isinstance(raw, tuple):
        return (raw,)
    return tuple(raw)


def canon_lift(
    scheduler: Scheduler, callee: LiftedCallee, on_start: OnStart, on_resolve: OnResolve, scope: Any = None
) -> Task:
    """Start a call of ``callee`` (spec ``canon_lift``); returns its task.

    The implicit thread runs at once until it blocks or ends.  A function of
    synchronous type completes before this returns: its thread may not
    block (wasmtime's rule, stricter than the spec, which would run the
    instance's other threads until it resolves).
    """
    task = Task(callee, on_start, on_resolve, scope)
    thread = Thread(scheduler, task, None, uses_fiber=callee.fiber)
    # Set before it runs: a cancel while it waits to enter resumes it.
    task.implicit_thread = thread
    if callee.immediate and not task.must_wait_to_enter():
        # As lift_now: the first core call right here, a generator only if it goes on.
        task.threads.append(thread)
        _first_step(scheduler, task, thread, callee, None)
        if thread.body is None:
            task.exit_implicit_thread(thread)
            thread.done = True
        else:
            scheduler.resume(thread)
        return task
    thread.body = _lift_body(task, thread, callee)
    scheduler.resume(thread)
    # A task of synchronous type cannot block (wasmtime), so it has resolved
    # by now unless it trapped; nothing is left to run for it.
    return task


def _unpack_callback_result(raw: Any) -> tuple[int, int]:
    packed = (raw[0] if isinstance(raw, tuple) else raw) & 0xFFFFFFFF
    code = packed & 0xF
    if code > _WAIT:
        raise trap("unsupported callback code")
    return code, packed >> 4


def _no_start() -> Sequence[Any]:
    raise AssertionError("a task run by lift_now has started already")


def _lower_args(task: Task, c: LiftedCallee, args: Sequence[Any]) -> tuple:
    """Lower ``task``'s arguments into the callee (``may_leave`` cleared meanwhile)."""
    cx = c.cx
    flags = task.inst.flags
    flags.may_leave = False
    previous = cx.scope
    cx.scope = task.scope
    try:
        return tuple(c.lower_params(cx, args))
    finally:
        flags.may_leave = True
        cx.scope = previous


def _finish_sync_lift(task: Task, c: LiftedCallee, raw: Any) -> None:
    """Lift the results of a synchronously lifted core call, resolve, then ``post-return``."""
    flat = _as_tuple(raw, c.result_count)
    assert c.lift_results is not None
    task.return_((c.lift_results(c.cx, flat),))
    if c.post_return is not None:
        flags = task.inst.flags
        flags.may_leave = False
        try:
            c.post_return(*flat)
        finally:
            flags.may_leave = True


def _lift_body(task: Task, thread: Thread, c: LiftedCallee) -> Blocking:
    if task.must_wait_to_enter() and not (yield from task.wait_to_enter(thread)):
        return
    task.enter_implicit_thread(thread)
    flat_args = _lower_args(task, c, task.start())
    # A thread that cannot block calls directly (no ``Thread.call`` generator).
    if thread.uses_fiber:
        raw = yield from thread.call(c.core, flat_args, c.core_direct)
    else:
        raw = c.core_direct(*flat_args)
    if not c.is_async:
        _finish_sync_lift(task, c, raw)
    elif c.callback is not None:
        code, si = _unpack_callback_result(raw)
        yield from _callback_loop(task, thread, c, code, si)
        return
    task.exit_implicit_thread(thread)


def _callback_loop(task: Task, thread: Thread, c: LiftedCallee, code: int, si: int) -> Blocking:
    """The callback ABI's loop, from the code the core function (or the last callback) returned."""
    inst = task.inst
    while code != _EXIT:
        inst.exclusive_thread = None
        event: Event
        if code == _YIELD:
            cancelled = yield from thread.wait_until(
                lambda: inst.exclusive_thread is None, cancellable=True, yielding=True
            )
            event = CANCELLED_EVENT if cancelled else NO_EVENT
        else:
            wset = inst.handles.get(si)
            if not isinstance(wset, WaitableSet):
                raise trap("handle is not an waitable-set")  # sic, wasmtime's text
            event = yield from wset.wait_for_event_and(thread, lambda: inst.exclusive_thread is None, True)
        inst.exclusive_thread = thread
        assert c.callback_direct is not None
        event_code, p1, p2 = event
        if thread.uses_fiber:
            raw = yield from thread.call(c.callback, (int(event_code), int(p1), int(p2)), c.callback_direct)
        else:
            raw = c.callback_direct(int(event_code), int(p1), int(p2))
        code, si = _unpack_callback_result(raw)
    task.exit_implicit_thread(thread)


def lift_now(
    scheduler: Scheduler, callee: LiftedCallee, args: Sequence[Any], on_resolve: OnResolve, scope: Any = None
) -> Optional[Task]:
    """``canon_lift`` of a call from the host when nothing else runs: the fast path.

    For callees whose core calls need no fiber and whose thread indices no
    guest can see (``callee.immediate``), when no guest thread is running and
    nothing keeps the task from entering (backpressure, callers waiting, the
    exclusive lock), the task's first core call is made right here, with no
    body generator and no thread-table entry: a call that returns, or calls
    ``task.return`` and returns ``EXIT``, costs the core call and a few
    attribute stores.  If the callback asks to wait or yield, the thread goes
    on as an ordinary one from that point.  Returns None, having done
    nothing, when the fast path does not apply (then use :func:`canon_lift`).

    A call that completes here returns :data:`FINISHED` (a resolved task)
    and leaves its task and implicit thread in ``callee.spare`` for the next
    call.  Nothing else can hold them then: the thread had no index (no
    ``thread.*`` built-in can name it), never waited (no fiber: a block is
    driven to its end by ``Scheduler.block_nested`` inside the built-in), is
    no longer current nor the exclusive holder, and built-ins only reach the
    task through ``scheduler.current`` during the call; the caller's
    ``on_resolve`` gets the value, never the task.  A call that fails or goes
    on as an ordinary thread keeps its pair (it is not recycled).
    """
    inst = callee.inst
    if (
        scheduler.current is not None
        or not callee.immediate
        or (callee.ft_async and (inst.backpressure or inst.num_waiting_to_enter or inst.exclusive_thread))
    ):
        return None
    thread = callee.spare
    if thread is None:
        thread = _fast_path_thread(scheduler, callee)
    else:
        callee.spare = None
    task: Task = thread.task
    task.on_resolve = on_resolve
    task.scope = scope
    task.state = _STARTED
    _first_step(scheduler, task, thread, callee, args)
    if thread.body is not None:
        scheduler.resume(thread)
        return task
    _recycle(callee, task, thread)
    return FINISHED


def _first_step(
    scheduler: Scheduler, task: Task, thread: Thread, callee: LiftedCallee, args: Optional[Sequence[Any]]
) -> None:
    """Run the implicit thread's first core call directly (``callee.immediate``, nothing to wait for).

    ``args`` are the host's arguments, or None to take them from the task's
    ``on_start`` (a guest caller's, lifted now).  No body generator and no
    thread index: a call that returns, or calls ``task.return`` and returns
    ``EXIT``, is done; if the callback asks to wait or yield, the thread
    gets an index and ``thread.body`` (the callback loop) for the caller to
    resume, as an ordinary thread from then on.
    """
    inst = callee.inst
    flags = inst.flags
    previous = scheduler.current
    entered = flags.may_enter
    scheduler.current = thread
    thread.running = True
    flags.may_enter = False
    try:
        if callee.exclusive and callee.ft_async:
            inst.exclusive_thread = thread  # the exclusive lock
        if args is None:  # a guest caller's arguments: an error lifting them is a trap
            raw = callee.core_direct(*_lower_first(task, callee, task.start()))
        else:
            try:
                flat = _lower_first(task, callee, args)
            except (TypeError, ValueError) as error:  # a wrong Python value: nothing ran yet
                if inst.exclusive_thread is thread:
                    inst.exclusive_thread = None
                raise ArgumentsRejected(error) from error
            raw = callee.core_direct(*flat)
        if not callee.is_async:
            _finish_sync_lift(task, callee, raw)
        elif callee.callback is not None and (type(raw) is not int or raw & 0xF != _EXIT):
            code, si = _unpack_callback_result(raw)
            if code != _EXIT:
                # It waits or yields: from here on an ordinary thread.
                thread.index = inst.add_thread(thread)
                thread.body = _callback_loop(task, thread, callee, code, si)
    finally:
        thread.running = False
        flags.may_enter = entered
        scheduler.current = previous


def _lower_first(task: Task, callee: LiftedCallee, args: Sequence[Any]) -> Sequence[Any]:
    """The flat arguments of the first core call (scalars through the generated lowerer)."""
    if callee.scalar_params:
        return callee.lower_params(callee.cx, args)  # type: ignore[no-any-return]
    return _lower_args(task, callee, args)


class ArgumentsRejected(Exception):
    """The host's arguments do not fit the parameter types (the lowering's ``error``).

    Raised by :func:`lift_now` before the core function ran and with the
    exclusive lock released: the caller raises ``error`` itself and the
    store stays usable, as after a wrong value on the synchronous path.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _fast_path_thread(scheduler: Scheduler, callee: LiftedCallee) -> Thread:
    """A new task (started, never run by ``on_start``) and its implicit thread, for :func:`lift_now`."""
    task = Task(callee, _no_start, _no_resolve)
    thread = Thread(scheduler, task, None, False)
    task.implicit_thread = thread
    task.threads.append(thread)
    return thread


def _recycle(callee: LiftedCallee, task: Task, thread: Thread) -> None:
    """The implicit thread of a task :func:`lift_now` completed exits; the pair is reset for the next call.

    As ``Task.exit_implicit_thread``, except that the task keeps its thread
    (and the thread its ``done == False``): no one can see either again
    before the next call starts them afresh.
    """
    if task.state != Task.RESOLVED:
        raise trap("async-lifted export failed to produce a result")
    inst = task.inst
    if inst.exclusive_thread is thread:
        inst.exclusive_thread = None
    storage = thread.storage
    if storage[0] or storage[1]:
        storage[0] = storage[1] = 0
    thread.cancellable = False
    # Nothing of this call stays alive through the spare pair.
    task.on_resolve = _no_resolve
    task.scope = None
    callee.spare = thread


def _no_resolve(result: Optional[tuple]) -> None:
    raise AssertionError("a recycled task resolved")


def _finished_task() -> Task:
    task = Task.__new__(Task)
    task.callee = task.inst = task.implicit_thread = task.scope = None  # type: ignore[assignment]
    task.on_start, task.on_resolve = _no_start, _no_resolve
    task.state, task.num_borrows, task.threads = Task.RESOLVED, 0, []
    return task


# What :func:`lift_now` returns for a call it completed (its own task is recycled).
FINISHED = _finished_task()


# ------------------------------------------------------------------ canon lower


class Subtask(Waitable):
    """The caller's handle on a lowered call (spec ``Subtask``)."""

    STARTING, STARTED, RETURNED, CANCELLED_BEFORE_STARTED, CANCELLED_BEFORE_RETURNED = range(5)

    __slots__ = ("state", "on_cancel", "delivered", "cancellation_requested", "flat_results", "index")

    kind = "subtask"

    def __init__(self) -> None:
        super().__init__()
        self.state = Subtask.STARTING
        self.on_cancel: Optional[OnCancel] = None
        self.delivered = False
        self.cancellation_requested = False
        self.flat_results: Sequence[Any] = ()
        self.index = 0

    def resolved(self) -> bool:
        return self.state >= Subtask.RETURNED

    def resolve(self, state: int, flat_results: Sequence[Any]) -> None:
        self.state = state
        self.flat_results = flat_results

    def deliver_resolve(self) -> None:
        self.delivered = True

    def resolve_delivered(self) -> bool:
        return self.delivered

    def drop(self) -> None:
        if not self.delivered:
            raise trap("cannot drop a subtask which has not yet resolved")
        super().drop()


BLOCKED = 0xFFFFFFFF


def canon_lower(
    thread: Thread,
    start: StartCall,
    is_async: bool,
    lift_params: Callable[[], Sequence[Any]],
    lower_results: Callable[[Any], Sequence[Any]],
    caller: AsyncInstance,
) -> Blocking:
    """A lowered call from ``thread`` (spec ``canon_lower``); returns the flat results.

    ``lift_params()`` lifts the caller's arguments (when the callee starts);
    ``lower_results(value)`` lowers the callee's result into the caller.
    A sync lower blocks ``thread`` until the callee resolves; an async lower
    returns the packed status (and subtask index when it has not resolved).
    """
    subtask = Subtask()
    progress: list[Callable[[], None]] = []

    def on_start() -> Sequence[Any]:
        for f in progress:
            f()
        subtask.state = Subtask.STARTED
        return lift_params()

    def on_resolve(result: Optional[Any]) -> None:
        for f in progress:
            f()
        if result is None:
            if subtask.state == Subtask.STARTING:
                subtask.resolve(Subtask.CANCELLED_BEFORE_STARTED, ())
            else:
                subtask.resolve(Subtask.CANCELLED_BEFORE_RETURNED, ())
        else:
            subtask.resolve(Subtask.RETURNED, tuple(lower_results(result[0])))

    subtask.on_cancel = start(on_start, on_resolve, caller)
    if not is_async:
        if not subtask.resolved():
            yield from thread.wait_until(subtask.resolved)
        subtask.deliver_resolve()
        return subtask.flat_results
    if subtask.resolved():
        subtask.deliver_resolve()
        return (Subtask.RETURNED,)
    index = caller.add_handle(subtask)
    subtask.index = index

    def on_progress() -> None:
        def subtask_event() -> Event:
            if subtask.resolved():
                subtask.deliver_resolve()
            return (_SUBTASK_EVENT, index, subtask.state)

        subtask.set_pending_event(subtask_event)

    progress.append(on_progress)
    return (subtask.state | (index << 4),)

