"""The Python value model (compatible with wasmtime-py 50's ``wasmtime.component``).

It sits with the type model, below ``abi/`` (which converts these values) and
``runtime/`` (which hands them to users), so the pipeline's layers only import
downward; ``runtime.values`` re-exports it for code that imports it from there.

=====================  ==========================================================
component type         Python value
=====================  ==========================================================
``bool``               ``bool`` (strictly)
``s8`` .. ``u64``      ``int`` (a ``bool`` is accepted, as in wasmtime-py)
``f32`` / ``f64``      ``float`` (an ``int`` is rejected, as in wasmtime-py)
``char``               a one-character ``str``
``string``             ``str``
``list<u8>``           ``bytes`` (lowering also accepts ``bytearray``/``memoryview``)
``list<T>``            ``list`` (lowering also accepts ``tuple``)
``list<T, N>``         like ``list<T>``; the length must be ``N``
``tuple<...>``         ``tuple``
``record``             :class:`Record` (lowering reads any object's attributes,
                       or a ``dict``'s items, by WIT field name)
``enum``               ``str``
``flags``              ``set[str]`` (lowering also accepts ``frozenset``)
``option``/``result``/ untagged when the Python classes of the cases are
``variant``            disjoint, otherwise :class:`Variant` (see :func:`is_tagged`)
``own``/``borrow``     resource objects (handled by the runtime's hooks)
``map<K, V>``          ``dict`` (lowering also accepts any ``Mapping``, or a
                       ``list``/``tuple`` of ``(key, value)`` tuples)
=====================  ==========================================================

The untagged rule follows wasmtime-py exactly: each case contributes the set
of Python classes its payload converts to (``object`` for a case without a
payload); if two cases share a class, the type is *tagged*.  An untagged value
is matched against the cases in order with ``isinstance``, and the first
matching case wins.  So ``option<u32>`` is ``None`` or an ``int``,
``result<u32, string>`` is an ``int`` (ok) or a ``str`` (err), and
``result`` or ``option<option<T>>`` use :class:`Variant`.

Maps (wasmtime-py has no convention; this one is ours): the Canonical ABI
passes a ``map`` as a list of pairs and allows duplicate keys.  Lifting for
the host builds a ``dict`` in which, as the spec lets bindings do, the *last*
pair of a duplicated key gives its value (the key keeps the position of its
first occurrence).  Lowering a ``Mapping`` passes its ``items()`` in
iteration order; lowering a list of pairs passes them exactly, duplicates
included.  Inside an untagged variant a map payload must be a ``Mapping``
(a list would be taken for a ``list`` case).  Guest-to-guest (fused) calls
never build a ``dict``: pairs are carried over exactly (see ``abi.refs``).

Deliberate divergence from wasmtime-py: an out-of-range integer or a
surrogate ``char`` raises ``ValueError`` instead of being wrapped.

Wrong values raise ``TypeError`` / ``ValueError`` with messages such as
"expected `u32` (int), found `str`"; nested positions are prefixed
("field `x`: ...", "list element 3: ...").  Callers may prefix more context
with :func:`prefix_error` (e.g. "parameter `p`: ...").
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, NoReturn

from ..errors import MissingFieldError, ValueConversionError
from .model import (
    U8,
    BorrowType,
    EnumType,
    FlagsType,
    ListType,
    MapType,
    OptionType,
    OwnType,
    PrimType,
    RecordType,
    ResultType,
    TupleType,
    ValType,
    VariantType,
)

__all__ = [
    "Record",
    "Variant",
    "python_classes",
    "is_tagged",
    "CaseMatcher",
    "prefix_error",
    "type_mismatch",
    "describe_type",
    "resource_classes",
    "map_pairs",
]

class Record:
    """A lifted ``record`` value: fields are attributes named as in WIT.

    Kebab-case fields are read with ``getattr(rec, "a-b")``.  Equality follows
    wasmtime-py: every field of ``self`` must exist and be equal on ``other``.

    >>> r = Record(x=1, **{"y-z": 2})
    >>> r.x, getattr(r, "y-z")
    (1, 2)
    >>> r
    Record(**{'x': 1, 'y-z': 2})
    """

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __eq__(self, other: object) -> bool:
        for key, value in self.__dict__.items():
            if not hasattr(other, key) or getattr(other, key) != value:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value

    def __repr__(self) -> str:
        fields = self.__dict__
        if all(key.isidentifier() and not keyword.iskeyword(key) for key in fields):
            return "Record(" + ", ".join(f"{key}={value!r}" for key, value in fields.items()) + ")"
        return f"Record(**{fields!r})"


@dataclass
class Variant:
    """A tagged ``variant``/``option``/``result`` value: case name and payload."""

    tag: str
    payload: Any | None = None


class _ResourceValue:
    """Stand-in class for resource values until the runtime registers its own."""


# Filled by ``runtime.resources`` when it loads (this layer cannot import the runtime).
_RESOURCE_CLASSES: list[type] = []


def register_resource_classes(*classes: type) -> None:
    """Declare the Python classes of resource values (``ResourceAny``, ``ResourceHost``)."""
    for cls in classes:
        if cls not in _RESOURCE_CLASSES:
            _RESOURCE_CLASSES.append(cls)


def resource_classes() -> tuple[type, ...]:
    """Python classes of resource values, as registered by the runtime."""
    return tuple(_RESOURCE_CLASSES) or (_ResourceValue,)


def python_classes(t: ValType) -> frozenset[type]:
    """The Python classes values of ``t`` lift to (wasmtime-py ``add_classes``)."""
    match t:
        case PrimType(name="bool"):
            return frozenset({bool})
        case PrimType(name="f32" | "f64"):
            return frozenset({float})
        case PrimType(name="char" | "string"):
            return frozenset({str})
        case PrimType(name="error-context"):
            return frozenset({object})
        case PrimType():
            return frozenset({int})
        case ListType(element=elem):
            return frozenset({bytes}) if elem == U8 else frozenset({list})
        case RecordType():
            return frozenset({Record})
        case TupleType():
            return frozenset({tuple})
        case EnumType():
            return frozenset({str})
        case FlagsType():
            return frozenset({set})
        case VariantType() | OptionType() | ResultType():
            if is_tagged(t):
                return frozenset({Variant})
            out: set[type] = set()
            for _, payload in t.cases():
                out |= {object} if payload is None else python_classes(payload)
            return frozenset(out)
        case OwnType() | BorrowType():
            return frozenset(resource_classes())
        case MapType():
            return frozenset({dict})
    return frozenset({object})


def is_tagged(t: VariantType | OptionType | ResultType) -> bool:
    """Whether values of ``t`` are :class:`Variant` (wasmtime-py ``_tagged``)."""
    seen: set[type] = set()
    for _, payload in t.cases():
        case = {object} if payload is None else python_classes(payload)
        if case & seen:
            return True
        seen |= case
    return False


class CaseMatcher:
    """Precomputed case selection for one variant-like type.

    :meth:`match` maps a Python value to ``(case_index, payload)``;
    :meth:`make` builds the Python value of a lifted case.
    """

    __slots__ = ("names", "has_payload", "tagged", "index_of", "classes", "enum")

    def __init__(self, t: VariantType | OptionType | ResultType | EnumType) -> None:
        cases = t.cases()
        self.names = tuple(name for name, _ in cases)
        self.has_payload = tuple(payload is not None for _, payload in cases)
        self.enum = isinstance(t, EnumType)
        self.tagged = False if self.enum else is_tagged(t)  # type: ignore[arg-type]
        self.index_of = {name: i for i, name in enumerate(self.names)}
        self.classes = tuple(_match_classes(payload) for _, payload in cases)

    def match(self, value: Any) -> tuple[int, Any]:
        """Return ``(case_index, payload)`` for ``value`` or raise TypeError/ValueError."""
        if self.enum:
            if not isinstance(value, str):
                type_mismatch("enum", "str", value)
            index = self.index_of.get(value)
            if index is None:
                raise ValueConversionError(f"enum variant name `{value}` is not valid")
            return index, None
        if self.tagged:
            if not isinstance(value, Variant):
                type_mismatch("variant", "Variant", value)
            index = self.index_of.get(value.tag)
            if index is None:
                raise ValueError(f"unknown variant case: `{value.tag}`")
            return index, value.payload
        for index, classes in enumerate(self.classes):
            if classes is None:
                if value is None:
                    return index, None
            elif isinstance(value, classes):
                return index, value
        raise ValueError(f"value not valid for this variant: found `{type(value).__name__}`{self._hint(value)}")

    def _hint(self, value: Any) -> str:
        """Why a ``Variant`` was refused: this type's cases are told apart by their Python types."""
        if not isinstance(value, Variant) or value.tag not in self.index_of:
            return ""
        classes = self.classes[self.index_of[value.tag]]
        plain = "None" if classes is None else repr(value.payload)
        return (
            f" (the cases of this type have distinct Python types, so they are passed untagged:"
            f" pass `{plain}` instead of `Variant({value.tag!r}, ...)`)"
        )

    def make(self, index: int, payload: Any) -> Any:
        """The Python value of case ``index`` with a lifted ``payload``."""
        if self.enum:
            return self.names[index]
        if self.tagged:
            return Variant(self.names[index], payload)
        return payload


