"""Waitables and waitable sets (``definitions.py``: ``Waitable``, ``WaitableSet``, ``EventCode``).

A waitable (a subtask, or one end of a stream or future) holds at most one
pending event, as a thunk computed when it is delivered.  A waitable joins at
most one set; ``waitable-set.wait`` blocks until some member has an event and
returns one.  Among several members with events the oldest joined member
goes first (the spec shuffles; wasmtime keeps an order, and so do we, so runs
are reproducible).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Callable, Optional

from .scheduler import Blocking, Thread
from .traps import trap

__all__ = ["EventCode", "Event", "NO_EVENT", "CANCELLED_EVENT", "Waitable", "WaitableSet"]


class EventCode(IntEnum):
    NONE = 0
    SUBTASK = 1
    STREAM_READ = 2
    STREAM_WRITE = 3
    FUTURE_READ = 4
    FUTURE_WRITE = 5
    TASK_CANCELLED = 6


Event = tuple[int, int, int]

# Module globals for the hot paths (an enum member read through its class costs ~0.1 us).
NO_EVENT: Event = (EventCode.NONE, 0, 0)
CANCELLED_EVENT: Event = (EventCode.TASK_CANCELLED, 0, 0)


class Waitable:
    """Something a guest can wait on: at most one pending event and one set."""

    __slots__ = ("pending_event", "wset", "has_sync_waiter")

    kind = "waitable"

    def __init__(self) -> None:
        self.pending_event: Optional[Callable[[], Event]] = None
        self.wset: Optional[WaitableSet] = None
        self.has_sync_waiter = False

    def set_pending_event(self, pending_event: Callable[[], Event]) -> None:
        self.pending_event = pending_event

    def has_pending_event(self) -> bool:
        return self.pending_event is not None

    def in_waitable_set(self) -> bool:
        return self.wset is not None

    def wait_for_pending_event(self, thread: Thread, release_lock: bool = False) -> Blocking:
        """Block ``thread`` (synchronously, outside any set) until this has an event."""
        assert not self.in_waitable_set()
        self.has_sync_waiter = True
        try:
            yield from thread.wait_until(self.has_pending_event, release_lock=release_lock)
        finally:
            self.has_sync_waiter = False

    def get_pending_event(self) -> Event:
        pending = self.pending_event
        assert pending is not None
        self.pending_event = None
        return pending()

    def join(self, wset: Optional[WaitableSet]) -> None:
        if self.wset is not None:
            self.wset.elems.remove(self)
        self.wset = wset
        if wset is not None:
            wset.elems.append(self)

    def drop(self) -> None:
        self.join(None)


class WaitableSet:
    """A spec ``WaitableSet``: members, and how many threads wait on it."""

    __slots__ = ("elems", "num_waiting")

    kind = "waitable set"

    def __init__(self) -> None:
        self.elems: list[Waitable] = []
        self.num_waiting = 0

    def has_pending_event(self) -> bool:
        for w in self.elems:
            if w.pending_event is not None:
                return True
        return False

    def get_pending_event(self) -> Event:
        for w in self.elems:
            if w.pending_event is not None:
                return w.get_pending_event()
        raise AssertionError("no pending event")

    def wait_for_event_and(
        self, thread: Thread, ready_func: Optional[Callable[[], bool]], cancellable: bool
    ) -> Blocking:
        """Block until ``ready_func()`` (if any) and a member has an event; return the event."""
        ready = self.has_pending_event
        if ready_func is not None:

            def ready_and_has_event() -> bool:
                return ready_func() and self.has_pending_event()

            ready = ready_and_has_event
        self.num_waiting += 1
        try:
            cancelled = yield from thread.wait_until(ready, cancellable)
        finally:
            self.num_waiting -= 1
        if cancelled:
            return CANCELLED_EVENT
        return self.get_pending_event()

    def wait_for_event(self, thread: Thread, cancellable: bool) -> Blocking:
        return self.wait_for_event_and(thread, None, cancellable)

    def poll(self, thread: Thread, cancellable: bool) -> Event:
        if thread.task.deliver_pending_cancel(cancellable):
            return CANCELLED_EVENT
        if not self.has_pending_event():
            return NO_EVENT
        return self.get_pending_event()

    def drop(self) -> None:
        if self.num_waiting > 0:
            raise trap("cannot drop waitable set with waiters")
        if self.elems:
            # wasmtime's resource table refuses to delete a set with members.
            raise trap("resource has children")

