"""WASI 0.2's blocking calls under asyncio: waiting on the event loop instead of in the thread.

An instance made while an asyncio loop runs (``await linker.instantiate_async``,
or ``linker.instantiate`` in a coroutine) calls the asyncio variants of the
functions that may block (``Interface.async_funcs``, the linker's
``async_variant``): ``wasi:io/poll`` ``poll`` and ``pollable.block``, the
``wasi:io/streams`` ``blocking-*`` calls, which also serve the sockets'
streams, stdin and HTTP bodies (the HTTP client's ``future-incoming-response``
and ``future-trailers`` are waited on through ``poll``/``block`` too),
``tcp-socket.shutdown`` (it sends what is pending) and ``resolve-addresses``.
A guest under ``call_async`` that blocks then waits in a host coroutine while
other tasks, other guest tasks and other stores go on.  Such an instance
must be called with ``call_async`` once its guest may wait: a plain
synchronous call cannot run the loop, and fails with the deadlock trap.

Still waiting in the thread: writes to the host's own stdout/stderr or to a
file-like sink (a full pipe blocks), dropping a TCP output stream with bytes
pending (at most ``DROP_FLUSH_TIMEOUT``: a destructor cannot wait on the
loop), and a served request body's ``pull`` (served on worker threads).

The asyncio variants are *steps* (in :mod:`.io`): generators that do every
readiness check and all WASI table and stream work themselves and yield only
what they must wait for (an :class:`~.io.Wait`: a timeout, readable
descriptors; or a helper thread's future).  What to wait for is decided in
one place for both modes (:func:`~.io.next_wait`); the cold blocking calls
(``blocking-splice``, ``blocking-skip``, ``blocking-write-zeroes-and-flush``)
are written once as steps that the sync function runs waiting in its thread
(:func:`~.io.run_blocking`), while the hot ones (``poll``, ``block``,
``blocking-read``, the blocking writes) keep their plain sync functions, a
generator per call being a measurable cost there.  :func:`run_steps` runs
steps on the loop:

* a deadline: ``await asyncio.sleep`` (a virtual clock advances instead,
  then the loop gets one turn);
* descriptors: ``loop.add_reader`` (``add_writer`` for a TCP send buffer to
  drain) on a ``dup`` of each (a dup, so that a descriptor the loop or
  another waiter already watches, such as an inherited stdin, is never taken
  over), with the timeout; a loop without ``add_reader`` (the Proactor loop)
  or a descriptor it cannot watch (a regular file) falls back to one bounded
  ``select`` on a worker thread, or to the sync path's 1 ms pause;
* readiness that another thread changes (the HTTP client's response and
  body, an outgoing body's consumer making room): the producer notifies a
  :class:`~.io.Signal` that wakes the loop (``call_soon_threadsafe``), where
  the sync ``poll`` looks every millisecond; a wait lasts at most
  :data:`SIGNAL_SLICE` before looking anyway.  Other readiness checks
  without a descriptor (a TCP connect in progress, a UDP send), and every
  check under a virtual clock (whose time the sync path advances
  per look), are looked at every millisecond, as the sync ``poll`` does;
* work that blocks and has nothing to wait on (the ``read`` of a file-like
  stdin reader, ``ReaderSource``; a name lookup, ``resolve-addresses``): on
  a daemon helper thread (:func:`~.io.in_thread`), awaited.

So the checks, and everything the guest can observe, stay on the loop thread
in the same order as the sync path: the same results, error values and
traps (a trap raised after a wait, such as ``blocking-splice``'s "max
blocking attempts exceeded", fails the ``call_async`` and poisons the store,
as a trap does).  The first step runs inside the host call: a call that need
not wait (the pollable is ready, the stream has bytes) returns its value at
once, and costs no coroutine.

Cancellation (the guest cancels the subtask, or the host cancels the task
running the coroutine) interrupts the wait: the reader callbacks are
removed and the dups closed; no worker thread is started for a wait except the
Proactor fallback's (it ends within :data:`THREAD_WAIT_SLICE`).  A helper
thread already doing blocking work cannot be interrupted: it ends when that
work does (a stdin read keeps its bytes for the next read).
"""

from __future__ import annotations

import asyncio
import os
import select
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Optional, Sequence, TypeVar, Union

from .io import MAX_SLEEP_NS, Signal, Steps, Wait

if TYPE_CHECKING:
    from .ctx import WasiCtx

