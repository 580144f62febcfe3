"""The generic lifting interpreter: core values / guest memory -> Python values.

Shaped after the spec (``design/mvp/canonical-abi/definitions.py``):
:func:`lift_flat`, :func:`load`, :func:`lift_flat_values`, one case per type,
dispatching on the type at every step.  It is the reference that the
specialised code of :mod:`.compile` must agree with, and the fallback when
``WASMCOMPONENT_FORCE_INTERPRETER=1``.

Python values follow :mod:`wasmcomponent.types.values`.  Core values from
wasm may be signed Python ints; they are masked to their unsigned width
first.  Small integers are truncated from their ``i32`` (as the spec and
wasmtime do); ``bool`` is "non-zero"; floats are not canonicalised (as in
wasmtime); extra flag bits are ignored.

``map<k, v>`` is lifted as the spec's ``list<tuple<k, v>>`` (range checked
with wasmtime's "map" messages at a host boundary, the list ones in a fused
adapter).  For the host the pairs become a ``dict`` (last duplicate wins,
see :mod:`wasmcomponent.types.values`); in a fused adapter they stay a
``list`` of tuples so that duplicates and order cross exactly, and variants
are lifted as :class:`~.refs.FusedCase` (see :mod:`.refs`).

With a 64-bit memory (``cx.memory64``) pointers and lengths are ``i64``
flat values and 8-byte words in memory, and every layout query passes the
flag; :mod:`.compile` leaves such signatures to this interpreter.
"""

from __future__ import annotations

import struct
from typing import Any, NoReturn, Sequence

