"""WAVE parser and writer: fixed examples, error offsets, and property round trips."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wasmcomponent.types import model as m
from wasmcomponent.types.values import Record, Variant, is_tagged, python_classes
from wasmcomponent.wave import (
    MAX_DEPTH,
    WaveError,
    format_value,
    parse_call,
    parse_call_name,
    parse_value,
)

POINT = m.RecordType((("x", m.S32), ("y-coord", m.S32)))
MAYBE_FIELDS = m.RecordType((("must-have", m.U8), ("optional", m.OptionType(m.U8))))
ALL_OPTIONAL = m.RecordType((("optional", m.OptionType(m.U8)),))
RESPONSE = m.VariantType((("empty", None), ("body", m.ListType(m.U8)), ("err", m.STRING)))
NUMBER = m.VariantType((("small", m.U8), ("big", m.U64), ("unknown", None)))
STATUS = m.EnumType(("ok", "not-found"))
PERMS = m.FlagsType(("read", "write", "exec"))


# ----------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "ty", "expected"),
    [
        ("true", m.BOOL, True),
        (" false ", m.BOOL, False),
        ("123", m.U32, 123),
        ("-9", m.S8, -9),
        ("-128", m.S8, -128),
        ("18446744073709551615", m.U64, 2**64 - 1),
        ("-0", m.S32, 0),
        ("3.25", m.F64, 3.25),
        ("6.022e+23", m.F64, 6.022e23),
        ("-inf", m.F64, -math.inf),
        ("inf", m.F32, math.inf),
        ("7", m.F64, 7.0),
        ("'x'", m.CHAR, "x"),
        ("'☃'", m.CHAR, "☃"),
        ("'\\''", m.CHAR, "'"),
        ("'\\u{0}'", m.CHAR, "\0"),
        ("'\\u{1F600}'", m.CHAR, "\U0001f600"),
        ('"abc\\t123"', m.STRING, "abc\t123"),
        ('"q\\"\\\\\\n\\r"', m.STRING, 'q"\\\n\r'),
        ('""', m.STRING, ""),
        ('("abc", 123)', m.TupleType((m.STRING, m.U8)), ("abc", 123)),
        ("(1,)", m.TupleType((m.U8,)), (1,)),
        ("[]", m.ListType(m.CHAR), []),
        ("['a', 'b', 'c',]", m.ListType(m.CHAR), ["a", "b", "c"]),
        ("[79, 75]", m.ListType(m.U8), b"OK"),
        ("[1, 2]", m.ListType(m.U16, 2), [1, 2]),
        ("empty", RESPONSE, None),
        ("body([79, 75])", RESPONSE, b"OK"),
        ('%err("oops")', RESPONSE, "oops"),
        ("small(1)", NUMBER, Variant("small", 1)),
        ("unknown", NUMBER, Variant("unknown", None)),
        ("%ok", STATUS, "ok"),
        ("not-found", STATUS, "not-found"),
        ("123", m.OptionType(m.U8), 123),
        ("some(123)", m.OptionType(m.U8), 123),
        ("none", m.OptionType(m.U8), None),
        ("some(none)", m.OptionType(m.OptionType(m.U8)), Variant("some", None)),
        ("some(some(1))", m.OptionType(m.OptionType(m.U8)), Variant("some", 1)),
        ("none", m.OptionType(m.OptionType(m.U8)), Variant("none", None)),
        ("123", m.ResultType(m.U8, None), 123),
        ("ok(123)", m.ResultType(m.U8, None), 123),
        ("err", m.ResultType(m.U8, None), None),
        ('err("oops")', m.ResultType(None, m.STRING), "oops"),
        ("ok", m.ResultType(None, None), Variant("ok", None)),
        ("err", m.ResultType(None, None), Variant("err", None)),
        ('ok("a")', m.ResultType(m.STRING, m.STRING), Variant("ok", "a")),
        ("{write, read,}", PERMS, {"read", "write"}),
        ("{}", PERMS, set()),
        ("{%read}", PERMS, {"read"}),
        ("// a comment\n  [1, // one\n 2]", m.ListType(m.U8), b"\x01\x02"),
    ],
)
def test_parse_examples(text: str, ty: m.ValType, expected: Any) -> None:
    value = parse_value(text, ty)
    assert value == expected
    assert type(value) is type(expected)


def test_parse_records() -> None:
    point = parse_value("{y-coord: -2, x: 1}", POINT)
    assert isinstance(point, Record)
    assert (point.x, getattr(point, "y-coord")) == (1, -2)
    assert parse_value("{must-have: 123}", MAYBE_FIELDS) == parse_value(
        "{must-have: 123, optional: none,}", MAYBE_FIELDS
    )
    assert parse_value("{must-have: 1}", MAYBE_FIELDS).optional is None
    assert parse_value("{:}", ALL_OPTIONAL).optional is None
    assert parse_value("{%optional: 4}", ALL_OPTIONAL).optional == 4


def test_parse_nan() -> None:
    assert math.isnan(parse_value("nan", m.F64))
    assert math.isnan(parse_value("nan", m.F32))


def test_f32_values_are_rounded_to_single_precision() -> None:
    value = parse_value("0.1", m.F32)
    assert value == struct.unpack("<f", struct.pack("<f", 0.1))[0]
    assert parse_value("1e39", m.F32) == math.inf
    assert parse_value("-1e39", m.F32) == -math.inf


def test_multiline_strings() -> None:
    assert parse_value('"""\nA single line\n"""', m.STRING) == "A single line"
    text = '"""\n    Indentation determined\n      by ending delimiter\n  """'
    assert parse_value(text, m.STRING) == "  Indentation determined\n    by ending delimiter"
    text = '"""\r\n  Escaped CR: \\r\r\n  Quotes: ""\\""\r\n  """'
    assert parse_value(text, m.STRING) == 'Escaped CR: \r\nQuotes: """"'
    assert parse_value('"""\n"""', m.STRING) == ""
    assert parse_value('"""\n\n"""', m.STRING) == ""
    assert parse_value('"""\n\n\n"""', m.STRING) == "\n"


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("text", "ty", "offset", "fragment"),
    [
        ("[1, 2, x]", m.ListType(m.U32), 7, "expected an integer"),
        ("300", m.U8, 0, "out of range"),
        ("-1", m.U32, 0, "out of range"),
        ("1.5", m.U32, 0, "expected an integer"),
        ("1 2", m.U32, 2, "after the value"),
        ("[1 2]", m.ListType(m.U32), 3, "expected `,` or `]`"),
        ("[1,", m.ListType(m.U32), 3, "end of input"),
        ("007", m.U32, 0, "invalid number"),
        ("12abc", m.U32, 0, "invalid number"),
        ("'ab'", m.CHAR, 0, "exactly one character"),
        ("''", m.CHAR, 0, "invalid character literal"),
        ("'\\u{D800}'", m.CHAR, 1, "not a Unicode scalar value"),
        ('"a\\qb"', m.STRING, 2, "invalid escape"),
        ('"abc', m.STRING, 0, "unterminated string"),
        ('"a\nb"', m.STRING, 0, "unterminated string"),
        ("{x: 1}", POINT, 0, "missing field `y-coord`"),
        ("{x: 1, x: 2, y-coord: 3}", POINT, 7, "duplicate field"),
        ("{x: 1, z: 2}", POINT, 7, "unknown field `z`"),
        ("{}", ALL_OPTIONAL, 0, "{:}"),
        ("{read, read}", PERMS, 7, "duplicate flag"),
        ("{fly}", PERMS, 1, "unknown flag"),
        ("err", RESPONSE, 0, "write `%err`"),
        ("ok", STATUS, 0, "write `%ok`"),
        ("gone", RESPONSE, 0, "unknown case `gone`"),
        ("body", RESPONSE, 0, "needs a payload"),
        ("empty(1)", RESPONSE, 5, "has no payload"),
        ("5", m.OptionType(m.OptionType(m.U8)), 0, "expected `some` or `none`"),
        ("5", m.ResultType(None, m.U8), 0, "expected `ok` or `err`"),
        ("(1, 2)", m.TupleType((m.U8,)), 4, "too many tuple elements"),
        ("(1)", m.TupleType((m.U8, m.U8)), 0, "expected a tuple of 2"),
        ("[1]", m.ListType(m.U8, 2), 0, "expected a list of 2"),
        ("Abc", STATUS, 0, "invalid label"),
        ("a--b", STATUS, 0, "invalid label"),
        ("maybe", m.BOOL, 0, "expected `true` or `false`"),
        ("%true", m.BOOL, 0, "expected `true` or `false`"),
        ("  @", m.U8, 2, "unexpected character"),
        ('"""abc\n"""', m.STRING, 0, "line break"),
        ('"""\nabc\n  x"""', m.STRING, 11, "own line"),
        ('"""\n x\n  """', m.STRING, 4, "indented less"),
        ("5", m.OwnType(m.ResourceIdentity("r")), 0, "no WAVE form"),
    ],
)
def test_errors_carry_offsets(text: str, ty: m.ValType, offset: int, fragment: str) -> None:
    with pytest.raises(WaveError) as info:
        parse_value(text, ty)
    assert info.value.offset == offset
    assert fragment in str(info.value)
    assert f"(at offset {offset})" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_nesting_limit() -> None:
    ty: m.ValType = m.BOOL
    for _ in range(MAX_DEPTH + 5):
        ty = m.ListType(ty)
    text = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    with pytest.raises(WaveError, match="nesting too deep") as info:
        parse_value(text, ty)
    assert info.value.offset == MAX_DEPTH
    shallow: m.ValType = m.BOOL
    for _ in range(MAX_DEPTH):
        shallow = m.ListType(shallow)
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    expected: list[Any] = []
    for _ in range(MAX_DEPTH - 1):
        expected = [expected]
    assert parse_value(text, shallow) == expected
    assert format_value(expected, shallow) == text


