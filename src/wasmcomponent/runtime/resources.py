"""Resource types and handles of the public API (wasmtime-py 50 names).

* ``ResourceType.host(n)`` names a host-defined resource type; two host types
  are equal when their keys are.  Guest-defined resource types are fresh for
  every instantiation and compare by identity.
* ``ResourceHost.own(rep, ty)`` / ``ResourceHost.borrow(rep, ty)`` is a plain
  value: a rep, a host type id and ownership.  Passing it to a component moves
  the rep into the callee's handle table; ``to_any(store)`` registers it in the
  store's host table (without a destructor).
* ``ResourceAny`` is a handle the host holds in its store: every own or borrow
  lifted out of a component becomes one.  ``drop(store)`` releases it (running
  the resource's destructor for an own), ``to_host(store)`` turns a handle of a
  host-defined type back into a ``ResourceHost``.  A ``ResourceAny`` that was
  dropped, passed as an own, or was a borrow whose call has ended is stale:
  using it raises ``WasmtimeError`` ("host-owned resource was already
  de-allocated"), even if its table slot has been reused.
* All three have ``close()`` and ``with``, as in wasmtime-py (see
  :mod:`.managed`): a closed object raises ``ValueError("already closed")``
  wherever it is used.  Closing a ``ResourceAny`` does not drop the resource
  (its store keeps it, as wasmtime's does); an ``own`` passed to a component
  is closed by the move.

The tables behind these live in :mod:`.handles`.

    >>> ResourceType.host(1) == ResourceType.host(1)
    True
    >>> ResourceType.host(1) == ResourceType.host(2)
    False
    >>> r = ResourceHost.own(7, 1)
    >>> (r.rep, r.type, r.owned)
    (7, 1, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import wasmtime

from ..types.model import ResourceIdentity
from ..types.values import register_resource_classes
from .managed import Managed, already_closed, guarded

if TYPE_CHECKING:
    from .handles import HostTable


def _check_u32(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an int for `{what}`, got {type(value).__name__}")
    if not 0 <= value < 2**32:
        raise ValueError(f"`{what}` must be a u32, got {value}")
    return value


class ResourceType(Managed):
    """The type of a resource: host-defined (``host(n)``) or defined by a component."""

    __slots__ = ("_identity_",)
    _managed_slots = ("_identity_",)
    _identity = guarded[ResourceIdentity]("_identity_")

    def __init__(self) -> None:
        raise wasmtime.WasmtimeError("Cannot directly construct a `ResourceType`")

    @classmethod
    def _from_identity(cls, identity: ResourceIdentity) -> ResourceType:
        self = cls.__new__(cls)
        self._identity = identity
        return self

    @classmethod
    def host(cls, val: int) -> ResourceType:
        """The host-defined resource type identified by the integer ``val``."""
        _check_u32(val, "val")
        return cls._from_identity(ResourceIdentity(f"host-{val}", host_key=val))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResourceType):
            return False
        mine, theirs = self._identity, other._identity
        if mine.host_key is not None or theirs.host_key is not None:
            return mine.host_key == theirs.host_key
        return mine is theirs

    def __hash__(self) -> int:
        key = self._identity.host_key
        return hash(("host", key)) if key is not None else id(self._identity)

    def __repr__(self) -> str:
        if self._is_closed():
            return "ResourceType(<closed>)"
        return f"ResourceType({self._identity.name or '?'})"


class ResourceHost(Managed):
    """A host-side resource handle: a ``rep`` and a host type id, owned or borrowed."""

    __slots__ = ("_rep", "_type", "_owned")

    _rep: int
    _type: int
    _owned: bool

    def __init__(self) -> None:
        raise wasmtime.WasmtimeError("Cannot directly construct a `ResourceHost`")

    @classmethod
    def _new(cls, rep: int, ty: int, owned: bool) -> ResourceHost:
        self = cls.__new__(cls)
        self._rep = rep
        self._type = ty
        self._owned = owned
        return self

    @classmethod
    def own(cls, rep: int, ty: int) -> ResourceHost:
        """An owned handle to host resource ``rep`` of host type ``ty``."""
        return cls._new(_check_u32(rep, "rep"), _check_u32(ty, "ty"), True)

    @classmethod
    def borrow(cls, rep: int, ty: int) -> ResourceHost:
        """A borrowed handle to host resource ``rep`` of host type ``ty``."""
        return cls._new(_check_u32(rep, "rep"), _check_u32(ty, "ty"), False)

    @property
    def rep(self) -> int:
        """The integer representation of this host resource."""
        return self._rep

    @property
    def type(self) -> int:
        """The host type id (the ``n`` of ``ResourceType.host(n)``)."""
        return self._type

    @property
    def owned(self) -> bool:
        """True for an ``own`` handle, False for a ``borrow``."""
        return self._owned

    def to_any(self, store: Any) -> ResourceAny:
        """Registers this handle in ``store``'s host table as a ``ResourceAny``."""
        from .handles import host_resource_to_any

        return host_resource_to_any(self, store)

    def close(self) -> None:
        """Closes this handle; later use raises ``ValueError("already closed")``."""
        # The lowering fast paths read the slots of an exact ``ResourceHost``
        # directly; a closed one becomes a subclass whose fields raise, at no
        # cost to those paths.
        self.__class__ = _ClosedResourceHost

    def _is_closed(self) -> bool:
        return type(self) is _ClosedResourceHost

    def __repr__(self) -> str:
        if self._is_closed():
            return "ResourceHost(<closed>)"
        kind = "own" if self._owned else "borrow"
        return f"ResourceHost.{kind}({self._rep}, {self._type})"


