"""Lowering, compiled per type: to core values (spec ``lower_flat``) and to memory (spec ``store``).

:func:`flat_lowerer` appends a value's core values to a list; :func:`storer`
writes it at a validated pointer.  Both are built once per type and check
every Python value on the way, with the errors of the interpreters in
:mod:`.lower`.  Storers have the signature ``(cx, mv, value, ptr) -> mv``:
any storer that may call ``realloc`` returns a freshly acquired view and
every caller continues with it, so no view survives a call into wasm.
Records, spilled integers and lists of strings are generated code; strings
come from :mod:`.fast_strings`, variants from :mod:`.variant_code`.
"""

from __future__ import annotations

import struct
from array import array
from functools import cache
from typing import Any, Callable

from ..types.abi import (
    alignment,
    discriminant_size,
    elem_size,
    field_offsets,
    flags_words,
    flatten_type,
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
from .fast_strings import (
    lower_flat_string,
    store_string_lines,
    store_string_view,
    string_env,
)
from .formats import FLOAT_CODE, INT_CODE, M32, M64, NATIVE_CODES, PAIR, FlatLowerer, Storer, define
from .lift import unknown_type
from .lower import (
    MAX_LIST_BYTE_LENGTH,
    check_list_value,
    encode_float_as_i32,
    encode_float_as_i64,
    f32_round,
    fused_case,
    get_field,
)
from .refs import FusedCase, ListRef
from .transcode import store_list_ref
from .variant_code import variant_flat_lowerer


def flat_lowerer(t: ValType, wants: tuple[str, ...]) -> FlatLowerer:
    """Spec ``lower_flat`` appending to ``out``; ``wants`` are the slot types to produce.

    ``wants`` differs from ``flatten_type(t)`` inside a variant payload (the
    joined types), where floats are bit-cast (spec ``lower_flat_variant``).
    """
    match t:
        case PrimType(name="bool"):
            return lambda cx, v, out: out.append(int(check_bool(v)))
        case PrimType(name=name) if name in INT_CODE:
            lo, hi = INTEGER_RANGES[name]
            mask = M64 if name in ("u64", "s64") else M32

            def lower_int(cx: LiftLowerContext, v: Any, out: list) -> None:
                if type(v) is int and lo <= v <= hi:
                    out.append(v & mask)
                else:
                    out.append(check_int(v, name, lo, hi) & mask)

            return lower_int
        case PrimType(name="f32"):
            if wants[0] == "f32":
                return lambda cx, v, out: out.append(f32_round(check_float(v, "f32")))
            return lambda cx, v, out: out.append(encode_float_as_i32(check_float(v, "f32")))
        case PrimType(name="f64"):
            if wants[0] == "f64":
                return lambda cx, v, out: out.append(check_float(v, "f64"))
            return lambda cx, v, out: out.append(encode_float_as_i64(check_float(v, "f64")))
        case PrimType(name="char"):
            return lambda cx, v, out: out.append(check_char(v))
        case PrimType(name="string"):
            return lower_flat_string
        case ListType(element=elem, length=None):
            store_list = _list_storer(elem)
            return lambda cx, v, out: out.extend(store_list(cx, v))
        case MapType():
            store_map = _map_storer(t)
            return lambda cx, v, out: out.extend(store_map(cx, v))
        case ListType(element=elem, length=length):
            assert length is not None
            n = len(flatten_type(elem))
            parts = tuple(flat_lowerer(elem, wants[i * n : (i + 1) * n]) for i in range(length))

            def lower_fixed(cx: LiftLowerContext, v: Any, out: list) -> None:
                items = check_list_value(v, elem, length)
                for i, (low, e) in enumerate(zip(parts, items, strict=False)):
                    try:
                        low(cx, e, out)
                    except (TypeError, ValueError) as err:
                        raise prefix_error(err, f"list element {i}") from None

            return lower_fixed
        case RecordType(fields=fields):
            lowerers = _sequence_lowerers([ft for _, ft in fields], wants)
            named = tuple(zip((n for n, _ in fields), lowerers, strict=False))

            def lower_record(cx: LiftLowerContext, v: Any, out: list) -> None:
                for name, low in named:
                    field = get_field(v, name)
                    try:
                        low(cx, field, out)
                    except (TypeError, ValueError) as err:
                        raise prefix_error(err, f"field `{name}`") from None

            return lower_record
        case TupleType(elements=elements):
            lowerers = _sequence_lowerers(list(elements), wants)
            count = len(elements)

            def lower_tuple(cx: LiftLowerContext, v: Any, out: list) -> None:
                _check_tuple(v, count)
                for i, (low, e) in enumerate(zip(lowerers, v, strict=False)):
                    try:
                        low(cx, e, out)
                    except (TypeError, ValueError) as err:
                        raise prefix_error(err, f"tuple element {i}") from None

            return lower_tuple
        case VariantType() | EnumType() | OptionType() | ResultType():
            return _flat_variant_lowerer(t, wants)
        case FlagsType(names=names):
            index_of = {name: i for i, name in enumerate(names)}
            words = flags_words(len(names)) if names else 0

            def lower_flags(cx: LiftLowerContext, v: Any, out: list) -> None:
                bits = flags_to_int(v, index_of)
                for k in range(words):
                    out.append((bits >> (32 * k)) & M32)

            return lower_flags
        case OwnType(resource=resource):
            # Table indices and reps fit 32 bits: no masking needed.
            return lambda cx, v, out: out.append(cx.lower_own(resource, v))
        case BorrowType(resource=resource):
            return lambda cx, v, out: out.append(cx.lower_borrow(resource, v))
        case StreamType():
            return lambda cx, v, out: out.append(cx.lower_stream(t, v) & M32)
        case FutureType():
            return lambda cx, v, out: out.append(cx.lower_future(t, v) & M32)
        case PrimType(name="error-context"):
            return lambda cx, v, out: out.append(cx.lower_error_context(v) & M32)
    unknown_type(t)


def _check_tuple(v: Any, count: int) -> None:
    if not isinstance(v, tuple):
        type_mismatch("tuple", "tuple", v)
    if len(v) != count:
        raise TypeError(f"expected a tuple of length {count}, found length {len(v)}")


def _sequence_lowerers(types: list[ValType], wants: tuple[str, ...]) -> tuple[FlatLowerer, ...]:
    out = []
    pos = 0
    for t in types:
        n = len(flatten_type(t))
        out.append(flat_lowerer(t, wants[pos : pos + n]))
        pos += n
    return tuple(out)


def _flat_variant_lowerer(t: ValType, wants: tuple[str, ...]) -> FlatLowerer:
    """Spec ``lower_flat_variant``: discriminant, coerced payload, zero padding."""
    cases = t.cases()  # type: ignore[union-attr]
    joined = wants[1:]
    matcher = case_matcher(t)
    zeros = tuple(0.0 if w in ("f32", "f64") else 0 for w in joined)
    if isinstance(t, EnumType):
        index_of = matcher.index_of
        match_enum = matcher.match

        def lower_enum(cx: LiftLowerContext, v: Any, out: list) -> None:
            index = index_of.get(v) if type(v) is str else None
            if index is None:
                index = match_enum(v)[0]
            out.append(index)

        return lower_enum
    plan: list[tuple[str, FlatLowerer | None, tuple[Any, ...]]] = []
    for name, c in cases:
        if c is None:
            plan.append((name, None, zeros))
        else:
            n = len(flatten_type(c))
            plan.append((name, flat_lowerer(c, joined[:n]), zeros[n:]))
    plan_t = tuple(plan)
    match_case = matcher.match
    count = len(plan_t)

    def lower_variant(cx: LiftLowerContext, v: Any, out: list) -> None:
        index, payload = fused_case(v, count) if type(v) is FusedCase else match_case(v)
        name, low, pad = plan_t[index]
        out.append(index)
        if low is not None:
            try:
                low(cx, payload, out)
            except (TypeError, ValueError) as err:
                raise prefix_error(err, f"case `{name}`") from None
        out.extend(pad)

    return variant_flat_lowerer(t, wants, lower_variant)


# ------------------------------------------------------------ storing


@cache  # pure in ``t``; types nest and repeat (a WASI error-code in every result)
def storer(t: ValType) -> Storer:
    """Spec ``store`` at a validated pointer; returns the (possibly refreshed) view."""
    match t:
        case PrimType(name="bool"):

            def store_bool(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                mv[ptr] = int(check_bool(v))
                return mv

            return store_bool
        case PrimType(name=name) if name in INT_CODE:
            pack = struct.Struct("<" + INT_CODE[name]).pack_into
            lo, hi = INTEGER_RANGES[name]

            def store_int(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                pack(mv, ptr, v if type(v) is int and lo <= v <= hi else check_int(v, name, lo, hi))
                return mv

            return store_int
        case PrimType(name="f32"):
            pack_f32 = struct.Struct("<f").pack_into

            def store_f32(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                pack_f32(mv, ptr, f32_round(check_float(v, "f32")))
                return mv

            return store_f32
        case PrimType(name="f64"):
            pack_f64 = struct.Struct("<d").pack_into

            def store_f64(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                pack_f64(mv, ptr, check_float(v, "f64"))
                return mv

            return store_f64
        case PrimType(name="char"):
            pack_char = struct.Struct("<I").pack_into

            def store_char(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                pack_char(mv, ptr, check_char(v))
                return mv

            return store_char
        case PrimType(name="string"):
            pack_pair = PAIR.pack_into

            def store_string_at(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                begin, units, mv = store_string_view(cx, v)
                pack_pair(mv, ptr, begin, units)
                return mv

            return store_string_at
        case ListType(element=elem, length=None):
            store_list_view = _list_storer_view(elem)
            pack_list = PAIR.pack_into

            def store_list_at(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                begin, length, mv = store_list_view(cx, v)
                pack_list(mv, ptr, begin, length)
                return mv

            return store_list_at
        case MapType():
            store_map = _map_storer(t)
            pack_map = PAIR.pack_into

            def store_map_at(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                begin, length = store_map(cx, v)
                mv = cx.view()
                pack_map(mv, ptr, begin, length)
                return mv

            return store_map_at
        case ListType(element=elem, length=length):
            assert length is not None
            store_elements = elements_storer(elem)

            def store_fixed(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                return store_elements(cx, mv, check_list_value(v, elem, length), ptr)

            return store_fixed
        case RecordType(fields=fields):
            return _record_storer(fields)
        case TupleType(elements=elements):
            parts = tuple(zip((storer(et) for et in elements), field_offsets(elements), strict=False))
            count = len(elements)

            def store_tuple(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                _check_tuple(v, count)
                for i, ((st, off), e) in enumerate(zip(parts, v, strict=False)):
                    try:
                        mv = st(cx, mv, e, ptr + off)
                    except (TypeError, ValueError) as err:
                        raise prefix_error(err, f"tuple element {i}") from None
                return mv

            return store_tuple
        case VariantType() | EnumType() | OptionType() | ResultType():
            return _variant_storer(t)
        case FlagsType(names=names):
            index_of = {name: i for i, name in enumerate(names)}
            size = elem_size(t)

            def store_flags(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                mv[ptr : ptr + size] = flags_to_int(v, index_of).to_bytes(size, "little")
                return mv

            return store_flags
        case OwnType(resource=resource):
            pack_own = struct.Struct("<I").pack_into

            def store_own(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                pack_own(mv, ptr, cx.lower_own(resource, v) & M32)
                return mv

            return store_own
        case BorrowType(resource=resource):
            pack_borrow = struct.Struct("<I").pack_into

            def store_borrow(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                pack_borrow(mv, ptr, cx.lower_borrow(resource, v) & M32)
                return mv

            return store_borrow
        case StreamType() | FutureType() | PrimType(name="error-context"):
            return _handle_storer(t)
    unknown_type(t)


def _handle_storer(t: ValType) -> Storer:
    """Spec ``store`` of a stream, future or error-context: its table index from the context's hook.

    Like the resource hooks, these do not call into wasm, so the view stays valid.
    """
    pack_handle = struct.Struct("<I").pack_into
    if isinstance(t, StreamType):
        stream_t = t

        def store_stream(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
            pack_handle(mv, ptr, cx.lower_stream(stream_t, v) & M32)
            return mv

        return store_stream
    if isinstance(t, FutureType):
        future_t = t

        def store_future(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
            pack_handle(mv, ptr, cx.lower_future(future_t, v) & M32)
            return mv

        return store_future

    def store_error_context(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
        pack_handle(mv, ptr, cx.lower_error_context(v) & M32)
        return mv

    return store_error_context


def _record_storer(fields: tuple[tuple[str, ValType], ...]) -> Storer:
    """Spec ``store_record`` as generated straight-line code for the layout.

    Fields are read, checked and stored in order, each error prefixed with
    its field, exactly as a loop over the field storers would; integer fields
    are packed inline when in range, strings and lists are stored without
    the intermediate storer frames.
    """
    types = [ft for _, ft in fields]
    offsets = field_offsets(types)
    env: dict[str, Any] = {
        "get_field": get_field,
        "prefix_error": prefix_error,
        **string_env(),
        "pack_pair": PAIR.pack_into,
    }
    lines = ["def store_record(cx, mv, v, ptr):"]
    for i, ((name, t), off) in enumerate(zip(fields, offsets, strict=True)):
        lines += [f"    f = get_field(v, {name!r})", "    try:"]
        if isinstance(t, PrimType) and t.name in INT_CODE:
            lo, hi = INTEGER_RANGES[t.name]
            env[f"pack{i}"] = struct.Struct("<" + INT_CODE[t.name]).pack_into
            env[f"store{i}"] = storer(t)
            lines += [
                f"        if type(f) is int and {lo} <= f <= {hi}:",
                f"            pack{i}(mv, ptr + {off}, f)",
                "        else:",
                f"            mv = store{i}(cx, mv, f, ptr + {off})",
            ]
        elif t == PrimType("string"):
            lines += ["        " + line for line in store_string_lines("f")]
            lines.append(f"        pack_pair(mv, ptr + {off}, b, n)")
        elif isinstance(t, ListType) and t.length is None:
            env[f"store{i}"] = _list_storer_view(t.element)
            lines += [f"        b, n, mv = store{i}(cx, f)", f"        pack_pair(mv, ptr + {off}, b, n)"]
        else:
            env[f"store{i}"] = storer(t)
            lines.append(f"        mv = store{i}(cx, mv, f, ptr + {off})")
        lines += [
            "    except (TypeError, ValueError) as err:",
            f"        raise prefix_error(err, {f'field `{name}`'!r}) from None",
        ]
    lines.append("    return mv")
    record_storer: Storer = define(lines, "store_record", env)
    return record_storer


def _variant_storer(t: ValType) -> Storer:
    """Spec ``store_variant``."""
    cases = t.cases()  # type: ignore[union-attr]
    count = len(cases)
    disc_size = discriminant_size(count)
    pack_disc = struct.Struct("<" + {1: "B", 2: "H", 4: "I"}[disc_size]).pack_into
    offset = payload_offset(t)
    matcher = case_matcher(t)
    match_case = matcher.match
    if isinstance(t, EnumType):
        index_of = matcher.index_of

        def store_enum(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
            index = index_of.get(v) if type(v) is str else None
            if index is None:
                index = match_case(v)[0]
            pack_disc(mv, ptr, index)
            return mv

        return store_enum
    plan = tuple((name, None if c is None else storer(c)) for name, c in cases)

    def store_variant(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
        index, payload = fused_case(v, count) if type(v) is FusedCase else match_case(v)
        pack_disc(mv, ptr, index)
        name, st = plan[index]
        if st is not None:
            try:
                mv = st(cx, mv, payload, ptr + offset)
            except (TypeError, ValueError) as err:
                raise prefix_error(err, f"case `{name}`") from None
        return mv

    return store_variant


def elements_storer(
    elem: ValType, label: str = "list element"
) -> Callable[[LiftLowerContext, memoryview, Any, int], memoryview]:
    """Store a checked sequence of elements at a validated pointer (spec ``store_list_into_valid_range``).

    An element's error is prefixed with ``label`` and its index.  ``u8``
    items must be bytes-like.
    """
    size = elem_size(elem)
    st = storer(elem)

    def store_each(cx: LiftLowerContext, mv: memoryview, items: Any, ptr: int) -> memoryview:
        for i, e in enumerate(items):
            try:
                mv = st(cx, mv, e, ptr + i * size)
            except (TypeError, ValueError) as err:
                raise prefix_error(err, f"{label} {i}") from None
        return mv

    if elem == PrimType("string"):
        lines = [
            "def store_strings(cx, mv, items, ptr):",
            "    for i, item in enumerate(items):",
            "        try:",
            *("            " + line for line in store_string_lines("item")),
            "            pack_pair(mv, ptr + 8 * i, b, n)",
            "        except (TypeError, ValueError) as err:",
            "            raise prefix_error(err, f'{label} {i}') from None",
            "    return mv",
        ]
        env: dict[str, Any] = {
            **string_env(),
            "pack_pair": PAIR.pack_into,
            "prefix_error": prefix_error,
            "label": label,
        }
        store_strings: Callable[[LiftLowerContext, memoryview, Any, int], memoryview] = define(
            lines, "store_strings", env
        )
        return store_strings
    if elem == U8:

        def store_bytes(cx: LiftLowerContext, mv: memoryview, items: Any, ptr: int) -> memoryview:
            mv[ptr : ptr + len(items)] = items
            return mv

        return store_bytes
    code = INT_CODE.get(elem.name) if isinstance(elem, PrimType) else None
    if code is not None:

        def store_ints(cx: LiftLowerContext, mv: memoryview, items: Any, ptr: int) -> memoryview:
            try:
                struct.pack_into(f"<{len(items)}{code}", mv, ptr, *items)
            except struct.error:
                return store_each(cx, mv, items, ptr)  # raises the precise error
            return mv

        if code in NATIVE_CODES:

            def store_int_array(cx: LiftLowerContext, mv: memoryview, items: Any, ptr: int) -> memoryview:
                try:
                    packed = memoryview(array(code, items)).cast("B")
                except (OverflowError, TypeError, ValueError):
                    return store_each(cx, mv, items, ptr)  # raises the precise error
                mv[ptr : ptr + len(packed)] = packed
                return mv

            return store_int_array
        return store_ints
    if isinstance(elem, PrimType) and elem.name in FLOAT_CODE:
        fcode = FLOAT_CODE[elem.name]

        def store_floats(cx: LiftLowerContext, mv: memoryview, items: Any, ptr: int) -> memoryview:
            for x in items:
                if not isinstance(x, float):
                    return store_each(cx, mv, items, ptr)
            try:
                struct.pack_into(f"<{len(items)}{fcode}", mv, ptr, *items)
            except (struct.error, OverflowError):
                return store_each(cx, mv, items, ptr)
            return mv

        return store_floats
    return store_each


def _list_storer(elem: ValType) -> Callable[[LiftLowerContext, Any], tuple[int, int]]:
    """Spec ``store_list_into_range``: check, allocate, store; returns ``(ptr, length)``."""
    store_list_view = _list_storer_view(elem)

    def store_list(cx: LiftLowerContext, v: Any) -> tuple[int, int]:
        ptr, length, _ = store_list_view(cx, v)
        return ptr, length

    return store_list


def _list_storer_view(elem: ValType) -> Callable[[LiftLowerContext, Any], tuple[int, int, memoryview]]:
    """:func:`_list_storer` that also returns the view left by the element storers."""
    size = elem_size(elem)
    align = alignment(elem)
    store_elements = elements_storer(elem)

    def store_list(cx: LiftLowerContext, v: Any) -> tuple[int, int, memoryview]:
        if type(v) is ListRef:
            ptr, length = store_list_ref(cx, v)
            return ptr, length, cx.view()
        items = check_list_value(v, elem, None)
        byte_length = len(items) * size
        if byte_length > MAX_LIST_BYTE_LENGTH:
            raise ValueError("size overflow copying a list")
        ptr, mv = cx.allocate(align, byte_length, "list")
        mv = store_elements(cx, mv, items, ptr)
        return ptr, len(items), mv

    return store_list


def _map_storer(t: MapType) -> Callable[[LiftLowerContext, Any], tuple[int, int]]:
    """Spec ``store_list_into_range`` of ``list<tuple<k, v>>`` (wasmtime ``lower_map``)."""
    entry = map_entry_type(t)
    size = elem_size(entry)
    align = alignment(entry)
    value_offset = field_offsets(entry.elements)[1]
    store_key = storer(t.key)
    store_value = storer(t.value)

    def store_map(cx: LiftLowerContext, v: Any) -> tuple[int, int]:
        pairs = map_pairs(v)
        byte_length = len(pairs) * size
        if byte_length > MAX_LIST_BYTE_LENGTH:
            raise ValueError("size overflow copying a map")
        ptr = cx.reallocate(0, 0, align, byte_length, "map")
        mv = cx.view()
        for i, (key, value) in enumerate(pairs):
            at = ptr + i * size
            try:
                mv = store_key(cx, mv, key, at)
            except (TypeError, ValueError) as err:
                raise prefix_error(err, f"map entry {i} key") from None
            try:
                mv = store_value(cx, mv, value, at + value_offset)
            except (TypeError, ValueError) as err:
                raise prefix_error(err, f"map entry {i} value") from None
        return ptr, len(pairs)

    return store_map

