"""The store's scheduler under asyncio: ``call_async``, host coroutines, host readers.

A synchronous host call (``func(store, ...)``) runs the scheduler with
:meth:`Scheduler.run_until`, which traps with wasmtime's deadlock message
as soon as no guest thread can run.  Under asyncio the host itself may be
what a guest waits for (an ``async def`` host function still running, a
coroutine that will read a stream later), so waiting works differently:

* whoever waits on the store (a ``call_async``, a reader's ``read``) makes
  an asyncio future that a scheduler callback resolves (``task.return``, a
  completed copy) and awaits it with :func:`wait_on`;
* one *driver* task per store runs the ready guest threads while any such
  future is pending, and sleeps when none is ready until something wakes it:
  a host coroutine started for a guest (:func:`start_host_coroutine`)
  finishing, a host reader or writer starting a copy, a new call
  (:meth:`AsyncState.notify`).

One driver, not one loop per waiter: a thousand concurrent calls cost one
scan of the ready threads per step, not a thousand.

A deadlock, as wasmtime's ``run_concurrent`` sees it: nothing is ready and no
wake-up can come (no host coroutine runs for a guest, and the host holds no
open end of a stream or future, which it may still use from code that is not
waiting on the store).  Then every waiter fails with "deadlock detected:
event loop cannot make further progress", and the store is poisoned.  A
trap fails every waiter the same way (the store is poisoned, as on the
synchronous path); an exception of a host coroutine is raised, unchanged,
to every waiter.

The driver gives the loop a turn every :data:`STEPS_PER_TURN` thread
resumptions, so a busy store does not starve the other coroutines.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional

from .scheduler import Scheduler

if TYPE_CHECKING:  # asyncio itself is imported when first used: sync users never pay for it
    import asyncio
from .traps import deadlock, trap

__all__ = ["AsyncState", "async_state", "wait_on", "start_host_coroutine", "STEPS_PER_TURN"]

STEPS_PER_TURN = 64


class AsyncState:
    """What the asyncio side of one store shares."""

    __slots__ = ("waiters", "driver", "host_tasks", "host_readers", "failure", "_wakeup")

    def __init__(self) -> None:
        self.waiters: set[asyncio.Future[Any]] = set()  # pending futures someone awaits
        self.driver: Optional[asyncio.Task[None]] = None
        self.host_tasks: set[asyncio.Task[Any]] = set()  # host coroutines started for guests
        # StreamReader/FutureReader objects the host holds (see ``may_wake``)
        self.host_readers: weakref.WeakSet[Any] = weakref.WeakSet()
        self.failure: Optional[BaseException] = None  # an exception of a host coroutine
        self._wakeup: Optional[asyncio.Event] = None

    def notify(self) -> None:
        """Wake the driver (something may have become ready)."""
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    def wakeup(self) -> asyncio.Event:
        import asyncio

        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        return self._wakeup

    def may_wake(self) -> bool:
        """Whether a wake-up can still come while nothing is ready."""
        return bool(self.host_tasks) or any(reader.holds_end() for reader in list(self.host_readers))

    def fail_waiters(self, error: BaseException) -> None:
        for future in list(self.waiters):
            if not future.done():
                future.set_exception(error)
        self.waiters.clear()


_STATES: weakref.WeakKeyDictionary[Scheduler, AsyncState] = weakref.WeakKeyDictionary()


def async_state(scheduler: Scheduler) -> AsyncState:
    """The asyncio state of ``scheduler``'s store (created on first use)."""
    state = _STATES.get(scheduler)
    if state is None:
        state = _STATES[scheduler] = AsyncState()
    return state


async def wait_on(scheduler: Scheduler, future: asyncio.Future[Any]) -> Any:
    """Await ``future`` (resolved by a scheduler callback) while the store's driver runs."""
    import asyncio

    state = async_state(scheduler)
    if state.failure is not None:
        scheduler.poisoned = True
        raise state.failure
    if scheduler.poisoned and not future.done():
        raise trap("cannot enter component instance")
    _run_ready(scheduler, state, future)
    if not future.done():
        state.waiters.add(future)
        future.add_done_callback(state.waiters.discard)
        if state.driver is None or state.driver.done():
            state.driver = asyncio.get_running_loop().create_task(_drive(scheduler, state))
        else:
            state.notify()
    return await future


def _run_ready(scheduler: Scheduler, state: AsyncState, future: asyncio.Future[Any]) -> None:
    """Run ready threads right here until ``future`` resolves or nothing is ready.

    The common case (a stream whose writer is ready, a call that needs a few
    turns of its callback) then costs no trip through the event loop; the
    driver only takes over for what must wait.  At most
    :data:`STEPS_PER_TURN` resumptions, so the caller gives the loop a turn.
    """
    for _ in range(STEPS_PER_TURN):
        if future.done():
            return
        thread = scheduler.next_ready()
        if thread is None:
            return
        try:
            scheduler.resume(thread)
        except BaseException as error:  # a trap: every waiter fails with it, this one too
            scheduler.poisoned = True
            state.fail_waiters(error)
            raise


async def _drive(scheduler: Scheduler, state: AsyncState) -> None:
    """Run the store's ready threads while anyone waits; see the module docstring."""
    import asyncio

    steps = 0
    while state.waiters:
        if state.failure is not None:
            scheduler.poisoned = True
            state.fail_waiters(state.failure)
            return
        try:
            thread = scheduler.next_ready()
            if thread is not None:
                scheduler.resume(thread)
                steps += 1
                if steps % STEPS_PER_TURN == 0:
                    await asyncio.sleep(0)
                continue
            if scheduler.run_idle():
                continue
            # Resolved futures leave ``waiters`` by a done-callback that the
            # loop has not run yet: drop them before deciding anything.
            state.waiters = {future for future in state.waiters if not future.done()}
            if not state.waiters:
                return
            if not state.may_wake():
                raise deadlock()
        except BaseException as error:  # a trap: every waiter fails with it
            scheduler.poisoned = True
            state.fail_waiters(error)
            return
        await state.wakeup().wait()


def start_host_coroutine(
    scheduler: Scheduler, coroutine: Awaitable[Any], on_done: Callable[[Any], None], name: str
) -> Callable[[], None]:
    """Run a host ``async def``'s coroutine on the running loop; returns its cancel function.

    ``on_done(value)`` runs when it returns.  An exception it raises is kept
    and re-raised, unchanged, by the store's drivers (the call that waits on
    it fails, as a sync host function's exception fails its call).  Without a
    running loop (a plain synchronous call) the coroutine cannot run: the
    error says how to call instead.
    """
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        close = getattr(coroutine, "close", None)
        if close is not None:
            close()
        raise RuntimeError(
            f"host function `{name}` is an `async def`: it can only run under asyncio; "
            "call the export with `await func.call_async(store, ...)`"
        ) from None
    state = async_state(scheduler)
    task: asyncio.Task[Any] = loop.create_task(_as_coroutine(coroutine))
    state.host_tasks.add(task)

    def finished(task: asyncio.Task[Any]) -> None:
        state.host_tasks.discard(task)
        if task.cancelled():
            pass
        elif task.exception() is not None:
            if state.failure is None:
                state.failure = task.exception()
        else:
            try:
                on_done(task.result())
            except BaseException as error:  # a lowering trap: fails the store like a trap would
                if state.failure is None:
                    state.failure = error
        state.notify()

    task.add_done_callback(finished)

    def cancel() -> None:
        task.cancel()

    return cancel


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