def _closed_field(self: object) -> Any:
    raise already_closed()


class _ClosedResourceHost(ResourceHost):
    """What ``ResourceHost.close()`` turns a handle into: every field raises ``ValueError``."""

    __slots__ = ()
    _rep = _type = _owned = property(_closed_field)  # type: ignore[assignment]


class ResourceAny(Managed):
    """A resource handle held by the host: an own or a borrow of any resource type."""

    __slots__ = ("_host", "_index", "_generation", "_type", "_owned")

    _host: HostTable | None
    _index: int
    _generation: int
    _type: ResourceType
    _owned: bool

    def __init__(self) -> None:
        raise wasmtime.WasmtimeError("Cannot directly construct a `ResourceAny`")

    @classmethod
    def _new(cls, host: HostTable, index: int, generation: int, ty: ResourceType, owned: bool) -> ResourceAny:
        self = cls.__new__(cls)
        self._host = host
        self._index = index
        self._generation = generation
        self._type = ty
        self._owned = owned
        return self

    def _check_open(self) -> None:
        # Closed, or moved into a component as an ``own``, as in wasmtime-py
        # (handles in flight inside an adapter are a subclass and stay readable).
        if self._host is None and type(self) is ResourceAny:
            raise already_closed()

    def close(self) -> None:
        """Closes this handle without dropping the resource; later use raises ``ValueError``."""
        self._host = None  # what the store's table checks: see ``HostTable.lookup``

    def _is_closed(self) -> bool:
        return self._host is None

    @property
    def type(self) -> ResourceType:
        """The ``ResourceType`` of this resource (a new object, which the caller may close)."""
        self._check_open()
        return ResourceType._from_identity(self._type._identity)

    @property
    def owned(self) -> bool:
        """True for an ``own`` handle, False for a ``borrow``."""
        self._check_open()
        return self._owned

    def drop(self, store: Any) -> None:
        """Releases this handle; for an own, runs the resource's destructor (guest or host)."""
        from .handles import drop_host_value

        self._check_open()
        drop_host_value(self, store)

    def to_host(self, store: Any) -> ResourceHost:
        """Converts a handle of a host-defined type into a ``ResourceHost`` (taking it out of the store)."""
        from .handles import host_value_to_host

        self._check_open()
        return host_value_to_host(self, store)

    def __repr__(self) -> str:
        kind = "own" if self._owned else "borrow"
        return f"<ResourceAny {kind} {self._type!r}>"


# Resource values are matched by class in untagged variants (types.values.python_classes).
register_resource_classes(ResourceAny, ResourceHost)
