"""Specialised lifting/lowering code per function signature.

:func:`compile_func` turns a :class:`FuncType` into four call-time functions
(:class:`CompiledFunc`) built once and cached:

* ``lower_params(cx, args) -> flat``       host -> guest export: Python args to core args
* ``lift_results(cx, flat) -> value``      guest export results to a Python value
* ``lift_params(cx, flat) -> values``      guest -> host import: core args to Python values
* ``lower_results(cx, value, flat) -> flat`` host import result to core results
  (stored through the guest's out-pointer, the last of ``flat``, when spilled)

They are composed from per-type closures made at compile time, so a call
does no type dispatch: every closure already knows its field offsets, flat
slot indices, struct formats, discriminant widths and variant coercions.
Each closure is small enough to check against the spec function it
replaces (named in its builder's docstring), and the property tests compare
them with the interpreters (:mod:`.lift`, :mod:`.lower`) value for value,
trap for trap and realloc call for realloc call.  Two hot shapes use
generated Python source under the same contract: records and tuples
(straight-line code per layout, one ``struct.Struct`` reading all scalar
fields and ``(ptr, length)`` pairs at once), and the *inline snippets* at
the end of this module, which the runtime splices into its generated call
paths for scalar parameters and results.

Strings: a host-side ``str`` stored as utf-8, and a utf-8 string lifted
for the host, take an inlined path (:func:`store_string`,
:func:`load_string`) with the same checks, the same single ``realloc`` and
one memory query; everything else goes through :mod:`.strings`.

Bulk paths: ``list<u8>`` <-> ``bytes`` is one slice copy; lists of numbers
use one ``struct`` call with a ``<{n}X`` format (falling back to the
per-element path, which raises the precise error, when struct rejects a
value); strings decode straight from a memoryview slice after an explicit
bounds check.  In a fused adapter strings and lists of scalars are lifted
as lazy references (:mod:`.refs`) and lowered by :mod:`.transcode`, exactly
as the interpreters do; there, too, variants are lifted as
:class:`~.refs.FusedCase` and maps as lists of pairs (a ``dict`` for the
host), see :mod:`.lift`.

Memory views: lifting takes one view per call (lifting never calls into
wasm).  Storers have the signature ``(cx, mv, value, ptr) -> mv``: any
storer that may call ``realloc`` returns a freshly acquired view, and every
caller continues with the returned one, so no view survives a call into
wasm.

``WASMCOMPONENT_FORCE_INTERPRETER=1`` (or ``interpret=True``) makes
:func:`compile_func` return wrappers around the interpreters instead.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import sys
from array import array
from dataclasses import dataclass
from functools import cache
from typing import Any, Callable, Sequence

from ..runtime.values import (
    Record,
    case_matcher,
    check_bool,
    check_char,
    check_float,
    check_int,
    flags_to_int,
    int_to_flags,
    map_pairs,
    prefix_error,
    type_mismatch,
)
from ..types.abi import (
    MAX_FLAT_PARAMS,
    MAX_FLAT_RESULTS,
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
    STRING,
    U8,
    BorrowType,
    EnumType,
    FlagsType,
    FuncType,
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
from . import lift as interp_lift
from . import lower as interp_lower
from .context import LiftLowerContext
from .fast_strings import (
    lift_string_result,
    load_string,
    load_string_env,
    load_string_lines,
    lower_flat_string,
    store_string_lines,
    store_string_view,
    string_env,
    string_param_lowerer,
)
from .lift import (
    check_list_range,
    convert_i32_to_char,
    decode_i32_as_float,
    decode_i64_as_float,
    unsupported_lift,
)
from .lower import (
    MAX_LIST_BYTE_LENGTH,
    check_list_value,
    encode_float_as_i32,
    encode_float_as_i64,
    f32_round,
    fused_case,
    get_field,
    unsupported_lower,
)
from .refs import LIST_REF_ELEMENTS, FusedCase, ListRef, detaching, list_ref
from .strings import decode_failure
from .transcode import store_list_ref
from .variant_code import variant_flat_lowerer, variant_loader, variant_param_lowerer

__all__ = ["CompiledFunc", "compile_func", "FORCE_INTERPRETER_ENV"]

FORCE_INTERPRETER_ENV = "WASMCOMPONENT_FORCE_INTERPRETER"

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF

FlatLifter = Callable[[LiftLowerContext, memoryview | None, Sequence[Any]], Any]
Loader = Callable[[LiftLowerContext, memoryview, int], Any]
FlatLowerer = Callable[[LiftLowerContext, Any, list], None]
Storer = Callable[[LiftLowerContext, memoryview, Any, int], memoryview]

# Typecodes whose native ``array``/``memoryview`` layout is the little-endian
# Canonical ABI layout on this machine: bulk lists use them directly.
_NATIVE_CODES = frozenset(
    code
    for code in "BbHhIiQqfd"
    if sys.byteorder == "little" and array(code).itemsize == struct.calcsize("<" + code)
)
_INT_CODE = {"u8": "B", "s8": "b", "u16": "H", "s16": "h", "u32": "I", "s32": "i", "u64": "Q", "s64": "q"}
_FLOAT_CODE = {"f32": "f", "f64": "d"}
_PAIR = struct.Struct("<II")


@dataclass(frozen=True)
class CompiledFunc:
    """The four call-time functions of one signature (see the module docstring)."""

    lower_params: Callable[[LiftLowerContext, Sequence[Any]], list]
    lift_results: Callable[[LiftLowerContext, Sequence[Any]], Any]
    lift_params: Callable[[LiftLowerContext, Sequence[Any]], list]
    lower_results: Callable[[LiftLowerContext, Any, Sequence[Any]], list]
    params_spill: bool
    results_spill: bool
    interpreted: bool
    # ``lift_results`` for a context that is never fused (a host call): the
    # same function without the detaching wrapper, which only acts when fused.
    lift_results_host: Callable[[LiftLowerContext, Sequence[Any]], Any] | None = None

    def host_lift_results(self) -> Callable[[LiftLowerContext, Sequence[Any]], Any]:
        """The results lifter to use with a context whose ``fused`` is false."""
        return self.lift_results_host or self.lift_results


def compile_func(ft: FuncType, string_encoding: str = "utf8", *, interpret: bool | None = None) -> CompiledFunc:
    """Build (or fetch from the cache) the lift/lower functions of ``ft``.

    The closures do not depend on ``string_encoding`` (it is read from the
    context at call time); it is accepted so callers can key on it.
    Raises :class:`UnsupportedError` for types that cannot cross yet.
    """
    if interpret is None:
        interpret = os.environ.get(FORCE_INTERPRETER_ENV, "") not in ("", "0")
    # Hashing a big nested FuncType costs more than the lookup saves: types
    # are shared objects, so look them up by identity first.  The entry holds
    # ``ft``, so its id cannot be reused while the entry exists.
    key = (id(ft), interpret)
    found = _BY_IDENTITY.get(key)
    if found is not None and found[0] is ft:
        return found[1]
    compiled = _compile_func(ft, interpret)
    if len(_BY_IDENTITY) >= _BY_IDENTITY_LIMIT:
        _BY_IDENTITY.clear()  # bounded: types of components long gone must not pile up
    _BY_IDENTITY[key] = (ft, compiled)
    return compiled


_BY_IDENTITY: dict[tuple[int, bool], tuple[FuncType, CompiledFunc]] = {}
_BY_IDENTITY_LIMIT = 4096


@cache
def _compile_func(ft: FuncType, interpret: bool) -> CompiledFunc:
    compiled = _build_func(ft, interpret)
    if not any(_uses_memory(t) for t in _signature_types(ft)):
        return compiled  # nothing is copied out of memory: no hostcall fuel to track
    return dataclasses.replace(
        compiled,
        lift_results=_refuelling(compiled.lift_results),
        lift_params=_refuelling(compiled.lift_params),
        lift_results_host=None
        if compiled.lift_results_host is None
        else _refuelling(compiled.lift_results_host),
    )


def _signature_types(ft: FuncType) -> tuple[ValType, ...]:
    return tuple(t for _, t in ft.params) + ((ft.result,) if ft.result is not None else ())


def _refuelling(lift: Callable[[LiftLowerContext, Sequence[Any]], Any]) -> Callable[[LiftLowerContext, Sequence[Any]], Any]:
    """``lift`` starting with a full tank of hostcall fuel (wasmtime refills it for every lift).

    A lifter marked ``refuels`` does it itself (one frame less on a hot path).
    """
    if getattr(lift, "refuels", False):
        return lift

    def lift_with_fuel(cx: LiftLowerContext, flat: Sequence[Any]) -> Any:
        cx.refuel()
        return lift(cx, flat)

    return lift_with_fuel


def _build_func(ft: FuncType, interpret: bool) -> CompiledFunc:
    param_types = tuple(t for _, t in ft.params)
    names = tuple(n for n, _ in ft.params)
    results = (ft.result,) if ft.result is not None else ()
    for t in param_types + results:
        _check_supported(t)
    params_spill = len(flatten_types(param_types)) > MAX_FLAT_PARAMS
    results_spill = len(flatten_types(results)) > MAX_FLAT_RESULTS
    if interpret:
        return _interpreted(param_types, names, results, params_spill, results_spill)
    lift_results = _make_lift_results(results, results_spill)
    return CompiledFunc(
        _make_lower_params(param_types, names, params_spill),
        lift_results,
        _make_lift_params(param_types, params_spill),
        _make_lower_results(results, results_spill),
        params_spill,
        results_spill,
        False,
        getattr(lift_results, "undetached", None),
    )


def _check_supported(t: ValType) -> None:
    match t:
        case PrimType(name="error-context"):
            unsupported_lift(t)
        case PrimType() | OwnType() | BorrowType() | EnumType() | FlagsType():
            return
        case ListType(element=elem):
            _check_supported(elem)
        case MapType(key=key, value=value):
            _check_supported(key)
            _check_supported(value)
        case RecordType(fields=fields):
            for _, ft in fields:
                _check_supported(ft)
        case TupleType(elements=elements):
            for et in elements:
                _check_supported(et)
        case VariantType() | OptionType() | ResultType():
            for c in case_types(t):
                if c is not None:
                    _check_supported(c)
        case _:
            unsupported_lift(t)


def _interpreted(
    param_types: tuple[ValType, ...],
    names: tuple[str, ...],
    results: tuple[ValType, ...],
    params_spill: bool,
    results_spill: bool,
) -> CompiledFunc:
    def lower_params(cx: LiftLowerContext, args: Sequence[Any]) -> list:
        return interp_lower.lower_flat_values(cx, MAX_FLAT_PARAMS, list(args), param_types, names=names)

    @detaching
    def lift_results(cx: LiftLowerContext, flat: Sequence[Any]) -> Any:
        values = interp_lift.lift_flat_values(cx, MAX_FLAT_RESULTS, interp_lift.CoreValueIter(flat), results)
        return values[0] if values else None

    def lift_params(cx: LiftLowerContext, flat: Sequence[Any]) -> list:
        vi = interp_lift.CoreValueIter(flat)
        return interp_lift.lift_flat_values(cx, MAX_FLAT_PARAMS, vi, param_types, "param")

    def lower_results(cx: LiftLowerContext, value: Any, flat_args: Sequence[Any]) -> list:
        if not results:
            return []
        out_param = flat_args[-1] if results_spill else None
        return interp_lower.lower_flat_values(cx, MAX_FLAT_RESULTS, [value], results, out_param)

    return CompiledFunc(lower_params, lift_results, lift_params, lower_results, params_spill, results_spill, True)


# ------------------------------------------------------------ signatures


def _make_lower_params(
    types: tuple[ValType, ...], names: tuple[str, ...], spill: bool
) -> Callable[[LiftLowerContext, Sequence[Any]], list]:
    """Spec ``lower_flat_values`` with ``MAX_FLAT_PARAMS`` and no out-param."""
    wheres = tuple(f"parameter `{n}`" for n in names)
    if spill:
        tuple_type = TupleType(types)
        size, align = elem_size(tuple_type), alignment(tuple_type)
        storers = tuple(zip(wheres, (_storer(t) for t in types), field_offsets(types), strict=False))

        def store_params(cx: LiftLowerContext, mv: memoryview, args: Sequence[Any], ptr: int) -> list:
            for (where, st, off), v in zip(storers, args, strict=False):
                try:
                    mv = st(cx, mv, v, ptr + off)
                except (TypeError, ValueError) as err:
                    raise prefix_error(err, where) from None
            return [ptr]

        def lower_params_spilled(cx: LiftLowerContext, args: Sequence[Any]) -> list:
            ptr, mv = cx.allocate(align, size, "tuple")
            return store_params(cx, mv, args, ptr)

        if all(isinstance(t, PrimType) and t.name in _INT_CODE for t in types):
            return _spilled_ints_lowerer(types, align, size, store_params)
        return lower_params_spilled
    lowerers = tuple(zip(wheres, (_flat_lowerer(t, flatten_type(t)) for t in types), strict=False))
    if len(lowerers) == 1:
        ((where0, low0),) = lowerers

        def lower_param(cx: LiftLowerContext, args: Sequence[Any]) -> list:
            out: list = []
            try:
                low0(cx, args[0], out)
            except (TypeError, ValueError) as err:
                raise prefix_error(err, where0) from None
            return out

        (t0,) = types
        if t0 == STRING:
            return string_param_lowerer(where0)
        if isinstance(t0, (VariantType, OptionType, ResultType)):
            fast = variant_param_lowerer(t0, flatten_type(t0), where0, lower_param)
            if fast is not None:
                return fast
        return lower_param

    def lower_params(cx: LiftLowerContext, args: Sequence[Any]) -> list:
        out: list = []
        for (where, low), v in zip(lowerers, args, strict=False):
            try:
                low(cx, v, out)
            except (TypeError, ValueError) as err:
                raise prefix_error(err, where) from None
        return out

    return lower_params


def _spilled_ints_lowerer(
    types: tuple[ValType, ...],
    align: int,
    size: int,
    store_params: Callable[[LiftLowerContext, memoryview, Sequence[Any], int], list],
) -> Callable[[LiftLowerContext, Sequence[Any]], list]:
    """Spilled integer parameters: one range test per value, then one ``struct`` pack.

    Generated code; when any value fails its inline test, ``store_params``
    (the per-parameter storers) stores them in order and raises the precise
    error, so memory and errors are exactly those of the general path.
    """
    fmt = "<"
    pos = 0
    tests = []
    for i, (t, off) in enumerate(zip(types, field_offsets(types), strict=True)):
        name = t.name  # type: ignore[union-attr]
        fmt += "x" * (off - pos) + _INT_CODE[name]
        pos = off + _INT_SIZE[name]
        lo, hi = INTEGER_RANGES[name]
        tests.append(f"type(a{i}) is int and {lo} <= a{i} <= {hi}")
    names = "".join(f"a{i}, " for i in range(len(types)))
    lines = [
        "def lower_params_spilled(cx, args):",
        f"    ptr, mv = cx.allocate({align}, {size}, 'tuple')",
        f"    {names}= args",
        f"    if {' and '.join(tests)}:",
        f"        pack(mv, ptr, {names})",
        "        return [ptr]",
        "    return store_params(cx, mv, args, ptr)",
    ]
    env: dict[str, Any] = {"pack": struct.Struct(fmt).pack_into, "store_params": store_params}
    exec(compile("\n".join(lines) + "\n", "<lower_params_spilled>", "exec"), env)
    lower: Callable[[LiftLowerContext, Sequence[Any]], list] = env["lower_params_spilled"]
    return lower


def _uses_memory(t: ValType) -> bool:
    match t:
        case PrimType(name="string"):
            return True
        case ListType(length=None) | MapType():
            return True
        case ListType(element=elem):
            return _uses_memory(elem)
        case RecordType(fields=fields):
            return any(_uses_memory(ft) for _, ft in fields)
        case TupleType(elements=elements):
            return any(_uses_memory(et) for et in elements)
        case VariantType() | OptionType() | ResultType():
            return any(c is not None and _uses_memory(c) for c in case_types(t))
    return False


def _make_lift_results(results: tuple[ValType, ...], spill: bool) -> Callable[[LiftLowerContext, Sequence[Any]], Any]:
    """Spec ``lift_flat_values`` with ``MAX_FLAT_RESULTS`` (returned pointer when spilled)."""
    if not results:
        return lambda cx, flat: None
    (t,) = results
    if spill:
        size, align = elem_size(t), alignment(t)
        load = _loader(t)

        if t == STRING:
            return _detaching(lift_string_result)

        def lift_results_spilled(cx: LiftLowerContext, flat: Sequence[Any]) -> Any:
            # cx.refuel(), then cx.check_pointer(flat[0], size, align, "result") with one memory query
            source = cx.fuel_source
            cx.fuel = None if source is None or cx.fused else source.hostcall_fuel
            mv = cx.memory.view()  # type: ignore[union-attr]
            ptr = flat[0] & M32
            if ptr % align:
                cx.trap("result-align", align=align)
            if ptr + size > len(mv):
                cx.trap("result-bounds")
            return load(cx, mv, ptr)

        lift_results_spilled.refuels = True  # type: ignore[attr-defined]
        return _detaching(lift_results_spilled) if _uses_memory(t) else lift_results_spilled
    lift = _flat_lifter(t, 0, flatten_type(t))
    if _uses_memory(t):
        return _detaching(lambda cx, flat: lift(cx, cx.view(), flat))
    return lambda cx, flat: lift(cx, None, flat)


def _detaching(lift: Callable[[LiftLowerContext, Sequence[Any]], Any]) -> Callable[[LiftLowerContext, Sequence[Any]], Any]:
    """``refs.detaching(lift)``, remembering ``lift`` for host calls (``CompiledFunc.lift_results_host``)."""
    wrapped = detaching(lift)
    wrapped.undetached = lift  # type: ignore[attr-defined]
    return wrapped


def _make_lift_params(types: tuple[ValType, ...], spill: bool) -> Callable[[LiftLowerContext, Sequence[Any]], list]:
    """Spec ``lift_flat_values`` with ``MAX_FLAT_PARAMS`` (pointer to spilled params)."""
    if spill:
        tuple_type = TupleType(types)
        size, align = elem_size(tuple_type), alignment(tuple_type)
        loaders = tuple(zip((_loader(t) for t in types), field_offsets(types), strict=False))

        def lift_params_spilled(cx: LiftLowerContext, flat: Sequence[Any]) -> list:
            ptr = cx.check_pointer(flat[0], size, align, "param")
            mv = cx.view()
            return [load(cx, mv, ptr + off) for load, off in loaders]

        return lift_params_spilled
    lifters = []
    offset = 0
    for t in types:
        flat_t = flatten_type(t)
        lifters.append(_flat_lifter(t, offset, flat_t))
        offset += len(flat_t)
    lifters_t = tuple(lifters)
    needs_memory = any(_uses_memory(t) for t in types)

    def lift_params(cx: LiftLowerContext, flat: Sequence[Any]) -> list:
        mv = cx.view() if needs_memory else None
        return [lift(cx, mv, flat) for lift in lifters_t]

    return lift_params


def _make_lower_results(
    results: tuple[ValType, ...], spill: bool
) -> Callable[[LiftLowerContext, Any, Sequence[Any]], list]:
    """Spec ``lower_flat_values`` with ``MAX_FLAT_RESULTS`` (out-pointer when spilled)."""
    if not results:
        return lambda cx, value, flat_args: []
    (t,) = results
    if spill:
        size, align = elem_size(t), alignment(t)
        st = _storer(t)

        def lower_results_spilled(cx: LiftLowerContext, value: Any, flat_args: Sequence[Any]) -> list:
            ptr = cx.check_pointer(flat_args[-1], size, align, "param")
            st(cx, cx.view(), value, ptr)
            return []

        return lower_results_spilled
    low = _flat_lowerer(t, flatten_type(t))

    def lower_results(cx: LiftLowerContext, value: Any, flat_args: Sequence[Any]) -> list:
        out: list = []
        low(cx, value, out)
        return out

    return lower_results


# ------------------------------------------------------------ flat lifting


def _new_record(fields: dict[str, Any]) -> Record:
    rec = Record.__new__(Record)
    rec.__dict__.update(fields)
    return rec


def _flat_lifter(t: ValType, o: int, haves: tuple[str, ...]) -> FlatLifter:
    """Spec ``lift_flat`` for ``t`` whose flat values start at slot ``o``.

    ``haves`` are the core types actually in those slots (they differ from
    ``flatten_type(t)`` inside a variant payload, spec ``CoerceValueIter``).
    """
    match t:
        case PrimType(name="bool"):
            return lambda cx, mv, flat: (flat[o] & M32) != 0
        case PrimType(name="u8" | "u16" | "u32" | "u64" as name):
            mask = (1 << (8 * _INT_SIZE[name])) - 1
            return lambda cx, mv, flat: flat[o] & mask
        case PrimType(name="s8" | "s16" | "s32" | "s64" as name):
            bits = 8 * _INT_SIZE[name]
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
            parts = tuple(_flat_lifter(elem, o + i * n, haves[i * n : (i + 1) * n]) for i in range(length))
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
    unsupported_lift(t)


_INT_SIZE = {"u8": 1, "s8": 1, "u16": 2, "s16": 2, "u32": 4, "s32": 4, "u64": 8, "s64": 8}


def _sequence_lifters(types: list[ValType], o: int, haves: tuple[str, ...]) -> tuple[FlatLifter, ...]:
    out = []
    pos = 0
    for t in types:
        n = len(flatten_type(t))
        out.append(_flat_lifter(t, o + pos, haves[pos : pos + n]))
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
        None if c is None else _flat_lifter(c, o + 1, joined[: len(flatten_type(c))]) for c in cases
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


def _loader(t: ValType) -> Loader:
    """Spec ``load`` for ``t`` at an already validated pointer."""
    match t:
        case PrimType(name="bool"):
            return lambda cx, mv, ptr: mv[ptr] != 0
        case PrimType(name=name) if name in _INT_CODE or name in _FLOAT_CODE:
            unpack = struct.Struct("<" + (_INT_CODE.get(name) or _FLOAT_CODE[name])).unpack_from
            return lambda cx, mv, ptr: unpack(mv, ptr)[0]
        case PrimType(name="char"):
            unpack_u32 = struct.Struct("<I").unpack_from
            return lambda cx, mv, ptr: convert_i32_to_char(cx, unpack_u32(mv, ptr)[0])
        case PrimType(name="string"):
            unpack_pair = _PAIR.unpack_from

            def load_string_at(cx: LiftLowerContext, mv: memoryview, ptr: int) -> Any:
                begin, units = unpack_pair(mv, ptr)
                return load_string(cx, mv, begin, units)

            return load_string_at
        case ListType(element=elem, length=None):
            load_list = _list_loader(elem)
            unpack_pair = _PAIR.unpack_from

            def load_list_at(cx: LiftLowerContext, mv: memoryview, ptr: int) -> Any:
                begin, length = unpack_pair(mv, ptr)
                return load_list(cx, mv, begin, length)

            return load_list_at
        case ListType(element=elem, length=length):
            assert length is not None
            return _elements_loader(elem, length)
        case MapType():
            load_map = _map_loader(t)
            unpack_map = _PAIR.unpack_from

            def load_map_at(cx: LiftLowerContext, mv: memoryview, ptr: int) -> Any:
                begin, length = unpack_map(mv, ptr)
                return load_map(cx, mv, begin, length)

            return load_map_at
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
    unsupported_lift(t)


def _elements_loader(elem: ValType, length: int) -> Loader:
    """``length`` consecutive elements at a validated pointer (a fixed-length list)."""
    bulk = _bulk_unpacker(elem)
    if bulk is not None:
        return lambda cx, mv, ptr: bulk(cx, mv, ptr, length)
    size = elem_size(elem)
    load = _loader(elem)
    return lambda cx, mv, ptr: [load(cx, mv, ptr + i * size) for i in range(length)]


def _bulk_unpacker(elem: ValType) -> Callable[[LiftLowerContext, memoryview, int, int], Any] | None:
    """One-shot readers of ``n`` numbers/bytes/bools/chars starting at ``ptr``."""
    if elem == U8:
        return lambda cx, mv, ptr, n: bytes(mv[ptr : ptr + n])
    if isinstance(elem, PrimType):
        name = elem.name
        code = _INT_CODE.get(name) or _FLOAT_CODE.get(name)
        if code is not None and code in _NATIVE_CODES:
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
    load = _loader(elem)

    def load_list(cx: LiftLowerContext, mv: memoryview, ptr: int, length: int) -> Any:
        ptr = check_list_range(cx, len(mv), ptr, length, size, align)
        return [load(cx, mv, ptr + i * size) for i in range(length & M32)]

    return load_list


def _map_loader(t: MapType) -> Callable[[LiftLowerContext, memoryview, int, int], Any]:
    """Spec ``load_list_from_range`` of ``list<tuple<k, v>>``: a ``dict``, or pairs when fused."""
    entry = map_entry_type(t)
    size = elem_size(entry)
    align = alignment(entry)
    load_entry = _loader(entry)

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
            code = _INT_CODE.get(t.name) or _FLOAT_CODE.get(t.name) or ("B" if t.name == "bool" else None)
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
            env[f"load{i}"] = _loader(t)
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
    exec(compile("\n".join(lines) + "\n", "<load_record>", "exec"), env)
    loader: Loader = env["load_record"]
    return loader


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
    return variant_loader(t, _loader)


# ------------------------------------------------------------ flat lowering


def _flat_lowerer(t: ValType, wants: tuple[str, ...]) -> FlatLowerer:
    """Spec ``lower_flat`` appending to ``out``; ``wants`` are the slot types to produce.

    ``wants`` differs from ``flatten_type(t)`` inside a variant payload (the
    joined types), where floats are bit-cast (spec ``lower_flat_variant``).
    """
    match t:
        case PrimType(name="bool"):
            return lambda cx, v, out: out.append(int(check_bool(v)))
        case PrimType(name=name) if name in _INT_CODE:
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
            parts = tuple(_flat_lowerer(elem, wants[i * n : (i + 1) * n]) for i in range(length))

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
    unsupported_lower(t)


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
        out.append(_flat_lowerer(t, wants[pos : pos + n]))
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
            plan.append((name, _flat_lowerer(c, joined[:n]), zeros[n:]))
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


def _storer(t: ValType) -> Storer:
    """Spec ``store`` at a validated pointer; returns the (possibly refreshed) view."""
    match t:
        case PrimType(name="bool"):

            def store_bool(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                mv[ptr] = int(check_bool(v))
                return mv

            return store_bool
        case PrimType(name=name) if name in _INT_CODE:
            pack = struct.Struct("<" + _INT_CODE[name]).pack_into
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
            pack_pair = _PAIR.pack_into

            def store_string_at(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                begin, units, mv = store_string_view(cx, v)
                pack_pair(mv, ptr, begin, units)
                return mv

            return store_string_at
        case ListType(element=elem, length=None):
            store_list_view = _list_storer_view(elem)
            pack_list = _PAIR.pack_into

            def store_list_at(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                begin, length, mv = store_list_view(cx, v)
                pack_list(mv, ptr, begin, length)
                return mv

            return store_list_at
        case MapType():
            store_map = _map_storer(t)
            pack_map = _PAIR.pack_into

            def store_map_at(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                begin, length = store_map(cx, v)
                mv = cx.view()
                pack_map(mv, ptr, begin, length)
                return mv

            return store_map_at
        case ListType(element=elem, length=length):
            assert length is not None
            store_elements = _elements_storer(elem)

            def store_fixed(cx: LiftLowerContext, mv: memoryview, v: Any, ptr: int) -> memoryview:
                return store_elements(cx, mv, check_list_value(v, elem, length), ptr)

            return store_fixed
        case RecordType(fields=fields):
            return _record_storer(fields)
        case TupleType(elements=elements):
            parts = tuple(zip((_storer(et) for et in elements), field_offsets(elements), strict=False))
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
    unsupported_lower(t)


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
        "pack_pair": _PAIR.pack_into,
    }
    lines = ["def store_record(cx, mv, v, ptr):"]
    for i, ((name, t), off) in enumerate(zip(fields, offsets, strict=True)):
        lines += [f"    f = get_field(v, {name!r})", "    try:"]
        if isinstance(t, PrimType) and t.name in _INT_CODE:
            lo, hi = INTEGER_RANGES[t.name]
            env[f"pack{i}"] = struct.Struct("<" + _INT_CODE[t.name]).pack_into
            env[f"store{i}"] = _storer(t)
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
            env[f"store{i}"] = _storer(t)
            lines.append(f"        mv = store{i}(cx, mv, f, ptr + {off})")
        lines += [
            "    except (TypeError, ValueError) as err:",
            f"        raise prefix_error(err, {f'field `{name}`'!r}) from None",
        ]
    lines.append("    return mv")
    exec(compile("\n".join(lines) + "\n", "<store_record>", "exec"), env)
    storer: Storer = env["store_record"]
    return storer


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
    plan = tuple((name, None if c is None else _storer(c)) for name, c in cases)

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


def _elements_storer(elem: ValType) -> Callable[[LiftLowerContext, memoryview, Any, int], memoryview]:
    """Store a checked sequence of elements at a validated pointer (spec ``store_list_into_valid_range``)."""
    size = elem_size(elem)
    st = _storer(elem)

    def store_each(cx: LiftLowerContext, mv: memoryview, items: Any, ptr: int) -> memoryview:
        for i, e in enumerate(items):
            try:
                mv = st(cx, mv, e, ptr + i * size)
            except (TypeError, ValueError) as err:
                raise prefix_error(err, f"list element {i}") from None
        return mv

    if elem == PrimType("string"):
        lines = [
            "def store_strings(cx, mv, items, ptr):",
            "    for i, item in enumerate(items):",
            "        try:",
            *("            " + line for line in store_string_lines("item")),
            "            pack_pair(mv, ptr + 8 * i, b, n)",
            "        except (TypeError, ValueError) as err:",
            "            raise prefix_error(err, f'list element {i}') from None",
            "    return mv",
        ]
        env: dict[str, Any] = {**string_env(), "pack_pair": _PAIR.pack_into, "prefix_error": prefix_error}
        exec(compile("\n".join(lines) + "\n", "<store_strings>", "exec"), env)
        store_strings: Callable[[LiftLowerContext, memoryview, Any, int], memoryview] = env["store_strings"]
        return store_strings
    if elem == U8:

        def store_bytes(cx: LiftLowerContext, mv: memoryview, items: Any, ptr: int) -> memoryview:
            mv[ptr : ptr + len(items)] = items
            return mv

        return store_bytes
    code = _INT_CODE.get(elem.name) if isinstance(elem, PrimType) else None
    if code is not None:

        def store_ints(cx: LiftLowerContext, mv: memoryview, items: Any, ptr: int) -> memoryview:
            try:
                struct.pack_into(f"<{len(items)}{code}", mv, ptr, *items)
            except struct.error:
                return store_each(cx, mv, items, ptr)  # raises the precise error
            return mv

        if code in _NATIVE_CODES:

            def store_int_array(cx: LiftLowerContext, mv: memoryview, items: Any, ptr: int) -> memoryview:
                try:
                    packed = memoryview(array(code, items)).cast("B")
                except (OverflowError, TypeError, ValueError):
                    return store_each(cx, mv, items, ptr)  # raises the precise error
                mv[ptr : ptr + len(packed)] = packed
                return mv

            return store_int_array
        return store_ints
    if isinstance(elem, PrimType) and elem.name in _FLOAT_CODE:
        fcode = _FLOAT_CODE[elem.name]

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
    store_elements = _elements_storer(elem)

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
    store_key = _storer(t.key)
    store_value = _storer(t.value)

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


# ------------------------------------------------------------ inline snippets
#
# The runtime generates one Python function per call path (exported ``Func``
# calls, lowered host imports).  For the common scalar types it inlines the
# checks and conversions below instead of calling the per-type closures; the
# closures stay the slow path that raises the precise error (or handles the
# rarer values such as a ``bool`` passed for an integer), so the generated
# code is value-for-value and error-for-error the same as the closures.

_SIMPLE_INT = frozenset(_INT_SIZE)


def is_inline_scalar(t: ValType | None) -> bool:
    """Whether ``t`` is one flat value handled inline (``bool``, integers, floats)."""
    return isinstance(t, PrimType) and (t.name == "bool" or t.name in _SIMPLE_INT or t.name in _FLOAT_CODE)


def inline_lower(t: ValType, var: str, slow: str) -> list[str]:
    """Source lines converting the Python value in ``var`` to its core value, in place.

    ``slow`` names a callable ``slow(value) -> core value`` (see
    :func:`flat_scalar_lowerer`) used for anything the fast test rejects.
    """
    assert isinstance(t, PrimType)
    name = t.name
    if name == "bool":
        return [
            f"if {var} is True: {var} = 1",
            f"elif {var} is False: {var} = 0",
            f"else: {var} = {slow}({var})",
        ]
    if name in _SIMPLE_INT:
        lo, hi = INTEGER_RANGES[name]
        # Negative values reach the core call as they are: ctypes stores the
        # low bits, the same as the closures' masking.
        return [f"if type({var}) is not int or not {lo} <= {var} <= {hi}: {var} = {slow}({var})"]
    if name == "f64":
        return [f"if type({var}) is not float: {var} = {slow}({var})"]
    return [f"{var} = {slow}({var})"]  # f32: rounding lives in the closure


def inline_lift(t: ValType, expr: str) -> str:
    """A Python expression lifting the signed core value ``expr`` (a plain name) of scalar ``t``."""
    assert isinstance(t, PrimType)
    name = t.name
    if name == "bool":
        return f"(({expr} & {M32}) != 0)"
    if name in _SIMPLE_INT:
        bits = 8 * _INT_SIZE[name]
        mask = (1 << bits) - 1
        if name[0] == "u":
            return f"({expr} & {mask})"
        if name in ("s32", "s64"):
            return expr  # the core value is already signed and of this width
        sign = 1 << (bits - 1)
        return f"((({expr} & {mask}) ^ {sign}) - {sign})"
    return f"float({expr})"  # f32/f64 arrive as floats in their own core type


def flat_scalar_lowerer(t: ValType, where: str | None) -> Callable[[Any], Any]:
    """``slow(value) -> core value`` for a one-slot type, errors prefixed with ``where``."""
    low = _flat_lowerer(t, flatten_type(t))

    def slow(value: Any) -> Any:
        out: list = []
        if where is None:
            low(None, value, out)  # type: ignore[arg-type]
            return out[0]
        try:
            low(None, value, out)  # type: ignore[arg-type]
        except (TypeError, ValueError) as err:
            raise prefix_error(err, where) from None
        return out[0]

    return slow