# ------------------------------------------------------------------ writing


@pytest.mark.parametrize(
    ("value", "ty", "expected"),
    [
        (True, m.BOOL, "true"),
        (-5, m.S64, "-5"),
        (1.5, m.F64, "1.5"),
        (math.nan, m.F64, "nan"),
        (-math.inf, m.F32, "-inf"),
        (struct.unpack("<f", struct.pack("<f", 0.1))[0], m.F32, "0.1"),
        ("'", m.CHAR, "'\\''"),
        ("\x07", m.CHAR, "'\\u{7}'"),
        ('a"b\\c\n\t', m.STRING, '"a\\"b\\\\c\\n\\t"'),
        (b"OK", m.ListType(m.U8), "[79, 75]"),
        ([1, 2], m.ListType(m.U32), "[1, 2]"),
        ((1, "a"), m.TupleType((m.U8, m.STRING)), '(1, "a")'),
        (Record(x=1, **{"y-coord": 2}), POINT, "{x: 1, y-coord: 2}"),
        (Record(**{"must-have": 1, "optional": None}), MAYBE_FIELDS, "{must-have: 1}"),
        (Record(optional=None), ALL_OPTIONAL, "{:}"),
        ("oops", RESPONSE, '%err("oops")'),
        (None, RESPONSE, "empty"),
        (b"", RESPONSE, "body([])"),
        (Variant("big", 7), NUMBER, "big(7)"),
        (Variant("unknown"), NUMBER, "unknown"),
        ("ok", STATUS, "%ok"),
        (None, m.OptionType(m.U8), "none"),
        (3, m.OptionType(m.U8), "some(3)"),
        (Variant("some", None), m.OptionType(m.OptionType(m.U8)), "some(none)"),
        ("bad", m.ResultType(m.U8, m.STRING), 'err("bad")'),
        (Variant("ok"), m.ResultType(None, None), "ok"),
        ({"exec", "read"}, PERMS, "{read, exec}"),
        (frozenset(), PERMS, "{}"),
    ],
)
def test_format_examples(value: Any, ty: m.ValType, expected: str) -> None:
    assert format_value(value, ty) == expected