from ..types.abi import (
    alignment,
    case_types,
    discriminant_size,
    elem_size,
    field_offsets,
    flags_words,
    flatten_type,
    flatten_types,
    flatten_variant_payload,
    map_entry_type,
    payload_offset,
)
from ..types.model import (
    U8,
    BorrowType,
    EnumType,
    FlagsType,
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
from ..types.values import Record, case_matcher, int_to_flags
from .context import LIST_ELEMENT_FUEL, LiftLowerContext
from .refs import LIST_REF_ELEMENTS, FusedCase, list_ref
from .strings import load_string_from_range

__all__ = [
    "CoreValueIter",
    "lift_flat",
    "load",
    "lift_flat_values",
    "check_list_range",
    "convert_i32_to_char",
    "decode_i32_as_float",
    "decode_i64_as_float",
    "unknown_type",
]

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF

_LOAD_FORMAT: dict[str, str] = {
    "bool": "<B",
    "u8": "<B",
    "s8": "<b",
    "u16": "<H",
    "s16": "<h",
    "u32": "<I",
    "s32": "<i",
    "u64": "<Q",
    "s64": "<q",
    "f32": "<f",
    "f64": "<d",
    "char": "<I",
}


# Element types whose lists are lifted in bulk (plain numbers: no per-value check).
_BULK_CODE: dict[ValType, str] = {
    PrimType(name): _LOAD_FORMAT[name][1:]
    for name in ("s8", "u16", "s16", "u32", "s32", "u64", "s64", "f32", "f64")
}


class CoreValueIter:
    """Iterator over flat core values (spec ``CoreValueIter``); masks ints to unsigned."""

    __slots__ = ("values", "i")

    def __init__(self, values: Sequence[Any]) -> None:
        self.values = values
        self.i = 0

    def next(self, t: str) -> Any:
        v = self.values[self.i]
        self.i += 1
        if t == "i32":
            return int(v) & MASK32
        if t == "i64":
            return int(v) & MASK64
        return float(v)

    def done(self) -> bool:
        return self.i == len(self.values)


class _CoerceValueIter:
    """Reads a case payload out of a variant's joined flat slots (spec ``lift_flat_variant``)."""

    __slots__ = ("vi", "haves", "pos")

    def __init__(self, vi: CoreValueIter, haves: tuple[str, ...]) -> None:
        self.vi = vi
        self.haves = haves
        self.pos = 0

    def next(self, want: str) -> Any:
        have = self.haves[self.pos]
        self.pos += 1
        x = self.vi.next(have)
        if have == want:
            return x
        if want == "i32":
            return x & MASK32
        if want == "f32":
            return decode_i32_as_float(x & MASK32)
        assert (have, want) == ("i64", "f64"), (have, want)
        return decode_i64_as_float(x)


def decode_i32_as_float(i: int) -> float:
    """f32.reinterpret_i32 (no NaN canonicalisation, as in wasmtime)."""
    return struct.unpack("<f", struct.pack("<I", i))[0]  # type: ignore[no-any-return]


def decode_i64_as_float(i: int) -> float:
    """f64.reinterpret_i64."""
    return struct.unpack("<d", struct.pack("<Q", i))[0]  # type: ignore[no-any-return]


def convert_i32_to_char(cx: LiftLowerContext, i: int) -> str:
    """Spec ``convert_i32_to_char``: trap on surrogates and values past U+10FFFF."""
    if i >= 0x110000 or 0xD800 <= i <= 0xDFFF:
        cx.trap("char")
    return chr(i)


def unknown_type(t: Any) -> NoReturn:
    """Fail on a value type this module does not know (a bug, never a guest's doing)."""
    raise AssertionError(f"unknown value type {t!r}")


def check_list_range(
    cx: LiftLowerContext, mem_size: int, ptr: int, length: int, size: int, align: int, kind: str = "list"
) -> int:
    """Validate a list's (or, ``kind="map"``, a map's) ``(ptr, length)``; return the unsigned pointer.

    Host calls check bounds before alignment (wasmtime ``values.rs``); fused
    adapters (``trampoline.rs``) first check that the byte length fits 32
    bits, then alignment, then bounds.
    """
    mask = cx.ptr_mask
    ptr &= mask
    length &= mask
    # A 64-bit length may be anything up to 2**64: the product is exact in
    # Python, so a huge list is out of bounds (or, fused, too long), never wrapped.
    byte_length = length * size
    if cx.fused:
        if byte_length > MASK32:
            cx.trap(kind + "-bounds")
        if ptr % align:
            cx.trap(kind + "-align")
    if ptr + byte_length > mem_size:
        cx.trap(kind + "-bounds")
    if ptr % align:
        cx.trap(kind + "-align")
    if cx.fuel is not None:  # charged once the range is known to be valid, as wasmtime
        cx.charge(length * LIST_ELEMENT_FUEL)
    return ptr


def _lift_int(i: int, bits: int, signed: bool) -> int:
    i &= (1 << bits) - 1
    if signed and i >= 1 << (bits - 1):
        i -= 1 << bits
    return i


_INT_FLAT: dict[str, tuple[str, int, bool]] = {
    "u8": ("i32", 8, False),
    "s8": ("i32", 8, True),
    "u16": ("i32", 16, False),
    "s16": ("i32", 16, True),
    "u32": ("i32", 32, False),
    "s32": ("i32", 32, True),
    "u64": ("i64", 64, False),
    "s64": ("i64", 64, True),
}


def lift_flat(cx: LiftLowerContext, vi: Any, t: ValType) -> Any:
    """Lift a value of type ``t`` from flat core values (spec ``lift_flat``)."""
    match t:
        case PrimType(name="bool"):
            return vi.next("i32") != 0
        case PrimType(name="f32"):
            return vi.next("f32")
        case PrimType(name="f64"):
            return vi.next("f64")
        case PrimType(name="char"):
            return convert_i32_to_char(cx, vi.next("i32"))
        case PrimType(name="string"):
            ptr_t = cx.ptr_type
            ptr = vi.next(ptr_t)
            units = vi.next(ptr_t)
            return load_string_from_range(cx, cx.view(), ptr, units)
        case PrimType(name=name) if name in _INT_FLAT:
            core, bits, signed = _INT_FLAT[name]
            return _lift_int(vi.next(core), bits, signed)
        case ListType(element=elem, length=None):
            ptr_t = cx.ptr_type
            ptr = vi.next(ptr_t)
            length = vi.next(ptr_t)
            return _load_list_from_range(cx, ptr, length, elem)
        case ListType(element=elem, length=length):
            assert length is not None
            items = [lift_flat(cx, vi, elem) for _ in range(length)]
            return bytes(items) if elem == U8 else items
        case RecordType(fields=fields):
            return Record(**{name: lift_flat(cx, vi, ft) for name, ft in fields})
        case TupleType(elements=elements):
            return tuple(lift_flat(cx, vi, et) for et in elements)
        case VariantType() | EnumType() | OptionType() | ResultType():
            return _lift_flat_variant(cx, vi, t)
        case FlagsType(names=names):
            bits = 0
            for k in range(flags_words(len(names)) if names else 0):
                bits |= vi.next("i32") << (32 * k)
            return int_to_flags(bits, names)
        case MapType():
            ptr_t = cx.ptr_type
            ptr = vi.next(ptr_t)
            length = vi.next(ptr_t)
            return _load_map_from_range(cx, ptr, length, t)
        case OwnType(resource=resource):
            return cx.lift_own(resource, vi.next("i32"))
        case BorrowType(resource=resource):
            return cx.lift_borrow(resource, vi.next("i32"))
        case StreamType():
            return cx.lift_stream(t, vi.next("i32"))
        case FutureType():
            return cx.lift_future(t, vi.next("i32"))
        case PrimType(name="error-context"):
            return cx.lift_error_context(vi.next("i32"))
    unknown_type(t)


def _lift_flat_variant(cx: LiftLowerContext, vi: Any, t: ValType) -> Any:
    cases = case_types(t)
    m64 = cx.memory64
    joined = flatten_variant_payload(t, m64)
    index = vi.next("i32")
    if index >= len(cases):
        cx.trap("discriminant", value=index, count=len(cases))
    case_t = cases[index]
    used = 0
    payload = None
    if case_t is not None:
        payload = lift_flat(cx, _CoerceValueIter(vi, joined), case_t)
        used = len(flatten_type(case_t, m64))
    for have in joined[used:]:
        vi.next(have)
    return _make_case(cx, t, index, payload)


def _make_case(cx: LiftLowerContext, t: ValType, index: int, payload: Any) -> Any:
    """The lifted value of case ``index``: a :class:`FusedCase` in a fused adapter (not for enums)."""
    if cx.fused and not isinstance(t, EnumType):
        return FusedCase(index, payload)
    return case_matcher(t).make(index, payload)


def load(cx: LiftLowerContext, ptr: int, t: ValType) -> Any:
    """Load a value of type ``t`` at the (already validated) ``ptr`` (spec ``load``)."""
    m64 = cx.memory64
    assert ptr % alignment(t, m64) == 0 and ptr + elem_size(t, m64) <= cx.view().nbytes
    word = "u64" if m64 else "u32"  # a pointer or length
    step = 8 if m64 else 4
    match t:
        case PrimType(name="bool"):
            return cx.view()[ptr] != 0
        case PrimType(name="char"):
            return convert_i32_to_char(cx, _load_int(cx, ptr, "char"))
        case PrimType(name="string"):
            begin = _load_int(cx, ptr, word)
            units = _load_int(cx, ptr + step, word)
            return load_string_from_range(cx, cx.view(), begin, units)
        case PrimType(name=name) if name in _LOAD_FORMAT:
            return _load_int(cx, ptr, name)
        case ListType(element=elem, length=None):
            begin = _load_int(cx, ptr, word)
            length = _load_int(cx, ptr + step, word)
            return _load_list_from_range(cx, begin, length, elem)
        case ListType(element=elem, length=length):
            assert length is not None
            size = elem_size(elem, m64)
            items = [load(cx, ptr + i * size, elem) for i in range(length)]
            return bytes(items) if elem == U8 else items
        case RecordType(fields=fields):
            offsets = field_offsets([ft for _, ft in fields], m64)
            return Record(**{name: load(cx, ptr + off, ft) for (name, ft), off in zip(fields, offsets, strict=False)})
        case TupleType(elements=elements):
            offsets = field_offsets(elements, m64)
            return tuple(load(cx, ptr + off, et) for et, off in zip(elements, offsets, strict=False))
        case VariantType() | EnumType() | OptionType() | ResultType():
            return _load_variant(cx, ptr, t)
        case FlagsType(names=names):
            size = elem_size(t, m64)
            bits = int.from_bytes(cx.view()[ptr : ptr + size], "little")
            return int_to_flags(bits, names)
        case MapType():
            begin = _load_int(cx, ptr, word)
            length = _load_int(cx, ptr + step, word)
            return _load_map_from_range(cx, begin, length, t)
        case OwnType(resource=resource):
            return cx.lift_own(resource, _load_int(cx, ptr, "u32"))
        case BorrowType(resource=resource):
            return cx.lift_borrow(resource, _load_int(cx, ptr, "u32"))
        case StreamType():
            return cx.lift_stream(t, _load_int(cx, ptr, "u32"))
        case FutureType():
            return cx.lift_future(t, _load_int(cx, ptr, "u32"))
        case PrimType(name="error-context"):
            return cx.lift_error_context(_load_int(cx, ptr, "u32"))
    unknown_type(t)


def _load_int(cx: LiftLowerContext, ptr: int, name: str) -> Any:
    return struct.unpack_from(_LOAD_FORMAT[name], cx.view(), ptr)[0]


def _load_list_from_range(cx: LiftLowerContext, ptr: int, length: int, elem: ValType) -> Any:
    m64 = cx.memory64
    size = elem_size(elem, m64)
    length &= cx.ptr_mask
    ptr = check_list_range(cx, cx.view().nbytes, ptr, length, size, alignment(elem, m64))
    if cx.fused and isinstance(elem, PrimType) and elem.name in LIST_REF_ELEMENTS:
        return list_ref(cx, ptr, length, elem, size, alignment(elem, m64))
    if elem == U8:
        return bytes(cx.view()[ptr : ptr + length])
    code = _BULK_CODE.get(elem)
    if code is not None:
        # Numbers in one ``struct`` call: what ``load`` gives element by element.
        return list(struct.unpack_from(f"<{length}{code}", cx.view(), ptr))
    return [load(cx, ptr + i * size, elem) for i in range(length)]


def _load_map_from_range(cx: LiftLowerContext, ptr: int, length: int, t: MapType) -> Any:
    """Spec ``load_list_from_range`` of ``list<tuple<k, v>>``; a ``dict`` for the host."""
    entry = map_entry_type(t)
    size = elem_size(entry, cx.memory64)
    length &= cx.ptr_mask
    ptr = check_list_range(cx, cx.view().nbytes, ptr, length, size, alignment(entry, cx.memory64), "map")
    pairs = [load(cx, ptr + i * size, entry) for i in range(length)]
    return pairs if cx.fused else dict(pairs)


def _load_variant(cx: LiftLowerContext, ptr: int, t: ValType) -> Any:
    cases = case_types(t)
    disc_size = discriminant_size(len(cases))
    index = int.from_bytes(cx.view()[ptr : ptr + disc_size], "little")
    if index >= len(cases):
        cx.trap("discriminant", value=index, count=len(cases))
    case_t = cases[index]
    payload = None if case_t is None else load(cx, ptr + payload_offset(t, cx.memory64), case_t)
    return _make_case(cx, t, index, payload)


def lift_flat_values(
    cx: LiftLowerContext, max_flat: int, vi: Any, ts: Sequence[ValType], ptr_kind: str = "result"
) -> list[Any]:
    """Lift a list of values, from memory if they were spilled (spec ``lift_flat_values``).

    ``ptr_kind`` selects the messages for a bad spill pointer: ``result``
    (pointer returned by a lifted export) or ``param`` (pointer to spilled
    params received by a host import).
    """
    m64 = cx.memory64
    if len(flatten_types(ts, m64)) > max_flat:
        tuple_type = TupleType(tuple(ts))
        ptr_t = "i64" if m64 else "i32"
        ptr = cx.check_pointer(vi.next(ptr_t), elem_size(tuple_type, m64), alignment(tuple_type, m64), ptr_kind)
        return list(load(cx, ptr, tuple_type))
    return [lift_flat(cx, vi, t) for t in ts]
