"""What generated bindings import at run time: componentize-py's value classes and a few helpers.

``Some``, ``Ok``, ``Err`` and ``Result`` have componentize-py's shapes
(``componentize_py_types``), and are shared by every generated package, so
that values of one package are understood by another.  A function whose
WIT result is a ``result`` returns the ``ok`` value and raises ``Err``; a
host function implementing such an import does the same, as componentize-py
guests do.

    >>> Ok(1), Some(None)
    (Ok(value=1), Some(value=None))
    >>> try:
    ...     raise Err("no")
    ... except Err as err:
    ...     err.value
    'no'
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Generic, Iterable, NoReturn, Optional, TypeVar, Union

import wasmtime

from ..errors import LinkError
from ..runtime.component import ExportIndex
from ..runtime.func import Func
from ..runtime.instance import Instance
from ..types.values import Record

__all__ = ["Some", "Ok", "Err", "Result", "CONVERSION_ERRORS", "CACHE_LIMIT", "wrong_value", "not_a_case",
           "export_instance", "export_func", "close_bindings", "call_async", "record", "raise_not_a_case",
           "HostTable", "host_resource_key"]

_new = object.__new__

S = TypeVar("S")
T = TypeVar("T")
E = TypeVar("E")


@dataclass
class Some(Generic[S]):
    """The present case of a nested ``option`` (``option<option<T>>``); a plain ``option`` is ``Optional``."""

    value: S


@dataclass
class Ok(Generic[T]):
    """The success case of a ``result``."""

    value: T


@dataclass(frozen=True)
class Err(Generic[E], Exception):
    """The failure case of a ``result``; raised by functions whose result is a ``result``."""

    value: E


Result = Union[Ok[T], Err[E]]

# What a value of the wrong shape makes generated conversions raise (a missing attribute,
# a missing enum member, an unhashable key, a short tuple), reported as one TypeError.
CONVERSION_ERRORS = (AttributeError, KeyError, TypeError, IndexError)

# How many converted flags values a generated module keeps per flags type.
CACHE_LIMIT = 4096


def record(fields: dict[str, Any]) -> Record:
    """A ``Record`` with ``fields`` (WIT names), made without the keyword call (twice as fast).

    >>> record({"full-name": "Ada"})
    Record(**{'full-name': 'Ada'})
    """
    made: Record = _new(Record)
    made.__dict__ = fields
    return made


def raise_not_a_case(type_name: str, value: object) -> NoReturn:
    """Raise :func:`not_a_case` (for generated expressions)."""
    raise not_a_case(type_name, value)


def wrong_value(function: str, parameter: str, expected: str, value: object) -> TypeError:
    """The error for a parameter that is not a value of its declared type.

    >>> wrong_value("echo-point", "p", "Point", 3)
    TypeError('echo-point: parameter `p`: expected `Point`, found `int`')
    """
    return TypeError(f"{function}: parameter `{parameter}`: expected `{expected}`, found `{type(value).__name__}`")


def not_a_case(type_name: str, value: object) -> TypeError:
    """The error for a value that is none of a variant's (or result's) case classes."""
    return TypeError(f"expected a case of `{type_name}`, found `{type(value).__name__}`")


def export_instance(store: wasmtime.Storelike, instance: Instance, name: str) -> ExportIndex:
    """The export index of the exported interface ``name``; ``LinkError`` when the instance has none."""
    index = instance.get_export_index(store, name)
    if index is None:
        raise LinkError(f"the instance does not export the interface `{name}` the bindings expect")
    return index


def export_func(store: wasmtime.Storelike, instance: Instance, within: Optional[ExportIndex], name: str) -> Func:
    """The exported function ``name`` (inside ``within``); ``LinkError`` when the instance has none."""
    index = instance.get_export_index(store, name, within)
    func = None if index is None else instance.get_func(store, index)
    if func is None:
        raise LinkError(f"the instance does not export the function `{name}` the bindings expect")
    return func


async def call_async(func: Any, store: wasmtime.Storelike, *args: Any) -> Any:
    """``await func.call_async(store, *args)`` where the runtime has it, else the synchronous call
    (which runs the store's scheduler until the task returns)."""
    method = getattr(func, "call_async", None)
    if method is None:
        return func(store, *args)
    return await method(store, *args)


_HOST_KEYS = itertools.count(0x6267_0000)  # "bg": apart from the small keys users pick


def host_resource_key() -> int:
    """A fresh ``ResourceType.host(key)`` key for a resource the host implements."""
    return next(_HOST_KEYS)


class HostTable(Generic[T]):
    """The host's objects of one imported resource type, by the ``rep`` the guest's handles carry.

    >>> table: HostTable[str] = HostTable()
    >>> rep = table.add("file")
    >>> table.drop(None, rep), len(table)
    (None, 0)
    """

    def __init__(self) -> None:
        self._objects: dict[int, T] = {}
        self._reps: dict[int, int] = {}  # id(object) -> rep, for objects lent to the guest
        self._lent: set[int] = set()  # reps added only for one call's borrow
        self._next = 1

    def __len__(self) -> int:
        return len(self._objects)

    def add(self, obj: T) -> int:
        """Keep ``obj``; its ``rep``."""
        rep = self._next
        if rep > 0xFFFF_FFFF:
            raise ResourceWarning("more than 2**32 host resources made by this process")
        self._next = rep + 1
        self._objects[rep] = obj
        return rep

    def get(self, store: wasmtime.Storelike, handle: Any) -> T:
        """The object a borrowed handle (a ``ResourceAny`` the runtime passes) stands for."""
        return self._objects[handle.to_host(store).rep]

    def take(self, store: wasmtime.Storelike, handle: Any) -> T:
        """The object an owned handle stands for, handed over to the host (no destructor runs)."""
        return self._objects.pop(handle.to_host(store).rep)

    def drop(self, store: Any, rep: int) -> None:
        """The resource's destructor: the guest dropped its last handle."""
        obj = self._objects.pop(rep, None)
        if obj is not None and self._reps.get(id(obj)) == rep:
            del self._reps[id(obj)]

    def lend(self, obj: T) -> int:
        """The ``rep`` of ``obj`` for a ``borrow`` during one call (added until :meth:`unlend` if new)."""
        rep = self._reps.get(id(obj))
        if rep is not None and self._objects.get(rep) is obj:
            return rep
        rep = self.add(obj)
        self._reps[id(obj)] = rep
        self._lent.add(rep)
        return rep

    def unlend(self, rep: int) -> None:
        """The call that borrowed ``rep`` returned: forget it if it was added for that call."""
        if rep in self._lent:
            self._lent.discard(rep)
            self.drop(None, rep)


class _Closed:
    """Stands for every function of closed bindings."""

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def __call__(self, *args: Any) -> Any:
        raise ValueError(f"{self.owner} was closed")


def close_bindings(owner: str, objects: Iterable[object]) -> None:
    """Make every function of ``objects`` raise ``ValueError("<owner> was closed")`` from now on."""
    closed = _Closed(owner)
    for obj in objects:
        for name, value in list(vars(obj).items()):
            if isinstance(value, Func):
                setattr(obj, name, closed)
