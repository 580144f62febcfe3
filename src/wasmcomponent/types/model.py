"""The resolved component type model.

These are the types after every index has been resolved: a ``RecordType`` holds
its field types, not type indices.  They are frozen and hashable, so the
Canonical ABI layout (``types.abi``) and generated code can be cached per type.

Resource types are the one nominal exception: ``ResourceIdentity`` compares by
identity.  A component's own ``(type (resource ...))`` definitions and its
imported resources each get one identity at translation time; the runtime maps
those to per-instantiation identities (a resource defined by a component is
fresh for every instantiation).

Example::

    >>> point = RecordType((("x", U32), ("y", U32)))
    >>> point == RecordType((("x", U32), ("y", U32)))
    True
    >>> OptionType(STRING).cases()
    (('none', None), ('some', PrimType(name='string')))
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Callable, Mapping, Optional, Union

# The primitive types are named by the binary format itself, so they live in ``binary``
# (the lowest layer) and are re-exported here with the rest of the type model.
from ..binary import primitives as _primitives

PrimType = _primitives.PrimType
BOOL = _primitives.BOOL
CHAR = _primitives.CHAR
ERROR_CONTEXT = _primitives.ERROR_CONTEXT
F32 = _primitives.F32
F64 = _primitives.F64
PRIMITIVES = _primitives.PRIMITIVES
S8 = _primitives.S8
S16 = _primitives.S16
S32 = _primitives.S32
S64 = _primitives.S64
STRING = _primitives.STRING
U8 = _primitives.U8
U16 = _primitives.U16
U32 = _primitives.U32
U64 = _primitives.U64


class ResourceIdentity:
    """The identity of one resource type; compared by ``is``.

    ``name`` is for messages only.  ``host_key`` is set for resources defined by
    the host through ``ResourceType.host(n)``.
    """

    __slots__ = ("name", "host_key", "rep", "dtor", "__weakref__")

    def __init__(self, name: str = "", host_key: Optional[object] = None) -> None:
        self.name = name
        self.host_key = host_key
        self.rep = "i32"
        self.dtor: Optional[object] = None

    def __repr__(self) -> str:
        return f"<resource {self.name or '?'} at {id(self):#x}>"


# Composite types cache their hash and compare hashes before fields: types are
# DAGs (a definition used twice is one object), and the generated hash/eq of a
# dataclass would walk the tree they expand to, which can be exponentially
# larger than the component (a doubling chain of tuples).  Used by the
# `functools.cache` layouts in `types.abi` and the ABI compilers.


def _cached_hash(node: object, fields: tuple) -> int:
    h: int = node._hash  # type: ignore[attr-defined]
    if h == 0:
        h = hash((type(node).__name__, fields)) or 1
        object.__setattr__(node, "_hash", h)
    return h


def _equal(node: object, other: object) -> bool:
    if node is other:
        return True
    if type(other) is not type(node) or hash(node) != hash(other):
        return False
    return _same(node, other, set())


def _same(a: object, b: object, equal: set[tuple[int, int]]) -> bool:
    """Structural equality of two type DAGs, each pair of nodes compared once.

    ``equal`` holds the pairs (by id, both alive for the whole comparison)
    already found equal, so equal but distinct DAGs compare in linear time.
    """
    if a is b:
        return True
    if isinstance(a, tuple):
        return (isinstance(b, tuple) and len(a) == len(b)
                and all(_same(x, y, equal) for x, y in zip(a, b, strict=True)))
    if not hasattr(a, "_hash"):
        return bool(a == b)
    if type(a) is not type(b) or hash(a) != hash(b):
        return False
    key = (id(a), id(b))
    if key in equal:
        return True
    names = [f for f in a.__dataclass_fields__ if f != "_hash"]  # type: ignore[attr-defined]
    if all(_same(getattr(a, f), getattr(b, f), equal) for f in names):
        equal.add(key)
        return True
    return False


@dataclass(frozen=True, slots=True)
class ListType:
    element: ValType
    length: Optional[int] = None  # fixed-length lists (gated feature)
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return _cached_hash(self, (self.element, self.length))

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)


@dataclass(frozen=True, slots=True)
class RecordType:
    fields: tuple[tuple[str, ValType], ...]
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return _cached_hash(self, (self.fields,))

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)


@dataclass(frozen=True, slots=True)
class TupleType:
    elements: tuple[ValType, ...]
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return _cached_hash(self, (self.elements,))

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)


@dataclass(frozen=True, slots=True)
class VariantType:
    variant_cases: tuple[tuple[str, Optional[ValType]], ...]
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return _cached_hash(self, (self.variant_cases,))

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)

    def cases(self) -> tuple[tuple[str, Optional[ValType]], ...]:
        return self.variant_cases


@dataclass(frozen=True, slots=True)
class EnumType:
    names: tuple[str, ...]

    def cases(self) -> tuple[tuple[str, Optional[ValType]], ...]:
        return tuple((n, None) for n in self.names)


@dataclass(frozen=True, slots=True)
class OptionType:
    payload: ValType
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return _cached_hash(self, (self.payload,))

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)

    def cases(self) -> tuple[tuple[str, Optional[ValType]], ...]:
        return (("none", None), ("some", self.payload))


@dataclass(frozen=True, slots=True)
class ResultType:
    ok: Optional[ValType]
    err: Optional[ValType]
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return _cached_hash(self, (self.ok, self.err))

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)

    def cases(self) -> tuple[tuple[str, Optional[ValType]], ...]:
        return (("ok", self.ok), ("err", self.err))


@dataclass(frozen=True, slots=True)
class FlagsType:
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OwnType:
    resource: ResourceIdentity


@dataclass(frozen=True, slots=True)
class BorrowType:
    resource: ResourceIdentity


@dataclass(frozen=True, slots=True)
class StreamType:
    payload: Optional[ValType]
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return _cached_hash(self, (self.payload,))

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)


@dataclass(frozen=True, slots=True)
class FutureType:
    payload: Optional[ValType]
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return _cached_hash(self, (self.payload,))

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)


@dataclass(frozen=True, slots=True)
class MapType:
    key: ValType
    value: ValType
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return _cached_hash(self, (self.key, self.value))

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)


def _state_without_hash(self: object) -> list[object]:
    """Pickle/copy state with the cached hash cleared: string hashes differ
    between interpreters, so a hash cached in one must not travel to another."""
    return [0 if f.name == "_hash" else getattr(self, f.name) for f in fields(self)]  # type: ignore[arg-type]


for _cls in (ListType, RecordType, TupleType, VariantType, OptionType, ResultType,
             StreamType, FutureType, MapType):
    setattr(_cls, "__getstate__", _state_without_hash)  # noqa: B010 - replaces the dataclass one
del _cls


ValType = Union[
    PrimType,
    ListType,
    RecordType,
    TupleType,
    VariantType,
    EnumType,
    OptionType,
    ResultType,
    FlagsType,
    OwnType,
    BorrowType,
    StreamType,
    FutureType,
    MapType,
]

VariantLike = Union[VariantType, EnumType, OptionType, ResultType]


@dataclass(frozen=True, slots=True)
class FuncType:
    params: tuple[tuple[str, ValType], ...]
    result: Optional[ValType]
    is_async: bool = False


# ---------------------------------------------------------------- core types


@dataclass(frozen=True, slots=True)
class CoreFuncType:
    """A core function type; value types are ``i32``, ``i64``, ``f32``, ``f64``, ``v128``, or ref names."""

    params: tuple[str, ...]
    results: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CoreExternType:
    """A core import/export type: ``kind`` is ``func``, ``table``, ``memory``, ``global`` or ``tag``."""

    kind: str
    func: Optional[CoreFuncType] = None
    detail: object = None  # limits / global type as decoded; compared structurally


@dataclass(frozen=True, slots=True)
class CoreModuleType:
    imports: tuple[tuple[str, str, CoreExternType], ...]
    exports: tuple[tuple[str, CoreExternType], ...]


# ----------------------------------------------------------- component types


@dataclass(frozen=True, slots=True)
class TypeBound:
    """An exported/imported type: ``eq`` to a value type or a ``sub resource``."""

    eq: Optional[ValType] = None
    resource: Optional[ResourceIdentity] = None


@dataclass(frozen=True, slots=True)
class InstanceType:
    exports: Mapping[str, ExternType] = field(hash=False, compare=True)

    def __hash__(self) -> int:
        return hash(tuple(self.exports))


@dataclass(frozen=True, slots=True)
class ComponentType:
    imports: Mapping[str, ExternType] = field(hash=False, compare=True)
    exports: Mapping[str, ExternType] = field(hash=False, compare=True)

    def __hash__(self) -> int:
        return hash((tuple(self.imports), tuple(self.exports)))


ExternType = Union[FuncType, InstanceType, ComponentType, CoreModuleType, TypeBound, ValType]

INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "s8": (-(2**7), 2**7 - 1),
    "u8": (0, 2**8 - 1),
    "s16": (-(2**15), 2**15 - 1),
    "u16": (0, 2**16 - 1),
    "s32": (-(2**31), 2**31 - 1),
    "u32": (0, 2**32 - 1),
    "s64": (-(2**63), 2**63 - 1),
    "u64": (0, 2**64 - 1),
}


def substitute_resources(t: FuncType, resolve: Callable[[ResourceIdentity], ResourceIdentity]) -> FuncType:
    """``t`` with every resource identity replaced by ``resolve(identity)``.

    Used to show a function's type as one instance sees it: the resource
    types a component defines are fresh for each instantiation.

    >>> r, s = ResourceIdentity("r"), ResourceIdentity("s")
    >>> ft = FuncType((("x", ListType(OwnType(r))),), None)
    >>> substitute_resources(ft, lambda _: s).params[0][1].element.resource is s
    True
    """

    # Memoised by identity: types are DAGs (a definition used twice is one
    # object), and rebuilding them as trees would be exponential in the worst case.
    done: dict[int, ValType] = {}

    def value(v: ValType) -> ValType:
        if isinstance(v, PrimType):
            return v
        key = id(v)
        hit = done.get(key)
        if hit is None:
            hit = done[key] = rebuild(v)
        return hit

    def rebuild(v: ValType) -> ValType:
        if isinstance(v, OwnType):
            return OwnType(resolve(v.resource))
        if isinstance(v, BorrowType):
            return BorrowType(resolve(v.resource))
        if isinstance(v, ListType):
            return ListType(value(v.element), v.length)
        if isinstance(v, RecordType):
            return RecordType(tuple((n, value(f)) for n, f in v.fields))
        if isinstance(v, TupleType):
            return TupleType(tuple(value(e) for e in v.elements))
        if isinstance(v, VariantType):
            return VariantType(tuple((n, maybe(c)) for n, c in v.variant_cases))
        if isinstance(v, OptionType):
            return OptionType(value(v.payload))
        if isinstance(v, ResultType):
            return ResultType(maybe(v.ok), maybe(v.err))
        if isinstance(v, StreamType):
            return StreamType(maybe(v.payload))
        if isinstance(v, FutureType):
            return FutureType(maybe(v.payload))
        if isinstance(v, MapType):
            return MapType(value(v.key), value(v.value))
        return v

    def maybe(v: Optional[ValType]) -> Optional[ValType]:
        return None if v is None else value(v)

    return FuncType(tuple((n, value(v)) for n, v in t.params), maybe(t.result), t.is_async)
