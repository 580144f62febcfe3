"""Taking ``own`` handles the guest passes to a host function.

An ``own<T>`` parameter of a host function arrives as a ``ResourceAny`` in
the store's host table (or a ``ResourceHost``).  :func:`take` removes it
from there and from the WASI table (trapping if the resource still has
children, as dropping it would) without running its destructor: the host now
owns the object.  Objects that can be taken derive from :class:`Owned`, whose
``close`` (the destructor) does nothing once taken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from ...runtime.resources import ResourceAny
from ..ctx import HostObject, rep_of, trap

if TYPE_CHECKING:
    from ..ctx import WasiCtx

T = TypeVar("T", bound="Owned")


class Owned(HostObject):
    """A resource object that an ``own`` parameter can move to the host."""

    __slots__ = ("taken",)

    def __init__(self) -> None:
        super().__init__()
        self.taken = False

    def close(self) -> None:
        if not self.taken:
            self.release()

    def release(self) -> None:
        """What dropping the handle does (only when the host has not taken the object)."""


def take(ctx: WasiCtx, handle: Any, cls: type[T]) -> T:
    """The object behind an owned ``handle``, removed from the tables; its destructor does not run."""
    host = handle._host if isinstance(handle, ResourceAny) else None
    if isinstance(handle, ResourceAny):
        if host is None:
            raise trap("resource handle already consumed")
        entry = host.lookup(handle)
        if not entry.own:
            raise trap("expected an owned resource handle")
        rep = entry.rep
    else:
        rep = rep_of(handle)
    obj = ctx.table.get(rep)
    if not isinstance(obj, cls):
        raise trap("unknown handle index")
    if obj.children:
        raise trap("resource has children")
    if host is not None:
        host.remove(handle)
        handle._host = None
    obj.taken = True
    ctx.drop(rep)
    return obj
