"""Threads and the per-store scheduler (``definitions.py``: ``Thread``, ``Store.tick``).

How a guest thread is represented
---------------------------------
``definitions.py`` gives every thread a continuation (an OS thread handing
off with locks).  Here a :class:`Thread` has two halves:

* ``body``, a Python generator: the thread function of ``canon_lift`` (lower
  the arguments, call the core function, run the callback loop, ...) or of
  ``thread.new-indirect``.  The generator *yields* exactly where the spec's
  thread blocks (``wait_until``, ``suspend``), and is sent back whether it was
  cancelled (``Cancelled``) when the scheduler resumes it.
* the wasm stack: core code of a thread that may block runs on a wasmtime
  fiber (``_engine.fibers.FiberCall``).  A blocking built-in called by that
  code is a small generated core function (``_engine.suspend``) that asks the
  built-in's Python generator to start; if the generator yields, the fiber
  suspends, the poll returns to :meth:`Thread.call`, and the body yields in
  turn.  When the scheduler resumes the thread, the fiber is polled again and
  the built-in's generator is resumed with the cancellation flag.

So a blocked thread is a suspended fiber plus a suspended generator; no
Python frame is ever left on a suspended fiber (Python's frame stack belongs
to the OS thread, not to the C stack, and would be corrupted).  When a
blocking built-in is reached below a Python frame that made a nested core
call (a ``realloc``, a destructor, a host function calling back into wasm),
the fiber cannot be suspended: :meth:`Scheduler.block_nested` runs the
other threads from there until the blocked one is ready, or traps with
wasmtime's deadlock message.

Threads of tasks whose function type is synchronous never block ("cannot
block a synchronous task before returning"), so their core calls skip the
fiber and run as plain synchronous calls: a sync call that never meets
async code costs what it costs without this module.

Which thread runs
-----------------
The spec picks a random ready thread; this scheduler is deterministic: the
first ready thread in the order they started waiting, as wasmtime's FIFO
work queue does.  A thread switch requested by ``thread.*-then-resume``
happens at once, as in the spec.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any, Callable, Generator, Optional

from .._engine import store_state
from .._engine.core import store_handle
from .._engine.fibers import FiberCall
from .traps import cannot_block_sync, deadlock, trap, unknown_handle

__all__ = ["Thread", "Scheduler", "Table", "scheduler_of", "Blocking", "MAX_TABLE_LENGTH"]

MAX_TABLE_LENGTH = 2**28 - 1
DEFAULT_MAX_HANDLES = 100_000

# A generator that yields where the thread blocks and is sent the cancellation flag.
Blocking = Generator[None, bool, Any]


class Table:
    """A spec ``Table``: index 0 reserved, freed indices reused last-in first-out."""

    __slots__ = ("array", "free")

    def __init__(self) -> None:
        self.array: list[Any] = [None]
        self.free: list[int] = []

    def __len__(self) -> int:
        return len(self.array) - 1 - len(self.free)

    def add(self, entry: Any) -> int:
        if self.free:
            index = self.free.pop()
            self.array[index] = entry
            return index
        index = len(self.array)
        if index > MAX_TABLE_LENGTH:
            raise trap("cannot allocate another handle: index overflow")
        self.array.append(entry)
        return index

    def get(self, index: int) -> Any:
        if 0 < index < len(self.array):
            entry = self.array[index]
            if entry is not None:
                return entry
        raise unknown_handle(index)

    def remove(self, index: int) -> Any:
        entry = self.get(index)
        self.array[index] = None
        self.free.append(index)
        return entry


def _always() -> bool:
    return True


class Thread:
    """A guest thread (spec ``Thread``): a body generator plus, while blocked, a suspended fiber."""

    __slots__ = (
        "task",
        "scheduler",
        "body",
        "index",
        "storage",
        "ready_func",
        "cancellable",
        "started",
        "running",
        "done",
        "switch_to",
        "uses_fiber",
        "poll_frame",
        "pending",
        "resume_value",
    )

    def __init__(self, scheduler: Scheduler, task: Any, body: Optional[Blocking], uses_fiber: bool) -> None:
        self.scheduler = scheduler
        self.task = task
        self.body = body
        self.index: Optional[int] = None
        self.storage = [0, 0]
        self.ready_func: Optional[Callable[[], bool]] = None
        self.cancellable = False
        self.started = False
        self.running = False
        self.done = False
        self.switch_to: Optional[Thread] = None
        # Whether core calls of this thread run on a fiber (the task may block).
        self.uses_fiber = uses_fiber
        # The frame that polls this thread's fiber: a blocking built-in whose
        # caller chain reaches it directly may suspend the fiber.
        self.poll_frame: Any = None
        # The blocking built-in in progress (its generator), see ``_engine.suspend``.
        self.pending: Optional[Blocking] = None
        self.resume_value = False

    # ------------------------------------------------------------ states

    def suspended(self) -> bool:
        """Blocked with no ready condition: only an explicit resume wakes it."""
        return not self.running and not self.done and self.ready_func is None

    def waiting(self) -> bool:
        return not self.running and self.ready_func is not None

    def ready(self) -> bool:
        return self.ready_func is not None and not self.running and self.ready_func()

    def start_waiting(self, ready_func: Callable[[], bool]) -> None:
        assert self.ready_func is None
        self.ready_func = ready_func
        self.scheduler.waiting.append(self)

    def stop_waiting(self) -> None:
        if self.ready_func is not None:
            self.ready_func = None
            self.scheduler.waiting.remove(self)

    def resume_later(self) -> None:
        self.start_waiting(lambda: True)

    # ------------------------------------------------------------ blocking (generators)

    def may_block(self) -> bool:
        return bool(self.task.may_block())

    def block(self, cancellable: bool, release_lock: bool = False) -> Blocking:
        """Give up the processor until resumed; returns whether the resume cancelled.

        ``release_lock``: a callback-lifted task blocked in a sync stream or
        future operation lets other tasks enter its instance meanwhile, as
        wasmtime does (``task-builtins.wast``); blocked in a sync-lowered
        call it keeps the lock (``async-calls-sync.wast``).
        """
        self.cancellable = cancellable
        inst = self.task.inst
        release = (
            release_lock and inst is not None and inst.exclusive_thread is self and self.task.holds_lock_only_running()
        )
        if release:
            inst.exclusive_thread = None
        cancelled = yield
        if release:
            inst.exclusive_thread = self
        return bool(cancelled)

    def wait_until(
        self,
        ready_func: Callable[[], bool],
        cancellable: bool = False,
        yielding: bool = False,
        release_lock: bool = False,
    ) -> Blocking:
        """Spec ``Thread.wait_until``: block until ``ready_func()``, or a delivered cancel.

        When ``ready_func()`` holds already the thread goes on without giving
        up the processor, as wasmtime does (the spec may do either), unless
        ``yielding``: a yield always lets the other ready threads run first.
        """
        task = self.task
        if not task.may_block():
            raise cannot_block_sync()
        if task.deliver_pending_cancel(cancellable):
            return True
        if not yielding and ready_func():
            return False
        self.start_waiting(ready_func)
        return (yield from self.block(cancellable, release_lock))

    def suspend(self, cancellable: bool) -> Blocking:
        """Spec ``Thread.suspend``: block until another thread resumes this one."""
        if not self.may_block():
            raise cannot_block_sync()
        if self.task.deliver_pending_cancel(cancellable):
            return True
        return (yield from self.block(cancellable))

    def yield_(self, cancellable: bool) -> Blocking:
        if not self.may_block():
            # A synchronous task may yield; there is nothing to yield to (wasmtime).
            return False
        if self.task.deliver_pending_cancel(cancellable):
            return True
        self.start_waiting(_always)
        return (yield from self.block(cancellable))

    def switch(self, other: Thread, cancellable: bool, then_wait: bool) -> Blocking:
        """``suspend-then-resume`` / ``yield-then-resume``: run ``other`` now.

        Allowed in a task of synchronous type too (wasmtime): the switch is
        explicit, so the other thread is there to switch back.
        """
        if self.task.deliver_pending_cancel(cancellable):
            return True
        if then_wait:
            self.start_waiting(lambda: True)
        self.switch_to = other
        return (yield from self.block(cancellable))

    # ------------------------------------------------------------ core calls

    def call(self, func: Any, args: tuple, direct: Callable[..., Any]) -> Blocking:
        """Call core ``func``; on a fiber when this thread may block.

        ``direct`` is the plain synchronous call of the same function.
        Returns the raw results tuple (as ``FiberCall.result``) or direct's value.
        """
        if not self.uses_fiber:
            return direct(*args)
        fiber = FiberCall(self.scheduler.store, func, args)
        try:
            self.poll_frame = sys._getframe()
            while not fiber.poll():
                self.poll_frame = None
                self.resume_value = yield
                self.poll_frame = sys._getframe()
            self.poll_frame = None
            return fiber.result()
        finally:
            fiber.close()


class Scheduler:
    """One store's concurrency state: waiting threads, the current thread, limits.

    ``run_until`` is the event loop of a host call: it resumes ready threads
    until the caller's condition holds and traps with wasmtime's deadlock
    message when nothing can make progress.
    """

    def __init__(self) -> None:
        self.store: Any = None  # a store handle that does not keep the store alive
        self.waiting: list[Thread] = []
        self.current: Optional[Thread] = None
        # The most entries (waitables, sets, error contexts, resources, threads)
        # the handle and thread tables of the store's instances may hold in
        # all: a guest that spawns without bound traps instead of exhausting
        # host memory.
        self.max_handles = DEFAULT_MAX_HANDLES
        self.instances: weakref.WeakSet[Any] = weakref.WeakSet()
        self.poisoned = False
        # Synchronous host calls running this scheduler (``run_until``): no host
        # coroutine can be awaited there, so a host function that has a sync form
        # (WASI's blocking calls) runs that instead.
        self.sync_runs = 0
        # Run when no thread is ready, before declaring a deadlock (host
        # results that arrive "when the event loop next goes idle").
        self.idle: list[Callable[[], None]] = []

    def check_capacity(self, table_length: int) -> None:
        """Trap before a table grows past the store's limit.

        One table is checked at every addition; the sum over all the store's
        instances every 1,024 entries of a table (a sum per addition would
        cost the number of instances each time).
        """
        limit = self.max_handles
        if table_length >= limit:
            raise trap("resource table has no free keys")
        if table_length & 1023 == 1023:
            total = sum(len(inst.handles) + len(inst.threads) for inst in self.instances)
            if total >= limit:
                raise trap("resource table has no free keys")

    # ------------------------------------------------------------ running threads

    def resume(self, thread: Optional[Thread], cancelled: bool = False) -> None:
        """Run ``thread`` until it blocks or ends, then any thread it switched to."""
        while thread is not None:
            if thread.ready_func is not None:
                thread.stop_waiting()
            previous = self.current
            self.current = thread
            thread.running = True
            flags = thread.task.inst.flags
            entered = flags.may_enter
            flags.may_enter = False
            try:
                body = thread.body
                assert body is not None
                if thread.started:
                    body.send(cancelled)
                else:
                    thread.started = True
                    body.send(None)  # type: ignore[arg-type]
            except StopIteration:
                thread.done = True
                thread.body = None  # the finished generator: nothing to keep
            finally:
                thread.running = False
                flags.may_enter = entered
                self.current = previous
            following = thread.switch_to
            thread.switch_to = None
            thread = following
            cancelled = False

    def next_ready(self, exclude: Optional[Thread] = None) -> Optional[Thread]:
        for thread in self.waiting:
            if thread is not exclude and thread.ready_func is not None and thread.ready_func():
                if thread.task.inst.flags.may_enter:
                    return thread
        return None

    def run_until(self, done: Callable[[], bool]) -> None:
        """Resume ready threads until ``done()``; trap if nothing can run before.

        A trap poisons the store, as on the synchronous paths: later runs
        (a host reading a stream, another call) fail with "cannot enter
        component instance".
        """
        if self.poisoned:
            raise trap("cannot enter component instance")
        try:
            while not done():
                thread = self.next_ready()
                if thread is None:
                    if self.run_idle():
                        continue
                    raise deadlock()
                self.resume(thread)
        except BaseException:
            self.poisoned = True
            raise

    def run_idle(self) -> bool:
        """Run the callbacks waiting for the loop to go idle; False if there were none."""
        if not self.idle:
            return False
        callbacks, self.idle = self.idle, []
        for callback in callbacks:
            callback()
        return True

    def block_nested(self, thread: Thread, body: Blocking) -> Any:
        """Drive a blocking built-in's generator without suspending the fiber.

        Used when Python frames lie between the fiber's poll and the built-in
        (see the module docstring).  Other threads run from here until
        ``thread`` is ready; if none can run, it is a deadlock.
        """
        while True:
            switch_to = thread.switch_to
            if switch_to is not None:
                thread.switch_to = None
                self.resume(switch_to)
            while not thread.ready():
                other = self.next_ready(exclude=thread)
                if other is None:
                    if self.run_idle():
                        continue
                    raise deadlock()
                self.resume(other)
            thread.stop_waiting()
            try:
                body.send(False)
            except StopIteration as stop:
                return stop.value


class _DetachedTask:
    """The task of code the runtime runs outside any guest task (a ``realloc``): it never blocks."""

    __slots__ = ("inst",)

    def __init__(self, inst: Any) -> None:
        self.inst = inst

    def may_block(self) -> bool:
        return False

    def holds_lock_only_running(self) -> bool:
        return False

    def deliver_pending_cancel(self, cancellable: bool) -> bool:
        return False


def detached_thread(scheduler: Scheduler, current: Optional[Thread]) -> Thread:
    """A thread with fresh context slots for a runtime-made call that runs while ``current`` waits."""
    inst = None if current is None else current.task.inst
    thread = Thread(scheduler, _DetachedTask(inst), None, uses_fiber=False)
    thread.running = True
    return thread


def scheduler_of(store: Any) -> Scheduler:
    """The scheduler of ``store`` (created on first use)."""
    scheduler = store_state(store, Scheduler)
    if scheduler.store is None:
        scheduler.store = store_handle(store)
    return scheduler
