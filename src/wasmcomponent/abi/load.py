"""Lifting, compiled per type: core values (spec ``lift_flat``) and memory (spec ``load``).

:func:`flat_lifter` and :func:`loader` build, once per type, a closure that
already knows its slot indices, field offsets, struct formats and
discriminant widths, so lifting does no type dispatch.  Records and tuples
are generated straight-line code (one ``struct`` call reads every scalar
field and every ``(ptr, length)`` pair), variants come from
:mod:`.variant_code`, strings from :mod:`.fast_strings`.  ``list<u8>``
becomes ``bytes`` in one copy and lists of numbers one ``struct``/``array``
call, after one bounds check per region.

Lifting never calls into wasm, so one memory view serves a whole value.  In
a fused adapter strings and lists of scalars are lifted as lazy references
(:mod:`.refs`), variants as :class:`~.refs.FusedCase`.
"""

from __future__ import annotations

import struct
from functools import cache
from typing import Any, Callable, Sequence

from ..types.abi import (
    alignment,
    case_types,
    discriminant_size,
    elem_size,
    field_offsets,
    flags_words,
    flatten_type,
    flatten_variant_payload,
    map_entry_type,
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
from ..types.values import (
    Record,
    case_matcher,
    int_to_flags,
)
from .context import LiftLowerContext
from .fast_strings import (
    load_string,
    load_string_env,
    load_string_lines,
)
from .formats import (
    FLOAT_CODE,
    INT_CODE,
    INT_SIZE,
    M32,
    M64,
    NATIVE_CODES,
    PAIR,
    FlatLifter,
    Loader,
    define,
)
from .lift import (
    check_list_range,
    convert_i32_to_char,
    decode_i32_as_float,
    decode_i64_as_float,
    unknown_type,
)
from .refs import LIST_REF_ELEMENTS, FusedCase, list_ref
from .strings import decode_failure
from .variant_code import variant_loader


def _new_record(fields: dict[str, Any]) -> Record:
    rec = Record.__new__(Record)
    rec.__dict__.update(fields)
    return rec


def flat_lifter(t: ValType, o: int, haves: tuple[str, ...]) -> FlatLifter:
    """Spec ``lift_flat`` for ``t`` whose flat values start at slot ``o``.

    ``haves`` are the core types actually in those slots (they differ from
    ``flatten_type(t)`` inside a variant payload, spec ``CoerceValueIter``).
    """
    match t:
        case PrimType(name="bool"):
            return lambda cx, mv, flat: (flat[o] & M32) != 0
        case PrimType(name="u8" | "u16" | "u32" | "u64" as name):
            mask = (1 << (8 * INT_SIZE[name])) - 1
            return lambda cx, mv, flat: flat[o] & mask
        case PrimType(name="s8" | "s16" | "s32" | "s64" as name):
            bits = 8 * INT_SIZE[name]
            mask = (1 << bits) - 1
            sign = 1 << (bits - 1)
            return lambda cx, mv, flat: ((flat[o] & mask) ^ sign) - sign
        case PrimType(name="f32"):
            if haves[0] == "f32":
                return lambda cx, mv, flat: float(flat[o])
            return lambda cx, mv, flat: decode_i32_as_float(flat[o] & M32)
        case PrimType(name="f64"):
            if haves[0] == "f64":
                return lambda cx, mv, flat: float(flat[o])
            return lambda cx, mv, flat: decode_i64_as_float(flat[o] & M64)
        case PrimType(name="char"):
            return lambda cx, mv, flat: convert_i32_to_char(cx, flat[o] & M32)
        case PrimType(name="string"):

            def lift_string(cx: LiftLowerContext, mv: Any, flat: Sequence[Any]) -> Any:
                return load_string(cx, mv, flat[o], flat[o + 1])

            return lift_string
        case ListType(element=elem, length=None):
            load_list = _list_loader(elem)
            return lambda cx, mv, flat: load_list(cx, mv, flat[o] & M32, flat[o + 1] & M32)  # type: ignore[arg-type]
        case MapType():
            load_map = _map_loader(t)
            return lambda cx, mv, flat: load_map(cx, mv, flat[o] & M32, flat[o + 1] & M32)  # type: ignore[arg-type]
        case ListType(element=elem, length=length):
            assert length is not None
            n = len(flatten_type(elem))
            parts = tuple(flat_lifter(elem, o + i * n, haves[i * n : (i + 1) * n]) for i in range(length))
            if elem == U8:
                return lambda cx, mv, flat: bytes([p(cx, mv, flat) for p in parts])
            return lambda cx, mv, flat: [p(cx, mv, flat) for p in parts]
        case RecordType(fields=fields):
            named = tuple(zip((n for n, _ in fields), _sequence_lifters([ft for _, ft in fields], o, haves), strict=False))

            def lift_record(cx: LiftLowerContext, mv: Any, flat: Sequence[Any]) -> Any:
                return _new_record({name: lift(cx, mv, flat) for name, lift in named})

            return lift_record
        case TupleType(elements=elements):
            lifters = _sequence_lifters(list(elements), o, haves)
            return lambda cx, mv, flat: tuple([lift(cx, mv, flat) for lift in lifters])
        case VariantType() | EnumType() | OptionType() | ResultType():
            return _flat_variant_lifter(t, o, haves)
        case FlagsType(names=names):
            words = flags_words(len(names)) if names else 0
            if words == 1:
                return lambda cx, mv, flat: int_to_flags(flat[o] & M32, names)

            def lift_flags(cx: LiftLowerContext, mv: Any, flat: Sequence[Any]) -> Any:
                bits = 0
                for k in range(words):
                    bits |= (flat[o + k] & M32) << (32 * k)
                return int_to_flags(bits, names)

            return lift_flags
        case OwnType(resource=resource):
            return lambda cx, mv, flat: cx.lift_own(resource, flat[o] & M32)
        case BorrowType(resource=resource):
            return lambda cx, mv, flat: cx.lift_borrow(resource, flat[o] & M32)
        case StreamType():
            return lambda cx, mv, flat: cx.lift_stream(t, flat[o] & M32)
        case FutureType():
            return lambda cx, mv, flat: cx.lift_future(t, flat[o] & M32)
        case PrimType(name="error-context"):
            return lambda cx, mv, flat: cx.lift_error_context(flat[o] & M32)
    unknown_type(t)




def _sequence_lifters(types: list[ValType], o: int, haves: tuple[str, ...]) -> tuple[FlatLifter, ...]:
    out = []
    pos = 0
    for t in types:
        n = len(flatten_type(t))
        out.append(flat_lifter(t, o + pos, haves[pos : pos + n]))
        pos += n
    return tuple(out)


def _flat_variant_lifter(t: ValType, o: int, haves: tuple[str, ...]) -> FlatLifter:
    """Spec ``lift_flat_variant``: discriminant at slot ``o``, payload from ``o + 1``."""
    cases = case_types(t)
    count = len(cases)
    joined = haves[1:]
    assert len(joined) == len(flatten_variant_payload(t))
    matcher = case_matcher(t)
    if isinstance(t, EnumType):
        names = matcher.names

        def lift_enum(cx: LiftLowerContext, mv: Any, flat: Sequence[Any]) -> Any:
            index = flat[o] & M32
            if index >= count:
                cx.trap("discriminant", value=index, count=count)
            return names[index]

        return lift_enum
    payloads = tuple(
        None if c is None else flat_lifter(c, o + 1, joined[: len(flatten_type(c))]) for c in cases
    )
    make = matcher.make

    def lift_variant(cx: LiftLowerContext, mv: Any, flat: Sequence[Any]) -> Any:
        index = flat[o] & M32
        if index >= count:
            cx.trap("discriminant", value=index, count=count)
        lift = payloads[index]
        payload = None if lift is None else lift(cx, mv, flat)
        return FusedCase(index, payload) if cx.fused else make(index, payload)

    return lift_variant


# ------------------------------------------------------------ loading


@cache  # pure in ``t``; types nest and repeat (a WASI error-code in every result)
def loader(t: ValType) -> Loader:
    """Spec ``load`` for ``t`` at an already validated pointer."""
    match t:
        case PrimType(name="bool"):
            return lambda cx, mv, ptr: mv[ptr] != 0
        case PrimType(name=name) if name in INT_CODE or name in FLOAT_CODE:
            unpack = struct.Struct("<" + (INT_CODE.get(name) or FLOAT_CODE[name])).unpack_from
            return lambda cx, mv, ptr: unpack(mv, ptr)[0]
        case PrimType(name="char"):
            unpack_u32 = struct.Struct("<I").unpack_from
            return lambda cx, mv, ptr: convert_i32_to_char(cx, unpack_u32(mv, ptr)[0])
        case PrimType(name="string"):
            return _at_pair(load_string)
        case ListType(element=elem, length=None):
            return _at_pair(_list_loader(elem))
        case ListType(element=elem, length=length):
            assert length is not None
            return _elements_loader(elem, length)
        case MapType():
            return _at_pair(_map_loader(t))
        case RecordType(fields=fields):
            return _record_loader(tuple(n for n, _ in fields), tuple(ft for _, ft in fields), True)
        case TupleType(elements=elements):
            return _record_loader(tuple(str(i) for i in range(len(elements))), elements, False)
        case VariantType() | EnumType() | OptionType() | ResultType():
            return _variant_loader(t)
        case FlagsType(names=names):
            size = elem_size(t)
            return lambda cx, mv, ptr: int_to_flags(int.from_bytes(mv[ptr : ptr + size], "little"), names)
        case OwnType(resource=resource):
            unpack_own = struct.Struct("<I").unpack_from
            return lambda cx, mv, ptr: cx.lift_own(resource, unpack_own(mv, ptr)[0])
        case BorrowType(resource=resource):
            unpack_borrow = struct.Struct("<I").unpack_from
            return lambda cx, mv, ptr: cx.lift_borrow(resource, unpack_borrow(mv, ptr)[0])
        case StreamType():
            unpack_stream = struct.Struct("<I").unpack_from
            return lambda cx, mv, ptr: cx.lift_stream(t, unpack_stream(mv, ptr)[0])
        case FutureType():
            unpack_future = struct.Struct("<I").unpack_from
            return lambda cx, mv, ptr: cx.lift_future(t, unpack_future(mv, ptr)[0])
        case PrimType(name="error-context"):
            unpack_error = struct.Struct("<I").unpack_from
            return lambda cx, mv, ptr: cx.lift_error_context(unpack_error(mv, ptr)[0])
    unknown_type(t)


def _at_pair(load_range: Callable[[LiftLowerContext, memoryview, int, int], Any]) -> Loader:
    """A loader for a string, list or map: its ``(ptr, length)`` pair at ``ptr``, then the range."""
    unpack_pair = PAIR.unpack_from

    def load_at(cx: LiftLowerContext, mv: memoryview, ptr: int) -> Any:
        begin, length = unpack_pair(mv, ptr)
        return load_range(cx, mv, begin, length)

    return load_at


def _elements_loader(elem: ValType, length: int) -> Loader:
    """``length`` consecutive elements at a validated pointer (a fixed-length list)."""
    bulk = _bulk_unpacker(elem)
    if bulk is not None:
        return lambda cx, mv, ptr: bulk(cx, mv, ptr, length)
    size = elem_size(elem)
    load = loader(elem)
    return lambda cx, mv, ptr: [load(cx, mv, ptr + i * size) for i in range(length)]


def _bulk_unpacker(elem: ValType) -> Callable[[LiftLowerContext, memoryview, int, int], Any] | None:
    """One-shot readers of ``n`` numbers/bytes/bools/chars starting at ``ptr``."""
    if elem == U8:
        return lambda cx, mv, ptr, n: bytes(mv[ptr : ptr + n])
    if isinstance(elem, PrimType):
        name = elem.name
        code = INT_CODE.get(name) or FLOAT_CODE.get(name)
        if code is not None and code in NATIVE_CODES:
            width = struct.calcsize("<" + code)
            return lambda cx, mv, ptr, n: mv[ptr : ptr + n * width].cast(code).tolist()  # type: ignore[call-overload]
        if code is not None:
            return lambda cx, mv, ptr, n: list(struct.unpack_from(f"<{n}{code}", mv, ptr))
        if name == "bool":
            return lambda cx, mv, ptr, n: [b != 0 for b in mv[ptr : ptr + n]]
        if name == "char":
            return lambda cx, mv, ptr, n: [
                convert_i32_to_char(cx, c) for c in struct.unpack_from(f"<{n}I", mv, ptr)
            ]
    return None


def _list_loader(elem: ValType) -> Callable[[LiftLowerContext, memoryview, int, int], Any]:
    """Spec ``load_list_from_range``: check ``(ptr, length)`` then load the elements."""
    size = elem_size(elem)
    align = alignment(elem)
    bulk = _bulk_unpacker(elem)
    if bulk is not None:
        # the bulk element types are exactly those passed by reference when fused
        assert isinstance(elem, PrimType) and elem.name in LIST_REF_ELEMENTS

        def load_bulk_list(cx: LiftLowerContext, mv: memoryview, ptr: int, length: int) -> Any:
            ptr = check_list_range(cx, len(mv), ptr, length, size, align)
            if cx.fused:
                return list_ref(cx, ptr, length & M32, elem, size, align)
            return bulk(cx, mv, ptr, length & M32)

        return load_bulk_list
    if elem == PrimType("string"):

        def load_strings(cx: LiftLowerContext, mv: memoryview, ptr: int, length: int) -> Any:
            ptr = check_list_range(cx, len(mv), ptr, length, size, align)
            n = length & M32
            if not n:
                return []
            pairs = struct.unpack_from(f"<{2 * n}I", mv, ptr)
            if cx.string_encoding != "utf8" or cx.fused:
                return [load_string(cx, mv, pairs[k], pairs[k + 1]) for k in range(0, 2 * n, 2)]
            # load_string's host utf-8 case, inlined per element
            end = len(mv)
            out = []
            for k in range(0, 2 * n, 2):
                begin = pairs[k]
                stop = begin + pairs[k + 1]
                if stop > end:
                    cx.trap("string-bounds")
                if cx.fuel is not None:
                    cx.charge(stop - begin)
                try:
                    out.append(str(mv[begin:stop], "utf-8"))
                except UnicodeDecodeError as err:
                    decode_failure(cx, err, mv, begin)
            return out

        return load_strings
    load = loader(elem)

    def load_list(cx: LiftLowerContext, mv: memoryview, ptr: int, length: int) -> Any:
        ptr = check_list_range(cx, len(mv), ptr, length, size, align)
        return [load(cx, mv, ptr + i * size) for i in range(length & M32)]

    return load_list


def _map_loader(t: MapType) -> Callable[[LiftLowerContext, memoryview, int, int], Any]:
    """Spec ``load_list_from_range`` of ``list<tuple<k, v>>``: a ``dict``, or pairs when fused."""
    entry = map_entry_type(t)
    size = elem_size(entry)
    align = alignment(entry)
    load_entry = loader(entry)

    def load_map(cx: LiftLowerContext, mv: memoryview, ptr: int, length: int) -> Any:
        ptr = check_list_range(cx, len(mv), ptr, length, size, align, "map")
        pairs = [load_entry(cx, mv, ptr + i * size) for i in range(length & M32)]
        return pairs if cx.fused else dict(pairs)

    return load_map


def _record_loader(names: tuple[str, ...], types: tuple[ValType, ...], is_record: bool) -> Loader:
    """Spec ``load_record`` as generated straight-line code for the layout.

    One ``struct.Struct`` per layout reads every integer/float/bool field and
    the ``(ptr, length)`` pair of every string or list field at once (the
    record's whole range was validated by the caller); strings and lists are
    then loaded from their ranges, other fields by their own loaders at
    precomputed offsets.
    """
    offsets = field_offsets(types)
    fmt = "<"
    pos = 0
    unpacked: list[str] = []
    body: list[str] = []
    env: dict[str, Any] = {
        "Record": Record,
        "record_new": Record.__new__,
        **load_string_env(),
    }
    has_strings = False
    for i, (t, off) in enumerate(zip(types, offsets, strict=True)):
        code = None
        if isinstance(t, PrimType):
            code = INT_CODE.get(t.name) or FLOAT_CODE.get(t.name) or ("B" if t.name == "bool" else None)
        if code is not None:
            fmt += "x" * (off - pos) + code
            pos = off + elem_size(t)
            unpacked.append(f"v{i}")
            body.append(f"f{i} = (v{i} != 0)" if t.name == "bool" else f"f{i} = v{i}")  # type: ignore[union-attr]
        elif t == PrimType("string") or (isinstance(t, ListType) and t.length is None):
            fmt += "x" * (off - pos) + "II"
            pos = off + 8
            unpacked += [f"p{i}", f"n{i}"]
            if isinstance(t, ListType):
                env[f"load{i}"] = _list_loader(t.element)
                body.append(f"f{i} = load{i}(cx, mv, p{i}, n{i})")
            else:
                # load_string's host utf-8 case inlined (the pair is unsigned already)
                has_strings = True
                body += load_string_lines(f"p{i}", f"n{i}", f"f{i}")
        else:
            env[f"load{i}"] = loader(t)
            body.append(f"f{i} = load{i}(cx, mv, ptr + {off})")
    lines = ["def load_record(cx, mv, ptr):"]
    if unpacked:
        env["unpack"] = struct.Struct(fmt).unpack_from
        lines.append(f"    {', '.join(unpacked)}, = unpack(mv, ptr)")
    if has_strings:
        lines += ["    fast = cx.string_encoding == 'utf8' and not cx.fused", "    size = len(mv)"]
    lines += ["    " + line for line in body]
    values = [f"f{i}" for i in range(len(types))]
    if is_record:
        items = ", ".join(f"{name!r}: {v}" for name, v in zip(names, values, strict=True))
        lines += ["    record = record_new(Record)", f"    record.__dict__.update({{{items}}})", "    return record"]
    else:
        lines.append(f"    return ({''.join(v + ', ' for v in values)})")
    record_loader: Loader = define(lines, "load_record", env)
    return record_loader


def _variant_loader(t: ValType) -> Loader:
    """Spec ``load_variant``."""
    cases = case_types(t)
    count = len(cases)
    disc = struct.Struct("<" + {1: "B", 2: "H", 4: "I"}[discriminant_size(count)]).unpack_from
    matcher = case_matcher(t)
    if isinstance(t, EnumType):
        names = matcher.names

        def load_enum(cx: LiftLowerContext, mv: memoryview, ptr: int) -> Any:
            index = disc(mv, ptr)[0]
            if index >= count:
                cx.trap("discriminant", value=index, count=count)
            return names[index]

        return load_enum
    return variant_loader(t, loader)

