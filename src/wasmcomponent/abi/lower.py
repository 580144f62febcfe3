"""The generic lowering interpreter: Python values -> core values / guest memory.

Shaped after the spec (``design/mvp/canonical-abi/definitions.py``):
:func:`lower_flat`, :func:`store`, :func:`lower_flat_values`, one case per
type.  Values are checked while they are lowered (wrong Python values raise
``TypeError``/``ValueError``, see :mod:`wasmcomponent.types.values`), so
an error can surface after ``realloc`` has already been called.

Core values produced are unsigned Python ints for ``i32``/``i64`` and
Python floats for ``f32``/``f64`` (``f32`` values are rounded to single
precision).  A fresh memory view is taken for every write, so no view ever
outlives a ``realloc`` call.  Lazy references lifted in a fused adapter
(:mod:`.refs`) are copied by :mod:`.transcode`.

``map<k, v>`` is stored as the spec's ``list<tuple<k, v>>``: the pairs of a
``Mapping`` (or a list of ``(key, value)`` tuples, duplicates kept, as a
fused adapter produces) are allocated with one ``realloc`` and stored in
order.  A :class:`~.refs.FusedCase` (a variant lifted in a fused adapter)
selects its case by index instead of by Python class.

With a 64-bit memory (``cx.memory64``) the pointer/length pairs of strings,
lists and maps are 8-byte words in memory, and every layout query passes
the flag; the flat values are the same Python ints (``i64`` slots).
"""

from __future__ import annotations

import math
import struct
from typing import Any, NoReturn, Sequence

from ..errors import MissingFieldError
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
    INTEGER_RANGES,
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
from ..types.values import (
    case_matcher,
    check_bool,
    check_char,
    check_float,
    check_int,
    flags_to_int,
    map_pairs,
    prefix_error,
    type_mismatch,
)
from .context import LiftLowerContext
from .lift import unknown_type
from .refs import FusedCase, ListRef
from .strings import store_string_into_range
from .transcode import store_list_ref

__all__ = [
    "lower_flat",
    "store",
    "lower_flat_values",
    "f32_round",
    "encode_float_as_i32",
    "encode_float_as_i64",
    "get_field",
    "check_list_value",
    "MAX_LIST_BYTE_LENGTH",
    "match_case",
    "fused_case",
]

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF
MAX_LIST_BYTE_LENGTH = MASK32

_STORE_FORMAT: dict[str, str] = {
    "u8": "<B",
    "s8": "<b",
    "u16": "<H",
    "s16": "<h",
    "u32": "<I",
    "s32": "<i",
    "u64": "<Q",
    "s64": "<q",
}


# Integer element types stored in bulk: (struct code, lowest, highest value).
_BULK_INTS: dict[ValType, tuple[str, int, int]] = {
    PrimType(name): (_STORE_FORMAT[name][1:], *INTEGER_RANGES[name])
    for name in ("s8", "u16", "s16", "u32", "s32", "u64", "s64")
}


def f32_round(v: float) -> float:
    """Round a Python float to the nearest f32 (overflow gives an infinity)."""
    try:
        return struct.unpack("<f", struct.pack("<f", v))[0]  # type: ignore[no-any-return]
    except OverflowError:
        return math.copysign(math.inf, v)


def encode_float_as_i32(v: float) -> int:
    """i32.reinterpret_f32 of ``v`` rounded to f32."""
    return struct.unpack("<I", struct.pack("<f", f32_round(v)))[0]  # type: ignore[no-any-return]


def encode_float_as_i64(v: float) -> int:
    """i64.reinterpret_f64."""
    return struct.unpack("<Q", struct.pack("<d", v))[0]  # type: ignore[no-any-return]




def get_field(value: Any, name: str) -> Any:
    """Read record field ``name`` from an object's attributes or a ``dict``."""
    if isinstance(value, dict):
        if name in value:
            return value[name]
    else:
        try:
            return getattr(value, name)
        except AttributeError:
            pass
    raise MissingFieldError(f"expected `record` with field `{name}`, found `{type(value).__name__}` without it")


def check_list_value(value: Any, elem: ValType, length: int | None) -> Any:
    """Check the Python container of a list value; return it (``bytes``-like for ``u8``)."""
    if elem == U8 and isinstance(value, (bytes, bytearray, memoryview)):
        result: Any = value.tobytes() if isinstance(value, memoryview) else value
    elif elem != U8 and isinstance(value, (list, tuple)):
        result = value
    else:
        type_mismatch("list<u8>" if elem == U8 else "list", "bytes" if elem == U8 else "list", value)
    if length is not None and len(result) != length:
        raise ValueError(f"expected a list of length {length}, found length {len(result)}")
    return result


