"""Resource types and handles of the public API.

``ResourceType.host(n)`` names a host-defined resource type; two host types are
equal when their keys are.  Guest-defined resource types are fresh for every
instantiation and compare by identity.

Passing resources into and out of components (own and borrow handles, handle
tables, destructors) is the subject of a later milestone: for now lowering or
lifting a handle raises ``UnsupportedError``.

    >>> ResourceType.host(1) == ResourceType.host(1)
    True
    >>> ResourceType.host(1) == ResourceType.host(2)
    False
"""

from __future__ import annotations

from typing import Any

import wasmtime

from ..errors import UnsupportedError
from ..types.model import ResourceIdentity


class ResourceType:
    """The type of a resource: host-defined (``host(n)``) or defined by a component."""

    __slots__ = ("_identity",)

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
        if not isinstance(val, int) or isinstance(val, bool):
            raise TypeError("expected an int")
        if not 0 <= val < 2**32:
            raise ValueError("host resource type ids are u32 values")
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
        return f"ResourceType({self._identity.name or '?'})"


class ResourceHost:
    """A host-side resource handle: a ``rep`` and a host type id, owned or borrowed."""

    __slots__ = ("rep", "type", "owned")

    def __init__(self) -> None:
        raise wasmtime.WasmtimeError("Cannot directly construct a `ResourceHost`")

    @classmethod
    def _new(cls, rep: int, ty: int, owned: bool) -> ResourceHost:
        self = cls.__new__(cls)
        self.rep = rep
        self.type = ty
        self.owned = owned
        return self

    @classmethod
    def own(cls, rep: int, ty: int) -> ResourceHost:
        """An owned handle to host resource ``rep`` of host type ``ty``."""
        return cls._new(rep, ty, True)

    @classmethod
    def borrow(cls, rep: int, ty: int) -> ResourceHost:
        """A borrowed handle to host resource ``rep`` of host type ``ty``."""
        return cls._new(rep, ty, False)

    def to_any(self, store: Any) -> ResourceAny:
        raise UnsupportedError("resources are not supported yet")


class ResourceAny:
    """A resource handle received from a component."""

    def __init__(self) -> None:
        raise wasmtime.WasmtimeError("Cannot directly construct a `ResourceAny`")

    def drop(self, store: Any) -> None:
        raise UnsupportedError("resources are not supported yet")

    def to_host(self, store: Any) -> ResourceHost:
        raise UnsupportedError("resources are not supported yet")
