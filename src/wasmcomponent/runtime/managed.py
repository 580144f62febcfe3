"""``close()`` and ``with`` for the public objects, as wasmtime-py 50's ``Managed``.

In wasmtime-py every object that owns a native pointer (``Component``,
``Linker``, ``LinkerInstance``, ``ExportIndex``, ``ResourceType``,
``ResourceAny``, ``ResourceHost``, and the type reflection objects) has
``close()``, is its own context manager (``with x as y`` binds ``y = x`` and
closes ``x`` on exit), may be closed any number of times, and raises
``ValueError("already closed")`` when used after ``close()``.  Objects without
a native pointer (``Instance``, ``Func``, primitive value types, ``OwnType``,
``BorrowType``) have none of this, here as there.

Our objects hold Python data instead of pointers.  A class lists the slots
that hold that data in ``_managed_slots`` and reads them through
:class:`guarded` descriptors: ``close()`` replaces them with :data:`CLOSED`, so
every later read, wherever it happens (public methods, the linker, the
Canonical ABI's resource hooks), raises the same ``ValueError``.

    >>> class Box(Managed):
    ...     __slots__ = ("_value_",)
    ...     _managed_slots = ("_value_",)
    ...     _value = guarded("_value_")
    >>> b = Box(); b._value = 3
    >>> with b as same:
    ...     same is b, b._value
    (True, 3)
    >>> b._value
    Traceback (most recent call last):
    ValueError: already closed
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar, overload

__all__ = ["CLOSED", "Managed", "already_closed", "guarded"]

_Self = TypeVar("_Self", bound="Managed")
_T = TypeVar("_T")


class _Closed:
    """What a closed object's data slots hold."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<closed>"


CLOSED: Any = _Closed()


def already_closed() -> ValueError:
    """The error for using a closed object (wasmtime-py's message)."""
    return ValueError("already closed")


class guarded(Generic[_T]):  # noqa: N801 - used like ``property``
    """A descriptor over ``slot`` whose read raises ``already_closed()`` once the object is closed.

    ``_node: Node = guarded("_node_")`` in a class body, with ``_node_`` in ``__slots__``.
    """

    __slots__ = ("slot",)

    def __init__(self, slot: str) -> None:
        self.slot = slot

    @overload
    def __get__(self, obj: None, owner: type) -> guarded[_T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> _T: ...
    def __get__(self, obj: object, owner: type) -> Any:
        if obj is None:
            return self
        value = getattr(obj, self.slot)
        if value is CLOSED:
            raise already_closed()
        return value

    def __set__(self, obj: object, value: _T) -> None:
        object.__setattr__(obj, self.slot, value)


class Managed:
    """Base of the closable public objects: ``close()``, ``__enter__``, ``__exit__``."""

    __slots__ = ()
    _managed_slots: ClassVar[tuple[str, ...]] = ()

    def close(self) -> None:
        """Closes this object; using it afterwards raises ``ValueError``.  Closing twice is allowed."""
        for slot in self._managed_slots:
            object.__setattr__(self, slot, CLOSED)

    def _is_closed(self) -> bool:
        return any(getattr(self, slot, None) is CLOSED for slot in self._managed_slots)

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