def _lower_scalar(v: Any, name: str) -> Any:
    """The core value of a scalar (spec ``lower_flat`` for primitives)."""
    if name == "bool":
        return int(check_bool(v))
    if name == "f32":
        return f32_round(check_float(v, name))
    if name == "f64":
        return check_float(v, name)
    if name == "char":
        return check_char(v)
    lo, hi = INTEGER_RANGES[name]
    return check_int(v, name, lo, hi) & (MASK64 if name in ("s64", "u64") else MASK32)


def lower_flat(cx: LiftLowerContext, v: Any, t: ValType) -> list[Any]:
    """Lower ``v`` of type ``t`` to flat core values (spec ``lower_flat``)."""
    match t:
        case PrimType(name="string"):
            return list(store_string_into_range(cx, v))
        case PrimType(name="error-context"):
            return [cx.lower_error_context(v) & MASK32]
        case PrimType(name=name):
            return [_lower_scalar(v, name)]
        case ListType(element=elem, length=None):
            return list(_store_list_into_range(cx, v, elem))
        case ListType(element=elem, length=length):
            items = check_list_value(v, elem, length)
            flat: list[Any] = []
            for i, e in enumerate(items):
                try:
                    flat += lower_flat(cx, e, elem)
                except (TypeError, ValueError) as err:
                    raise prefix_error(err, f"list element {i}") from None
            return flat
        case RecordType(fields=fields):
            flat = []
            for name, ft in fields:
                field = get_field(v, name)
                try:
                    flat += lower_flat(cx, field, ft)
                except (TypeError, ValueError) as err:
                    raise prefix_error(err, f"field `{name}`") from None
            return flat
        case TupleType(elements=elements):
            _check_tuple(v, len(elements))
            flat = []
            for i, (e, et) in enumerate(zip(v, elements, strict=False)):
                try:
                    flat += lower_flat(cx, e, et)
                except (TypeError, ValueError) as err:
                    raise prefix_error(err, f"tuple element {i}") from None
            return flat
        case VariantType() | EnumType() | OptionType() | ResultType():
            return _lower_flat_variant(cx, v, t)
        case FlagsType(names=names):
            bits = flags_to_int(v, case_index(names))
            return [(bits >> (32 * k)) & MASK32 for k in range(flags_words(len(names)) if names else 0)]
        case MapType():
            return list(_store_map_into_range(cx, v, t))
        case OwnType(resource=resource):
            return [cx.lower_own(resource, v) & MASK32]
        case BorrowType(resource=resource):
            return [cx.lower_borrow(resource, v) & MASK32]
        case StreamType():
            return [cx.lower_stream(t, v) & MASK32]
        case FutureType():
            return [cx.lower_future(t, v) & MASK32]
    unknown_type(t)


def case_index(names: tuple[str, ...]) -> dict[str, int]:
    """Map each label to its position."""
    return {name: i for i, name in enumerate(names)}


def _check_tuple(v: Any, count: int) -> None:
    if not isinstance(v, tuple):
        type_mismatch("tuple", "tuple", v)
    if len(v) != count:
        raise TypeError(f"expected a tuple of length {count}, found length {len(v)}")


def match_case(v: Any, t: ValType) -> tuple[int, Any]:
    """``(case index, payload)`` of variant-like ``v``: from a :class:`FusedCase`, else by Python class."""
    if type(v) is FusedCase:
        return fused_case(v, len(case_types(t)))
    return case_matcher(t).match(v)


def fused_case(v: FusedCase, count: int) -> tuple[int, Any]:
    """``(case index, payload)`` of a :class:`FusedCase` of a type with ``count`` cases."""
    if not 0 <= v.index < count:
        raise ValueError(f"case index {v.index} out of range for this variant")
    return v.index, v.payload


def _lower_flat_variant(cx: LiftLowerContext, v: Any, t: ValType) -> list[Any]:
    index, payload = match_case(v, t)
    case_t = case_types(t)[index]
    joined = flatten_variant_payload(t, cx.memory64)
    flat: list[Any] = [index]
    if case_t is not None:
        name = t.cases()[index][0]  # type: ignore[union-attr]
        try:
            values = lower_flat(cx, payload, case_t)
        except (TypeError, ValueError) as err:
            raise prefix_error(err, f"case `{name}`") from None
        for fv, have, want in zip(values, flatten_type(case_t, cx.memory64), joined, strict=False):
            flat.append(_coerce(fv, have, want))
    for want in joined[len(flat) - 1 :]:
        flat.append(0.0 if want in ("f32", "f64") else 0)
    return flat


