"""Canonical ABI layout of component value types, for 32- and 64-bit memories.

Each function mirrors the spec function of the same name in
``design/mvp/canonical-abi/definitions.py``: :func:`alignment`,
:func:`elem_size`, :func:`flatten_type`, :func:`flatten_functype`,
:func:`discriminant_type`, ...  Types from :mod:`wasmcomponent.types.model`
are frozen and hashable, so every result is cached per type.

Every layout function takes ``memory64`` (the spec's ``ptr_type`` being
``i64``): pointers and lengths of strings, lists and maps are then 8 bytes
in memory (so a string is 16 bytes, aligned to 8) and ``i64`` in flat form,
as are the spilled-parameter and return pointers.  Everything else,
handles included, is the same for both widths.

Deliberate differences from the current spec text, all matching wasmtime:

* ``flags`` with zero labels occupy zero bytes and flatten to nothing, and
  ``flags`` with more than 32 labels are stored as ``ceil(n / 32)`` ``u32``
  words (alignment 4) and flatten to that many ``i32``.
* ``map<k, v>`` is laid out as ``list<tuple<k, v>>`` (spec ``despecialize``);
  :func:`map_entry_type` gives the ``tuple<k, v>`` of one entry.
* the ``latin1+utf16`` tag is bit 31 (:data:`UTF16_TAG`) for 64-bit memories
  too: the spec's ``utf16_tag`` would be bit 63, wasmtime's adapters test
  bit 31 whatever the memory.

Example::

    >>> from wasmcomponent.types.model import U8, U32, RecordType
    >>> rec = RecordType((("a", U8), ("b", U32)))
    >>> alignment(rec), elem_size(rec), flatten_type(rec)
    (4, 8, ('i32', 'i32'))
    >>> from wasmcomponent.types.model import STRING
    >>> alignment(STRING, True), elem_size(STRING, True), flatten_type(STRING, True)
    (8, 16, ('i64', 'i64'))
"""

from __future__ import annotations

from functools import cache
from typing import Literal, Sequence

from .model import (
    U8,
    U16,
    U32,
    BorrowType,
    CoreFuncType,
    EnumType,
    FlagsType,
    FuncType,
    FutureType,
    ListType,
    MapType,
    OptionType,
    OwnType,
    PrimType,
    RecordType,
    ResultType,
    StreamType,
    TupleType,
    ValType,
    VariantType,
)

__all__ = [
    "MAX_FLAT_PARAMS",
    "MAX_FLAT_ASYNC_PARAMS",
    "MAX_FLAT_RESULTS",
    "PTR_SIZE",
    "ptr_size",
    "ptr_type",
    "UTF16_TAG",
    "align_to",
    "alignment",
    "elem_size",
    "flatten_type",
    "flatten_types",
    "flatten_functype",
    "discriminant_type",
    "discriminant_size",
    "max_case_alignment",
    "payload_offset",
    "field_offsets",
    "flags_size",
    "flags_words",
    "case_types",
    "join",
    "flatten_variant_payload",
    "map_entry_type",
]

MAX_FLAT_PARAMS = 16
MAX_FLAT_ASYNC_PARAMS = 4
MAX_FLAT_RESULTS = 1
PTR_SIZE = 4
UTF16_TAG = 1 << 31

_PRIM_SIZE: dict[str, int] = {
    "bool": 1,
    "s8": 1,
    "u8": 1,
    "s16": 2,
    "u16": 2,
    "s32": 4,
    "u32": 4,
    "s64": 8,
    "u64": 8,
    "f32": 4,
    "f64": 8,
    "char": 4,
    "error-context": 4,
}
# `string` is absent from these tables: its layout depends on the memory's width (see ptr_size).
_PRIM_ALIGN: dict[str, int] = _PRIM_SIZE
_PRIM_FLAT: dict[str, tuple[str, ...]] = {
    "bool": ("i32",),
    "s8": ("i32",),
    "u8": ("i32",),
    "s16": ("i32",),
    "u16": ("i32",),
    "s32": ("i32",),
    "u32": ("i32",),
    "s64": ("i64",),
    "u64": ("i64",),
    "f32": ("f32",),
    "f64": ("f64",),
    "char": ("i32",),
    "error-context": ("i32",),
}


def ptr_size(memory64: bool = False) -> int:
    """Bytes of a pointer or length in memory (spec ``ptr_size``)."""
    return 8 if memory64 else PTR_SIZE


def ptr_type(memory64: bool = False) -> str:
    """Core type of a pointer or length in flat form (spec ``ptr_type``)."""
    return "i64" if memory64 else "i32"