@pytest.mark.parametrize(
    ("value", "ty", "error"),
    [
        (1, m.BOOL, TypeError),
        (256, m.U8, ValueError),
        (1, m.F64, TypeError),
        ("ab", m.CHAR, TypeError),
        ([1], m.ListType(m.U8), TypeError),
        ((1,), m.TupleType((m.U8, m.U8)), TypeError),
        (Record(x=1), POINT, TypeError),
        ("nope", STATUS, ValueError),
        ({"fly"}, PERMS, ValueError),
        (Variant("gone"), NUMBER, ValueError),
        (7, NUMBER, TypeError),
        (Variant("err", "x"), RESPONSE, TypeError),
        ("x", m.OptionType(m.U8), TypeError),
    ],
)
def test_format_rejects_ill_typed_values(value: Any, ty: m.ValType, error: type) -> None:
    with pytest.raises(error):
        format_value(value, ty)


# ------------------------------------------------------------------- calls


GREET = m.FuncType((("name", m.STRING),), m.STRING)
OPTIONALS = m.FuncType(
    (("a", m.OptionType(m.U8)), ("b", m.OptionType(m.U8)), ("c", m.OptionType(m.U8))), None
)


def test_parse_call() -> None:
    assert parse_call('greet("world")', GREET) == ("greet", ["world"])
    assert parse_call(' greet ( "x" , ) ', GREET) == ("greet", ["x"])
    assert parse_call("f(some(1))", OPTIONALS) == ("f", [1, None, None])
    assert parse_call("f(1, none, 3)", OPTIONALS) == ("f", [1, None, 3])
    assert parse_call("f()", OPTIONALS) == ("f", [None, None, None])
    assert parse_call_name('a:b/c@1.0.0#run("x")') == "a:b/c@1.0.0#run"