def _match_classes(payload: ValType | None) -> tuple[type, ...] | None:
    """The classes an untagged case accepts on lowering (a map payload: any ``Mapping``)."""
    if payload is None:
        return None
    if isinstance(payload, MapType):
        return (Mapping,)
    return tuple(python_classes(payload))


def describe_type(t: ValType) -> str:
    """A short WIT-like name of ``t`` for messages."""
    match t:
        case PrimType(name=name):
            return name
        case ListType(length=None):
            return "list"
        case ListType():
            return "fixed-length list"
        case RecordType():
            return "record"
        case TupleType():
            return "tuple"
        case VariantType():
            return "variant"
        case EnumType():
            return "enum"
        case OptionType():
            return "option"
        case ResultType():
            return "result"
        case FlagsType():
            return "flags"
        case OwnType():
            return "own"
        case BorrowType():
            return "borrow"
        case MapType():
            return "map"
    return type(t).__name__


def type_mismatch(wit: str, python: str, value: object) -> NoReturn:
    """Raise the standard TypeError for a value of the wrong Python class."""
    raise TypeError(f"expected `{wit}` ({python}), found `{type(value).__name__}`")


def prefix_error(err: Exception, prefix: str) -> Exception:
    """Return a copy of TypeError/ValueError ``err`` whose message starts with ``prefix: ``."""
    cls: type[Exception]
    if isinstance(err, (ValueConversionError, MissingFieldError)):
        cls = type(err)
    else:
        cls = TypeError if isinstance(err, TypeError) else ValueError
    return cls(f"{prefix}: {err}")