def _coerce(fv: Any, have: str, want: str) -> Any:
    if have == want:
        return fv
    if have == "f32":
        return encode_float_as_i32(fv)
    if have == "f64":
        return encode_float_as_i64(fv)
    assert (have, want) == ("i32", "i64")
    return fv


def store(cx: LiftLowerContext, v: Any, t: ValType, ptr: int) -> None:
    """Store ``v`` of type ``t`` at the (already validated) ``ptr`` (spec ``store``)."""
    m64 = cx.memory64
    match t:
        case PrimType(name="bool"):
            cx.view()[ptr] = int(check_bool(v))
        case PrimType(name="f32"):
            struct.pack_into("<f", cx.view(), ptr, f32_round(check_float(v, "f32")))
        case PrimType(name="f64"):
            struct.pack_into("<d", cx.view(), ptr, check_float(v, "f64"))
        case PrimType(name="char"):
            struct.pack_into("<I", cx.view(), ptr, check_char(v))
        case PrimType(name="string"):
            begin, units = store_string_into_range(cx, v)
            struct.pack_into("<QQ" if m64 else "<II", cx.view(), ptr, begin, units)
        case PrimType(name=name) if name in _STORE_FORMAT:
            lo, hi = INTEGER_RANGES[name]
            struct.pack_into(_STORE_FORMAT[name], cx.view(), ptr, check_int(v, name, lo, hi))
        case ListType(element=elem, length=None):
            begin, length = _store_list_into_range(cx, v, elem)
            struct.pack_into("<QQ" if m64 else "<II", cx.view(), ptr, begin, length)
        case ListType(element=elem, length=length):
            _store_list_into_valid_range(cx, check_list_value(v, elem, length), ptr, elem)
        case RecordType(fields=fields):
            offsets = field_offsets([ft for _, ft in fields], m64)
            for (name, ft), off in zip(fields, offsets, strict=False):
                field = get_field(v, name)
                try:
                    store(cx, field, ft, ptr + off)
                except (TypeError, ValueError) as err:
                    raise prefix_error(err, f"field `{name}`") from None
        case TupleType(elements=elements):
            _check_tuple(v, len(elements))
            offsets = field_offsets(elements, m64)
            for i, (e, et, off) in enumerate(zip(v, elements, offsets, strict=False)):
                try:
                    store(cx, e, et, ptr + off)
                except (TypeError, ValueError) as err:
                    raise prefix_error(err, f"tuple element {i}") from None
        case VariantType() | EnumType() | OptionType() | ResultType():
            _store_variant(cx, v, t, ptr)
        case FlagsType(names=names):
            bits = flags_to_int(v, case_index(names))
            size = elem_size(t, m64)
            cx.view()[ptr : ptr + size] = bits.to_bytes(size, "little")
        case MapType():
            begin, length = _store_map_into_range(cx, v, t)
            struct.pack_into("<QQ" if m64 else "<II", cx.view(), ptr, begin, length)
        case OwnType(resource=resource):
            struct.pack_into("<I", cx.view(), ptr, cx.lower_own(resource, v) & MASK32)
        case BorrowType(resource=resource):
            struct.pack_into("<I", cx.view(), ptr, cx.lower_borrow(resource, v) & MASK32)
        case StreamType():
            struct.pack_into("<I", cx.view(), ptr, cx.lower_stream(t, v) & MASK32)
        case FutureType():
            struct.pack_into("<I", cx.view(), ptr, cx.lower_future(t, v) & MASK32)
        case PrimType(name="error-context"):
            struct.pack_into("<I", cx.view(), ptr, cx.lower_error_context(v) & MASK32)
        case _:
            unknown_type(t)


def _store_variant(cx: LiftLowerContext, v: Any, t: ValType, ptr: int) -> None:
    index, payload = match_case(v, t)
    cases = case_types(t)
    disc_size = discriminant_size(len(cases))
    cx.view()[ptr : ptr + disc_size] = index.to_bytes(disc_size, "little")
    case_t = cases[index]
    if case_t is not None:
        name = t.cases()[index][0]  # type: ignore[union-attr]
        try:
            store(cx, payload, case_t, ptr + payload_offset(t, cx.memory64))
        except (TypeError, ValueError) as err:
            raise prefix_error(err, f"case `{name}`") from None


def _list_too_long(cx: LiftLowerContext, kind: str) -> NoReturn:
    """A list whose byte length in the destination does not fit 32 bits.

    A host value is a value error; in a fused adapter it is wasmtime's trap
    (its elements may be bigger in the destination, e.g. strings going from a
    32-bit into a 64-bit memory).
    """
    if cx.fused:
        cx.trap("list-bounds")
    raise ValueError(f"size overflow copying a {kind}")