@pytest.mark.parametrize(
    ("text", "offset", "fragment"),
    [
        ("greet", 5, "expected `(`"),
        ('("x")', 0, "missing function name"),
        ('gr eet("x")', 2, "invalid character"),
        ("greet()", 7, "missing argument `name`"),
        ('greet("a", "b")', 11, "too many arguments"),
        ('greet("a") x', 11, "after the value"),
        ("greet(5)", 6, "expected a string"),
    ],
)
def test_parse_call_errors(text: str, offset: int, fragment: str) -> None:
    with pytest.raises(WaveError) as info:
        parse_call(text, GREET)
    assert info.value.offset == offset
    assert fragment in str(info.value)


# ----------------------------------------------------------- round trips

LABELS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9]{0,4}(-[a-z0-9]{1,3}){0,2}", fullmatch=True),
    st.from_regex(r"[A-Z][A-Z0-9]{0,3}(-[a-z0-9]{1,3})?", fullmatch=True),
    st.sampled_from(["ok", "err", "some", "none", "true", "false", "inf", "nan"]),
)
NAMES = st.lists(LABELS, min_size=1, max_size=4, unique=True).map(tuple)

PRIMS = st.sampled_from(
    [m.BOOL, m.S8, m.U8, m.S16, m.U16, m.S32, m.U32, m.S64, m.U64, m.F32, m.F64, m.CHAR, m.STRING]
)


def _compound(inner: st.SearchStrategy[m.ValType]) -> st.SearchStrategy[m.ValType]:
    maybe = st.one_of(st.none(), inner)
    return st.one_of(
        inner.map(m.ListType),
        st.lists(inner, min_size=1, max_size=3).map(lambda ts: m.TupleType(tuple(ts))),
        NAMES.flatmap(
            lambda names: st.tuples(*[inner for _ in names]).map(
                lambda ts: m.RecordType(tuple(zip(names, ts, strict=True)))
            )
        ),
        NAMES.flatmap(
            lambda names: st.tuples(*[maybe for _ in names]).map(
                lambda ts: m.VariantType(tuple(zip(names, ts, strict=True)))
            )
        ),
        NAMES.map(m.EnumType),
        NAMES.map(m.FlagsType),
        inner.map(m.OptionType),
        st.tuples(maybe, maybe).map(lambda oe: m.ResultType(*oe)),
    )


