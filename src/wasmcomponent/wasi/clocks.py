"""``wasi:clocks`` 0.2: monotonic-clock and wall-clock.

Monotonic time counts nanoseconds from the context's creation (it starts
near 0, as wasmtime's).  A configured callable replaces either clock.  With
virtual clocks (``WasiConfig.virtual_clocks``/``deterministic``) monotonic
time starts at 0 and advances only when the guest waits on a deadline:
sleeping jumps straight to it, and wall time is the epoch plus that offset.

Guest-chosen times, as wasmtime answers them: a deadline already reached
(``subscribe-duration(0)``, ``subscribe-instant(t)`` with ``t <= now``) is
ready from its second look on (:class:`~.io.YieldOnce`); a deadline past
2**64-1 ns is never ready; any other deadline is waited for, in sleeps of
at most a day (``pollable.block`` on a far-future instant sleeps, like wasmtime).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..runtime.resources import ResourceHost
from ..types.values import Record
from .ctx import Interface, Res
from .io import MAX_SLEEP_SECONDS, NeverReady, Pollable, YieldOnce

if TYPE_CHECKING:
    from .config import WasiConfig
    from .ctx import WasiCtx

U64 = (1 << 64) - 1


class ClockState:
    """The clocks of one context."""

    def __init__(self, config: WasiConfig) -> None:
        self.virtual = config.virtual_clock_epoch_ns is not None
        self.epoch_ns = config.virtual_clock_epoch_ns or 0
        self.offset = 0  # virtual monotonic time
        self.start = time.monotonic_ns()
        self.custom_monotonic = config.monotonic_clock
        self.custom_wall = config.wall_clock
        # The host's own monotonic clock (what ``now`` serves inline).
        self.real_monotonic = not self.virtual and self.custom_monotonic is None

    def monotonic_now(self) -> int:
        if self.virtual:
            return self.offset
        if self.custom_monotonic is not None:
            return int(self.custom_monotonic())
        return time.monotonic_ns() - self.start

    def wall_now_ns(self) -> int:
        if self.virtual:
            return self.epoch_ns + self.offset
        if self.custom_wall is not None:
            return int(self.custom_wall())
        return time.time_ns()

    def advance(self, ns: int) -> None:
        """Move virtual time forward (no effect on real clocks)."""
        if ns > 0:
            self.offset += ns

    def sleep(self, ns: int) -> None:
        """Wait ``ns`` nanoseconds of this context's monotonic time."""
        if self.virtual:
            self.advance(ns)
        elif ns > 0:
            time.sleep(min(ns / 1e9, MAX_SLEEP_SECONDS))  # Python's sleep overflows near 2**63 ns


def _resolution_ns(name: str) -> int:
    info = time.get_clock_info("monotonic" if name == "monotonic" else "time")
    return max(1, int(info.resolution * 1e9))


MONOTONIC = Interface("wasi:clocks/monotonic-clock", resources={"pollable": Res.POLLABLE})
WALL = Interface("wasi:clocks/wall-clock")
INTERFACES = [MONOTONIC, WALL]


@MONOTONIC.func("now")
def monotonic_now(ctx: WasiCtx) -> int:
    clocks = ctx.clocks
    if clocks.real_monotonic:  # ``ClockState.monotonic_now`` inlined: guests poll this in loops
        return (time.monotonic_ns() - clocks.start) & U64
    return clocks.monotonic_now() & U64


@MONOTONIC.func("resolution")
def monotonic_resolution(ctx: WasiCtx) -> int:
    return 1 if ctx.clocks.virtual else _resolution_ns("monotonic")


def _deadline_pollable(ctx: WasiCtx, when: int, now: int) -> ResourceHost:
    if when <= now:
        return ctx.own(YieldOnce(), Res.POLLABLE)
    if when >= U64:
        # Too far to ever happen: never ready (wasmtime waits forever, and so does ``block``,
        # sleeping, even with virtual clocks).
        return ctx.own(NeverReady(), Res.POLLABLE)
    return ctx.own(Pollable(None, when), Res.POLLABLE)


@MONOTONIC.func("subscribe-instant")
def subscribe_instant(ctx: WasiCtx, when: int) -> ResourceHost:
    return _deadline_pollable(ctx, when, ctx.clocks.monotonic_now())


@MONOTONIC.func("subscribe-duration")
def subscribe_duration(ctx: WasiCtx, duration: int) -> ResourceHost:
    now = ctx.clocks.monotonic_now()
    return _deadline_pollable(ctx, now + duration, now)


def _datetime(ns: int) -> Any:
    seconds, nanos = divmod(max(ns, 0), 10**9)
    return Record(seconds=seconds & U64, nanoseconds=nanos)


@WALL.func("now")
def wall_now(ctx: WasiCtx) -> Any:
    return _datetime(ctx.clocks.wall_now_ns())


@WALL.func("resolution")
def wall_resolution(ctx: WasiCtx) -> Any:
    return _datetime(1 if ctx.clocks.virtual else _resolution_ns("time"))
