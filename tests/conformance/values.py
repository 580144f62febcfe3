"""Component values: `json-from-wast` JSON <-> wasmtime-py's Python conventions.

`json-from-wast` writes a component value as ``{"type": T, "value": V}``:
integers as decimal strings, `f32`/`f64` as the decimal string of their bit
pattern, `char`/`string` as strings, `list`/`tuple` as arrays, `record` as
``[[name, value], ...]``, `variant` as ``{"case": c, "payload"?: v}``,
`enum` as a string, `option` as `null` or the payload, `result` as
``{"Ok": v|null}`` / ``{"Err": v|null}`` and `flags` as a list of names.

The Python side follows wasmtime-py 50: `bool`/`int`/`float`/`str`,
`bytes` for `list<u8>`, `list`, `tuple`, `Record` read by attribute,
`str` for enums, `set[str]` for flags, and option/result/variant either
untagged (the payload, or `None` for a payload-less case) when the Python
classes of their cases are disjoint, or `Variant(tag, payload)` otherwise.
Whether a variant-like type is tagged depends on its type, so conversion is
driven by the function's `FuncType` (`to_python`), and expected results are
converted the same way and compared structurally (`describe_mismatch`).

Types are recognised by class name (`U32`, `ListType`, ...) so both
`wasmtime.component` and `wasmcomponent` work.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

PRIMITIVE_KINDS = {
    "Bool": "bool", "S8": "s8", "U8": "u8", "S16": "s16", "U16": "u16",
    "S32": "s32", "U32": "u32", "S64": "s64", "U64": "u64",
    "F32": "f32", "F64": "f64", "Char": "char", "String": "string",
}
COMPOUND_KINDS = {
    "ListType": "list", "RecordType": "record", "TupleType": "tuple",
    "VariantType": "variant", "EnumType": "enum", "OptionType": "option",
    "ResultType": "result", "FlagsType": "flags", "OwnType": "own",
    "BorrowType": "borrow", "FutureType": "future", "StreamType": "stream",
    "ErrorContext": "error-context",
}
INT_RANGES = {
    "u8": (0, 2**8 - 1), "s8": (-(2**7), 2**7 - 1),
    "u16": (0, 2**16 - 1), "s16": (-(2**15), 2**15 - 1),
    "u32": (0, 2**32 - 1), "s32": (-(2**31), 2**31 - 1),
    "u64": (0, 2**64 - 1), "s64": (-(2**63), 2**63 - 1),
}


class ScriptValueError(ValueError):
    """A JSON value does not fit the type it is converted to."""


def type_kind(ty: Any) -> str:
    """The component type kind of a type object (`u32`, `list`, ...)."""
    for cls in type(ty).__mro__:
        kind = PRIMITIVE_KINDS.get(cls.__name__) or COMPOUND_KINDS.get(cls.__name__)
        if kind:
            return kind
    return type(ty).__name__


def variant_cases(ty: Any) -> list[tuple[str, Any]]:
    """`(name, payload type or None)` for variant, option and result types."""
    kind = type_kind(ty)
    if kind == "variant":
        return list(ty.cases)
    if kind == "option":
        return [("none", None), ("some", ty.payload)]
    if kind == "result":
        return [("ok", ty.ok), ("err", ty.err)]
    raise ScriptValueError(f"`{kind}` is not a variant-like type")


def python_classes(ty: Any) -> frozenset[str]:
    """Names of the Python classes values of `ty` are represented with."""
    kind = type_kind(ty)
    simple = {
        "bool": "bool", "f32": "float", "f64": "float", "char": "str",
        "string": "str", "record": "Record", "tuple": "tuple", "enum": "str",
        "flags": "set",
    }
    if kind in INT_RANGES:
        return frozenset({"int"})
    if kind in simple:
        return frozenset({simple[kind]})
    if kind == "list":
        return frozenset({"bytes" if type_kind(ty.element) == "u8" else "list"})
    if kind in ("own", "borrow"):
        return frozenset({"ResourceAny", "ResourceHost"})
    if kind in ("variant", "option", "result"):
        if is_tagged(ty):
            return frozenset({"Variant"})
        out: set[str] = set()
        for _, payload in variant_cases(ty):
            out |= {"object"} if payload is None else python_classes(payload)
        return frozenset(out)
    return frozenset({kind})


def is_tagged(ty: Any) -> bool:
    """Whether values of a variant-like type are wrapped in `Variant`."""
    seen: set[str] = set()
    for _, payload in variant_cases(ty):
        classes = {"object"} if payload is None else set(python_classes(payload))
        if classes & seen:
            return True
        seen |= classes
    return False


def _bits_to_float(kind: str, bits: int) -> float:
    if kind == "f32":
        return float(struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0])
    return float(struct.unpack("<d", struct.pack("<Q", bits & 0xFFFFFFFFFFFFFFFF))[0])


def to_python(value: Any, ty: Any, api: Any) -> Any:
    """Convert a JSON component value to the Python value of type `ty`.

    `api` provides `Record` and `Variant`.  Raises `ScriptValueError` when the JSON
    value's type differs from `ty` (e.g. a `u32` for an `s32` result).
    """
    if not isinstance(value, dict) or "type" not in value:
        raise ScriptValueError(f"malformed JSON value {value!r}")
    jtype = value["type"]
    kind = type_kind(ty)
    if jtype != kind:
        raise ScriptValueError(f"expected a value of type `{kind}`, script gives `{jtype}`")
    raw = value.get("value")
    converter = _CONVERTERS.get(kind)
    if converter is None:
        raise ScriptValueError(f"values of type `{kind}` cannot be written in a script")
    return converter(raw, ty, api)


def _int(raw: Any, ty: Any, api: Any) -> int:
    kind = type_kind(ty)
    try:
        number = int(raw)
    except (TypeError, ValueError) as exc:
        raise ScriptValueError(f"bad integer {raw!r}") from exc
    low, high = INT_RANGES[kind]
    if not low <= number <= high:
        raise ScriptValueError(f"{number} out of range for `{kind}`")
    return number


def _float(raw: Any, ty: Any, api: Any) -> float:
    try:
        bits = int(raw)
    except (TypeError, ValueError) as exc:
        raise ScriptValueError(f"bad float bit pattern {raw!r}") from exc
    return _bits_to_float(type_kind(ty), bits)


def _bool(raw: Any, ty: Any, api: Any) -> bool:
    if not isinstance(raw, bool):
        raise ScriptValueError(f"bad bool {raw!r}")
    return raw


def _str(raw: Any, ty: Any, api: Any) -> str:
    if not isinstance(raw, str):
        raise ScriptValueError(f"bad string {raw!r}")
    return raw


def _list(raw: Any, ty: Any, api: Any) -> Any:
    if not isinstance(raw, list):
        raise ScriptValueError(f"bad list {raw!r}")
    items = [to_python(item, ty.element, api) for item in raw]
    return bytes(items) if type_kind(ty.element) == "u8" else items


def _tuple(raw: Any, ty: Any, api: Any) -> tuple[Any, ...]:
    elements = list(ty.elements)
    if not isinstance(raw, list) or len(raw) != len(elements):
        raise ScriptValueError(f"bad {len(elements)}-tuple {raw!r}")
    return tuple(to_python(item, t, api) for item, t in zip(raw, elements, strict=True))


def _record(raw: Any, ty: Any, api: Any) -> Any:
    fields = list(ty.fields)
    if not isinstance(raw, list) or not all(
        isinstance(pair, list) and len(pair) == 2 for pair in raw
    ):
        raise ScriptValueError(f"bad record {raw!r}")
    given = {str(name): item for name, item in raw}
    if sorted(given) != sorted(name for name, _ in fields):
        raise ScriptValueError(
            f"record fields {sorted(given)} differ from {[name for name, _ in fields]}"
        )
    record = api.Record()
    for name, field_ty in fields:
        setattr(record, name, to_python(given[name], field_ty, api))
    return record


def _case(ty: Any, tag: str, payload: Any, api: Any) -> Any:
    for name, payload_ty in variant_cases(ty):
        if name != tag:
            continue
        if (payload_ty is None) != (payload is None):
            raise ScriptValueError(f"case `{tag}` payload presence differs from its type")
        value = None if payload_ty is None else to_python(payload, payload_ty, api)
        return api.Variant(tag, value) if is_tagged(ty) else value
    raise ScriptValueError(f"no case `{tag}` in {[n for n, _ in variant_cases(ty)]}")


def _variant(raw: Any, ty: Any, api: Any) -> Any:
    if not isinstance(raw, dict) or not isinstance(raw.get("case"), str):
        raise ScriptValueError(f"bad variant {raw!r}")
    return _case(ty, raw["case"], raw.get("payload"), api)


def _option(raw: Any, ty: Any, api: Any) -> Any:
    return _case(ty, "none", None, api) if raw is None else _case(ty, "some", raw, api)


def _result(raw: Any, ty: Any, api: Any) -> Any:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ScriptValueError(f"bad result {raw!r}")
    (tag, payload), = raw.items()
    if tag not in ("Ok", "Err"):
        raise ScriptValueError(f"bad result tag {tag!r}")
    return _case(ty, tag.lower(), payload, api)


def _enum(raw: Any, ty: Any, api: Any) -> str:
    if not isinstance(raw, str) or raw not in list(ty.names):
        raise ScriptValueError(f"bad enum case {raw!r}")
    return raw


def _flags(raw: Any, ty: Any, api: Any) -> set[str]:
    names = set(ty.names)
    if not isinstance(raw, list) or not all(isinstance(n, str) and n in names for n in raw):
        raise ScriptValueError(f"bad flags {raw!r}")
    return set(raw)


_CONVERTERS: dict[str, Callable[[Any, Any, Any], Any]] = {
    **{kind: _int for kind in INT_RANGES},
    "f32": _float, "f64": _float, "bool": _bool, "char": _str, "string": _str,
    "list": _list, "tuple": _tuple, "record": _record, "variant": _variant,
    "option": _option, "result": _result, "enum": _enum, "flags": _flags,
}


def _class_name(value: Any) -> str:
    return type(value).__name__


def describe_mismatch(expected: Any, actual: Any, path: str = "result") -> str | None:
    """`None` if `actual` equals `expected` (structurally), else a description.

    Floats compare by value with NaN equal to NaN and the sign of zero
    significant; records compare their attribute sets; `Variant` compares
    class name, tag and payload; `bool` never equals `int`.
    """
    if expected is None or actual is None:
        return None if expected is actual else f"{path}: expected {expected!r}, got {actual!r}"
    exp_cls, act_cls = _class_name(expected), _class_name(actual)
    if exp_cls != act_cls and not (
        isinstance(expected, (list, tuple, bytes, set)) and type(expected) is type(actual)
    ):
        return f"{path}: expected {exp_cls} {expected!r}, got {act_cls} {actual!r}"
    if isinstance(expected, float):
        if math.isnan(expected) and math.isnan(actual):
            return None
        if expected == actual and math.copysign(1.0, expected) == math.copysign(1.0, actual):
            return None
        return f"{path}: expected {expected!r}, got {actual!r}"
    if isinstance(expected, (list, tuple)):
        if len(expected) != len(actual):
            return f"{path}: expected {len(expected)} elements, got {len(actual)}"
        for index, (exp, act) in enumerate(zip(expected, actual, strict=True)):
            problem = describe_mismatch(exp, act, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if exp_cls == "Record":
        exp_fields, act_fields = vars(expected), vars(actual)
        if sorted(exp_fields) != sorted(act_fields):
            return f"{path}: expected fields {sorted(exp_fields)}, got {sorted(act_fields)}"
        for name, exp in exp_fields.items():
            problem = describe_mismatch(exp, act_fields[name], f"{path}.{name}")
            if problem:
                return problem
        return None
    if exp_cls == "Variant":
        if getattr(expected, "tag", None) != getattr(actual, "tag", None):
            return f"{path}: expected case `{expected.tag}`, got `{actual.tag}`"
        return describe_mismatch(
            getattr(expected, "payload", None), getattr(actual, "payload", None),
            f"{path}<{expected.tag}>",
        )
    if expected != actual:
        return f"{path}: expected {expected!r}, got {actual!r}"
    return None