def _store_list_into_range(cx: LiftLowerContext, v: Any, elem: ValType) -> tuple[int, int]:
    """Spec ``store_list_into_range``: allocate, check, store the elements."""
    if type(v) is ListRef:
        return store_list_ref(cx, v)
    items = check_list_value(v, elem, None)
    size = elem_size(elem, cx.memory64)
    byte_length = len(items) * size
    if byte_length > MAX_LIST_BYTE_LENGTH:
        _list_too_long(cx, "list")
    ptr = cx.reallocate(0, 0, alignment(elem, cx.memory64), byte_length, "list")
    _store_list_into_valid_range(cx, items, ptr, elem)
    return ptr, len(items)


def _store_list_into_valid_range(cx: LiftLowerContext, items: Any, ptr: int, elem: ValType) -> None:
    if elem == U8:
        data = bytes(items)  # bytes-like already checked
        cx.view()[ptr : ptr + len(data)] = data
        return
    bulk = _BULK_INTS.get(elem)
    if bulk is not None:
        code, lo, hi = bulk
        # Exactly ``int`` values in range: one ``struct`` call; anything else
        # goes element by element below, for the precise error.
        if all(type(e) is int and lo <= e <= hi for e in items):
            struct.pack_into(f"<{len(items)}{code}", cx.view(), ptr, *items)
            return
    size = elem_size(elem, cx.memory64)
    for i, e in enumerate(items):
        try:
            store(cx, e, elem, ptr + i * size)
        except (TypeError, ValueError) as err:
            raise prefix_error(err, f"list element {i}") from None


def _store_map_into_range(cx: LiftLowerContext, v: Any, t: MapType) -> tuple[int, int]:
    """Spec ``store_list_into_range`` of ``list<tuple<k, v>>`` (wasmtime ``lower_map``)."""
    pairs = map_pairs(v)
    entry = map_entry_type(t)
    m64 = cx.memory64
    size = elem_size(entry, m64)
    value_offset = field_offsets(entry.elements, m64)[1]
    byte_length = len(pairs) * size
    if byte_length > MAX_LIST_BYTE_LENGTH:
        _list_too_long(cx, "map")
    ptr = cx.reallocate(0, 0, alignment(entry, m64), byte_length, "map")
    for i, (key, value) in enumerate(pairs):
        at = ptr + i * size
        try:
            store(cx, key, t.key, at)
        except (TypeError, ValueError) as err:
            raise prefix_error(err, f"map entry {i} key") from None
        try:
            store(cx, value, t.value, at + value_offset)
        except (TypeError, ValueError) as err:
            raise prefix_error(err, f"map entry {i} value") from None
    return ptr, len(pairs)


def lower_flat_values(
    cx: LiftLowerContext,
    max_flat: int,
    vs: Sequence[Any],
    ts: Sequence[ValType],
    out_param: int | None = None,
    names: Sequence[str] | None = None,
) -> list[Any]:
    """Lower a list of values, spilling to memory when needed (spec ``lower_flat_values``).

    When the values spill and ``out_param`` is ``None``, a tuple is allocated
    with ``realloc`` and its pointer is the only flat value; otherwise the
    tuple is stored at the guest-provided ``out_param`` (checked with the
    ``param`` messages) and nothing is returned.  ``names`` (parameter
    names) prefix value errors as "parameter `x`: ..."; without names the
    values are results and errors are not prefixed.
    """
    assert len(vs) == len(ts)
    m64 = cx.memory64
    if len(flatten_types(ts, m64)) > max_flat:
        tuple_type = TupleType(tuple(ts))
        size = elem_size(tuple_type, m64)
        align = alignment(tuple_type, m64)
        if out_param is None:
            ptr = cx.reallocate(0, 0, align, size, "tuple")
            flat: list[Any] = [ptr]
        else:
            ptr = cx.check_pointer(out_param, size, align, "param")
            flat = []
        for i, (v, t, off) in enumerate(zip(vs, ts, field_offsets(ts, m64), strict=False)):
            try:
                store(cx, v, t, ptr + off)
            except (TypeError, ValueError) as err:
                if names is None:
                    raise
                raise prefix_error(err, f"parameter `{names[i]}`") from None
        return flat
    flat = []
    for i, (v, t) in enumerate(zip(vs, ts, strict=False)):
        try:
            flat += lower_flat(cx, v, t)
        except (TypeError, ValueError) as err:
            if names is None:
                raise
            raise prefix_error(err, f"parameter `{names[i]}`") from None
    return flat