def align_to(ptr: int, align: int) -> int:
    """Round ``ptr`` up to a multiple of ``align`` (spec ``align_to``)."""
    return -(-ptr // align) * align


def case_types(t: ValType) -> tuple[ValType | None, ...]:
    """The payload types of a variant-like type's cases, in order (spec ``despecialize``)."""
    if isinstance(t, (VariantType, EnumType, OptionType, ResultType)):
        return tuple(payload for _, payload in t.cases())
    raise AssertionError(f"not a variant-like type: {t!r}")


def discriminant_type(case_count: int) -> PrimType:
    """The integer type of a variant discriminant for ``case_count`` cases."""
    assert 0 < case_count < (1 << 32)
    if case_count <= 1 << 8:
        return U8
    if case_count <= 1 << 16:
        return U16
    return U32


def discriminant_size(case_count: int) -> int:
    """Byte size of the discriminant for ``case_count`` cases."""
    return _PRIM_SIZE[discriminant_type(case_count).name]


def flags_words(count: int) -> int:
    """Number of ``i32`` words a flags type with ``count`` labels flattens to."""
    return 1 if 0 < count <= 32 else -(-count // 32)


def flags_size(count: int) -> int:
    """Byte size of a flags value with ``count`` labels (0, 1, 2 or 4 per 32 labels)."""
    if count == 0:
        return 0
    if count <= 8:
        return 1
    if count <= 16:
        return 2
    return 4 * flags_words(count)


def _flags_alignment(count: int) -> int:
    return max(1, min(flags_size(count), 4))


@cache
def map_entry_type(t: MapType) -> TupleType:
    """The ``tuple<k, v>`` one entry of ``map<k, v>`` is laid out as (spec ``despecialize``)."""
    return TupleType((t.key, t.value))


@cache
def alignment(t: ValType, memory64: bool = False) -> int:
    """Alignment in bytes of ``t`` in linear memory (spec ``alignment``)."""
    match t:
        case PrimType(name="string"):
            return ptr_size(memory64)
        case PrimType(name=name):
            return _PRIM_ALIGN[name]
        case ListType(element=elem, length=length):
            return ptr_size(memory64) if length is None else alignment(elem, memory64)
        case RecordType(fields=fields):
            return max((alignment(ft, memory64) for _, ft in fields), default=1)
        case TupleType(elements=elements):
            return max((alignment(et, memory64) for et in elements), default=1)
        case VariantType() | EnumType() | OptionType() | ResultType():
            cases = case_types(t)
            return max(discriminant_size(len(cases)), max_case_alignment(cases, memory64))
        case FlagsType(names=names):
            return _flags_alignment(len(names))
        case OwnType() | BorrowType() | StreamType() | FutureType():
            return 4
        case MapType():
            return ptr_size(memory64)
    raise AssertionError(f"unknown value type {t!r}")


def max_case_alignment(cases: Sequence[ValType | None], memory64: bool = False) -> int:
    """The largest payload alignment among ``cases`` (spec ``max_case_alignment``)."""
    return max((alignment(c, memory64) for c in cases if c is not None), default=1)


@cache
def elem_size(t: ValType, memory64: bool = False) -> int:
    """Size in bytes of ``t`` in linear memory (spec ``elem_size``)."""
    match t:
        case PrimType(name="string"):
            return 2 * ptr_size(memory64)
        case PrimType(name=name):
            return _PRIM_SIZE[name]
        case ListType(element=elem, length=length):
            return 2 * ptr_size(memory64) if length is None else length * elem_size(elem, memory64)
        case RecordType(fields=fields):
            return _record_size(tuple(ft for _, ft in fields), memory64)
        case TupleType(elements=elements):
            return _record_size(elements, memory64)
        case VariantType() | EnumType() | OptionType() | ResultType():
            cases = case_types(t)
            size = payload_offset(t, memory64)
            size += max((elem_size(c, memory64) for c in cases if c is not None), default=0)
            return align_to(size, alignment(t, memory64))
        case FlagsType(names=names):
            return flags_size(len(names))
        case OwnType() | BorrowType() | StreamType() | FutureType():
            return 4
        case MapType():
            return 2 * ptr_size(memory64)
    raise AssertionError(f"unknown value type {t!r}")


def _record_size(types: tuple[ValType, ...], memory64: bool) -> int:
    offsets = _offsets(types, memory64)
    if not types:
        return 0
    end = offsets[-1] + elem_size(types[-1], memory64)
    return align_to(end, max(alignment(ft, memory64) for ft in types))


@cache
def _offsets(types: tuple[ValType, ...], memory64: bool) -> tuple[int, ...]:
    out = []
    ptr = 0
    for ft in types:
        ptr = align_to(ptr, alignment(ft, memory64))
        out.append(ptr)
        ptr += elem_size(ft, memory64)
    return tuple(out)


def field_offsets(types: Sequence[ValType], memory64: bool = False) -> tuple[int, ...]:
    """Byte offsets of consecutive record/tuple fields of ``types`` (spec ``store_record``)."""
    return _offsets(tuple(types), memory64)


@cache
def payload_offset(t: ValType, memory64: bool = False) -> int:
    """Byte offset of the payload of variant-like ``t``, after its discriminant."""
    cases = case_types(t)
    return align_to(discriminant_size(len(cases)), max_case_alignment(cases, memory64))


def join(a: str, b: str) -> str:
    """Join two core types occupying the same flat slot of a variant (spec ``join``)."""
    if a == b:
        return a
    if {a, b} == {"i32", "f32"}:
        return "i32"
    return "i64"


@cache
def flatten_variant_payload(t: ValType, memory64: bool = False) -> tuple[str, ...]:
    """The joined flat types of a variant's payload slots (without the discriminant)."""
    flat: list[str] = []
    for case in case_types(t):
        if case is None:
            continue
        for i, ft in enumerate(flatten_type(case, memory64)):
            if i < len(flat):
                flat[i] = join(flat[i], ft)
            else:
                flat.append(ft)
    return tuple(flat)


@cache
def flatten_type(t: ValType, memory64: bool = False) -> tuple[str, ...]:
    """Core value types ``t`` flattens to (spec ``flatten_type``)."""
    match t:
        case PrimType(name="string"):
            return (ptr_type(memory64),) * 2
        case PrimType(name=name):
            return _PRIM_FLAT[name]
        case ListType(element=elem, length=length):
            return (ptr_type(memory64),) * 2 if length is None else flatten_type(elem, memory64) * length
        case RecordType(fields=fields):
            return tuple(ct for _, ft in fields for ct in flatten_type(ft, memory64))
        case TupleType(elements=elements):
            return tuple(ct for et in elements for ct in flatten_type(et, memory64))
        case VariantType() | EnumType() | OptionType() | ResultType():
            return ("i32",) + flatten_variant_payload(t, memory64)
        case FlagsType(names=names):
            return ("i32",) * (flags_words(len(names)) if names else 0)
        case OwnType() | BorrowType() | StreamType() | FutureType():
            return ("i32",)
        case MapType():
            return (ptr_type(memory64),) * 2
    raise AssertionError(f"unknown value type {t!r}")


def flatten_types(ts: Sequence[ValType], memory64: bool = False) -> tuple[str, ...]:
    """Concatenated flat types of ``ts`` (spec ``flatten_types``)."""
    return tuple(ct for t in ts for ct in flatten_type(t, memory64))


@cache
def flatten_functype(
    ft: FuncType,
    context: Literal["lift", "lower"],
    memory64: bool = False,
    *,
    is_async: bool = False,
    callback: bool = False,
) -> CoreFuncType:
    """The core signature of a lifted (``'lift'``) or lowered (``'lower'``) function.

    ``is_async`` is the canonical ``async`` option (not ``ft.is_async``: an
    async function type may be lifted or lowered synchronously) and
    ``callback`` whether an async lift has a ``(callback ...)``.  Pointers
    are ``i64`` with ``memory64``.

    Synchronously, more than 16 flat params spill to one pointer; more than
    one flat result becomes a returned pointer (``lift``) or a trailing
    out-pointer parameter (``lower``):

    >>> from wasmcomponent.types.model import STRING, U32
    >>> flatten_functype(FuncType((("s", STRING),), STRING), "lower")
    CoreFuncType(params=('i32', 'i32', 'i32'), results=())

    An async lift spills params the same way; its results go through
    ``task.return``, so it returns nothing, or an ``i32`` status code to the
    callback loop:

    >>> get = FuncType((("s", STRING),), U32, True)
    >>> flatten_functype(get, "lift", is_async=True)
    CoreFuncType(params=('i32', 'i32'), results=())
    >>> flatten_functype(get, "lift", is_async=True, callback=True)
    CoreFuncType(params=('i32', 'i32'), results=('i32',))

    An async lower spills more than 4 flat params, passes any result through
    a trailing out-pointer and returns the subtask's status code:

    >>> flatten_functype(get, "lower", is_async=True)
    CoreFuncType(params=('i32', 'i32', 'i32'), results=('i32',))
    >>> five = FuncType(tuple((n, U32) for n in "abcde"), None, True)
    >>> flatten_functype(five, "lower", True, is_async=True)
    CoreFuncType(params=('i64',), results=('i32',))
    """
    ptr = ptr_type(memory64)
    params = flatten_types([t for _, t in ft.params], memory64)
    results = flatten_types([ft.result] if ft.result is not None else [], memory64)
    if not is_async:
        if len(params) > MAX_FLAT_PARAMS:
            params = (ptr,)
        if len(results) > MAX_FLAT_RESULTS:
            if context == "lift":
                results = (ptr,)
            else:
                assert context == "lower"
                params = params + (ptr,)
                results = ()
        return CoreFuncType(params, results)
    if context == "lift":
        if len(params) > MAX_FLAT_PARAMS:
            params = (ptr,)
        return CoreFuncType(params, ("i32",) if callback else ())
    assert context == "lower"
    if len(params) > MAX_FLAT_ASYNC_PARAMS:
        params = (ptr,)
    if results:
        params = params + (ptr,)
    return CoreFuncType(params, ("i32",))