def _children(ty: m.ValType) -> list[m.ValType]:
    if isinstance(ty, m.ListType):
        return [ty.element]
    if isinstance(ty, m.TupleType):
        return list(ty.elements)
    if isinstance(ty, m.RecordType):
        return [t for _, t in ty.fields]
    if isinstance(ty, (m.VariantType, m.OptionType, m.ResultType)):
        return [t for _, t in ty.cases() if t is not None]
    return []


def unambiguous(ty: m.ValType) -> bool:
    """False if an untagged case accepts every object (wasmtime-py then picks it for any value).

    E.g. ``variant { a(option<bool>), b(result) }`` is untagged, but ``a``'s
    classes include ``object``, so a ``b`` value is mistaken for an ``a``.
    """
    if isinstance(ty, (m.VariantType, m.OptionType, m.ResultType)) and not is_tagged(ty):
        for _, payload in ty.cases():
            if payload is not None and object in python_classes(payload):
                return False
    return all(unambiguous(child) for child in _children(ty))


TYPES = st.recursive(PRIMS, _compound, max_leaves=8).filter(unambiguous)

SCALARS = st.characters(exclude_categories=("Cs",))


def _case(ty: Any, tag: str, payload: Any) -> Any:
    return Variant(tag, payload) if is_tagged(ty) else payload


def values_of(ty: m.ValType) -> st.SearchStrategy[Any]:
    """Python values of ``ty`` in wasmtime-py's conventions (no NaN: it is never equal)."""
    if isinstance(ty, m.PrimType):
        if ty.name == "bool":
            return st.booleans()
        if ty.name in m.INTEGER_RANGES:
            low, high = m.INTEGER_RANGES[ty.name]
            return st.integers(low, high)
        if ty.name == "f32":
            return st.floats(width=32, allow_nan=False)
        if ty.name == "f64":
            return st.floats(allow_nan=False)
        if ty.name == "char":
            return SCALARS
        return st.text(SCALARS, max_size=8)
    if isinstance(ty, m.ListType):
        if ty.element == m.U8:
            return st.binary(max_size=6)
        return st.lists(values_of(ty.element), max_size=3)
    if isinstance(ty, m.TupleType):
        return st.tuples(*[values_of(t) for t in ty.elements])
    if isinstance(ty, m.RecordType):
        fields = {name: values_of(t) for name, t in ty.fields}
        return st.fixed_dictionaries(fields).map(lambda d: Record(**d))
    if isinstance(ty, m.EnumType):
        return st.sampled_from(ty.names)
    if isinstance(ty, m.FlagsType):
        return st.sets(st.sampled_from(ty.names))
    assert isinstance(ty, (m.VariantType, m.OptionType, m.ResultType))
    options = [
        st.just(_case(ty, tag, None))
        if payload is None
        else values_of(payload).map(lambda v, tag=tag: _case(ty, tag, v))
        for tag, payload in ty.cases()
    ]
    return st.one_of(*options)


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[m.ValType, Any]:
    ty = draw(TYPES)
    return ty, draw(values_of(ty))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_values())
def test_round_trip(case: tuple[m.ValType, Any]) -> None:
    ty, value = case
    text = format_value(value, ty)
    parsed = parse_value(text, ty)
    assert format_value(parsed, ty) == text
    assert parsed == value


@settings(max_examples=100, deadline=None)
@given(st.floats(width=32))
def test_f32_text_is_shortest_round_trip(value: float) -> None:
    text = format_value(value, m.F32)
    parsed = parse_value(text, m.F32)
    assert math.isnan(value) and math.isnan(parsed) or parsed == value
    assert len(text) <= len(repr(value)) + 1