__all__ = ["run_steps", "wait_on_loop", "THREAD_WAIT_SLICE", "SIGNAL_SLICE"]

T = TypeVar("T")
# The longest ``select`` a worker thread makes for a loop without ``add_reader``.
THREAD_WAIT_SLICE = 0.05
# How long a wait for a ``Signal`` lasts before the readiness is looked at again anyway (a
# safety net: every producer notifies).
SIGNAL_SLICE = 0.1


def run_steps(ctx: WasiCtx, steps: Steps[T]) -> Any:
    """Run a blocking call's steps: its value if it need not wait, else a coroutine finishing it on the loop."""
    try:
        first = next(steps)
    except StopIteration as stop:
        return stop.value
    return _finish(ctx, steps, first)


async def _finish(ctx: WasiCtx, steps: Steps[T], wait: Union[Wait, Future[Any]]) -> T:
    try:
        while True:
            await wait_on_loop(ctx, wait)
            try:
                wait = next(steps)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
    finally:
        steps.close()


async def wait_on_loop(ctx: WasiCtx, wait: Union[Wait, Future[Any]]) -> None:
    """Do one wait of a blocking call on the running loop (what :func:`~.io.wait_in_thread` does in a thread)."""
    if isinstance(wait, Future):
        # (``asyncio.wait`` leaves the thread's future alone when this waiter is cancelled)
        await asyncio.wait([asyncio.wrap_future(wait)])
        return
    if wait.signals is not None:  # readiness that other threads report: wait for their word
        timeout = wait.signal_timeout
        limit = SIGNAL_SLICE if timeout is None else min(max(timeout, 0) / 1e9, SIGNAL_SLICE)
        await _ready(wait.fds, wait.wfds, limit, wait.signals)
        return
    seconds = wait.seconds()
    if wait.fds or wait.wfds:
        await _ready(wait.fds, wait.wfds, seconds)
    elif seconds is None:
        await asyncio.sleep(3600)  # nothing can become ready: wait as wasmtime does (forever)
    elif ctx.clocks.virtual:
        ctx.clocks.advance(wait.timeout or 0)
        await asyncio.sleep(0)  # (a readiness check being polled: give the others a turn)
    else:
        await asyncio.sleep(min(max(wait.timeout or 0, 0), MAX_SLEEP_NS) / 1e9)


async def _ready(
    fds: Sequence[int],
    wfds: Sequence[int],
    seconds: Optional[float],
    signals: Optional[list[tuple[Signal, int]]] = None,
) -> None:
    """Until one of ``fds`` is readable, one of ``wfds`` writable, one of ``signals`` notified, or ``seconds`` passed.

    ``seconds`` None: no limit.
    """
    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()
    watched: list[tuple[int, bool]] = []  # (dup, for writing)
    timer = None if seconds is None else loop.call_later(seconds, _wake, woken)

    def wake_from_thread() -> None:
        try:
            loop.call_soon_threadsafe(_wake, woken)
        except RuntimeError:  # the loop closed meanwhile: nobody waits any more
            pass

    try:
        for signal, seen in signals or ():
            if not signal.watch(seen, wake_from_thread):
                _wake(woken)  # it changed since the check: look again at once
        for fd, writing in [*((fd, False) for fd in fds), *((fd, True) for fd in wfds)]:
            dup = os.dup(fd)
            try:
                (loop.add_writer if writing else loop.add_reader)(dup, _wake, woken)
            except BaseException:
                os.close(dup)
                raise
            watched.append((dup, writing))
        await woken
    except NotImplementedError:  # no add_reader on this loop: one bounded select on a worker thread
        limit = THREAD_WAIT_SLICE if seconds is None else min(seconds, THREAD_WAIT_SLICE)
        await asyncio.to_thread(_select, fds, wfds, limit)
    except (OSError, ValueError):  # a descriptor the loop cannot watch: as the sync path, look again soon
        await asyncio.sleep(0.001)
    finally:
        if timer is not None:
            timer.cancel()
        for signal, _ in signals or ():
            signal.unwatch(wake_from_thread)
        for dup, writing in watched:
            (loop.remove_writer if writing else loop.remove_reader)(dup)
            os.close(dup)


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


def _select(fds: Sequence[int], wfds: Sequence[int], seconds: float) -> None:
    try:
        select.select(fds, wfds, [], seconds)
    except (OSError, ValueError):
        pass
