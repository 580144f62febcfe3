"""The traps of the async runtime, in wasmtime's words.

One constructor per condition, so every site that checks a rule of
``definitions.py`` (its ``trap_if``) raises the same message as wasmtime's
``concurrent.rs`` for it.  The conformance suites match these texts as
substrings of the error chain.
"""

from __future__ import annotations

from ..errors import ComponentTrap

__all__ = ["trap", "unknown_handle", "cannot_block_sync", "deadlock"]


def trap(message: str) -> ComponentTrap:
    """A trap with ``message`` (``definitions.py``'s ``trap_if``)."""
    return ComponentTrap(message)


def unknown_handle(index: int) -> ComponentTrap:
    return ComponentTrap(f"unknown handle index {index}")


def cannot_block_sync() -> ComponentTrap:
    """A thread of a task with a synchronous type tried to block before returning."""
    return ComponentTrap("cannot block a synchronous task before returning")


def deadlock() -> ComponentTrap:
    """No thread can make progress while the host waits for a result."""
    return ComponentTrap("deadlock detected: event loop cannot make further progress")