def with_prefix(prefix: str, fn: Callable[[], Any]) -> Any:
    """Call ``fn`` and prefix the message of any TypeError/ValueError it raises."""
    try:
        return fn()
    except (TypeError, ValueError) as err:
        raise prefix_error(err, prefix) from None


# ------------------------------------------------------ scalar conversions


def check_bool(value: Any) -> bool:
    """Return ``value`` if it is a ``bool``."""
    if value is True or value is False:
        return value  # type: ignore[no-any-return]
    type_mismatch("bool", "bool", value)


def check_int(value: Any, name: str, lo: int, hi: int) -> int:
    """Return ``value`` if it is an ``int`` within ``lo..=hi`` (a ``bool`` passes as an int)."""
    if not isinstance(value, int):
        type_mismatch(name, "int", value)
    if not lo <= value <= hi:
        raise ValueError(f"integer {value} out of range for `{name}` ({lo}..={hi})")
    return value


def check_float(value: Any, name: str) -> float:
    """Return ``value`` if it is a ``float`` (ints are rejected, as in wasmtime-py)."""
    if not isinstance(value, float):
        type_mismatch(name, "float", value)
    return value


def check_char(value: Any) -> int:
    """Return the code point of a one-character ``str`` that is not a surrogate."""
    if not isinstance(value, str) or len(value) != 1:
        if isinstance(value, str):
            raise TypeError(f"expected `char` (a single-character str), found a str of length {len(value)}")
        type_mismatch("char", "a single-character str", value)
    code = ord(value)
    if 0xD800 <= code <= 0xDFFF:
        raise ValueError(f"`char` cannot be the surrogate code point U+{code:04X}")
    return code


def flags_to_int(value: Any, index_of: dict[str, int]) -> int:
    """Pack a set of flag names into an integer (bit ``i`` = label ``i``)."""
    if not isinstance(value, (set, frozenset)):
        type_mismatch("flags", "set of str", value)
    bits = 0
    for name in value:
        if not isinstance(name, str):
            raise TypeError(f"expected `flags` (set of str), found an element of type `{type(name).__name__}`")
        bit = index_of.get(name)
        if bit is None:
            raise ValueConversionError(f"unknown flag: `{name}`")
        bits |= 1 << bit
    return bits


def map_pairs(value: Any) -> Any:
    """The ``(key, value)`` pairs of a ``map`` value, in the order they are lowered.

    A ``Mapping`` gives ``list(value.items())``; a ``list``/``tuple`` must hold
    2-tuples and is returned as is (duplicate keys are kept).  Keys and
    values are checked later, when they are stored.

    >>> map_pairs({"a": 1}), map_pairs([("a", 1), ("a", 2)])
    ([('a', 1)], [('a', 1), ('a', 2)])
    """
    if isinstance(value, Mapping):
        return list(value.items())
    if not isinstance(value, (list, tuple)):
        type_mismatch("map", "Mapping or list of (key, value) tuples", value)
    for i, entry in enumerate(value):
        if not isinstance(entry, tuple) or len(entry) != 2:
            found = f"a tuple of length {len(entry)}" if isinstance(entry, tuple) else f"`{type(entry).__name__}`"
            raise TypeError(f"map entry {i}: expected a (key, value) tuple, found {found}")
    return value


def int_to_flags(bits: int, names: tuple[str, ...]) -> set[str]:
    """Unpack an integer into the set of flag names whose bit is set (extra bits ignored)."""
    out = set()
    i = 0
    while bits and i < len(names):
        if bits & 1:
            out.add(names[i])
        bits >>= 1
        i += 1
    return out


case_matcher = lru_cache(maxsize=None)(CaseMatcher)
"""The (cached) :class:`CaseMatcher` of a variant-like type."""
