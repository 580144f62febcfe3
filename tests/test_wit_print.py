"""WIT printing of the type model (wasmcomponent.wit_print)."""

from __future__ import annotations

import tracemalloc

import pytest

from wasmcomponent.types import model as m
from wasmcomponent.wit_print import (
    MAX_TYPE_CHARS,
    Scope,
    function_signatures,
    ident,
    wit_component,
    wit_func,
    wit_type,
)

POINT = m.RecordType((("x", m.S32), ("y", m.S32)))


@pytest.mark.parametrize(
    ("ty", "text"),
    [
        (m.U8, "u8"),
        (m.ListType(m.U8), "list<u8>"),
        (m.ListType(m.U8, 4), "list<u8, 4>"),
        (m.TupleType((m.STRING, m.CHAR)), "tuple<string, char>"),
        (m.OptionType(m.OptionType(m.BOOL)), "option<option<bool>>"),
        (m.ResultType(None, None), "result"),
        (m.ResultType(m.U32, None), "result<u32>"),
        (m.ResultType(None, m.STRING), "result<_, string>"),
        (m.ResultType(m.U32, m.STRING), "result<u32, string>"),
        (m.StreamType(None), "stream"),
        (m.FutureType(m.U8), "future<u8>"),
        (m.MapType(m.STRING, m.U32), "map<string, u32>"),
        (POINT, "record { x: s32, y: s32 }"),
        (m.VariantType((("a", m.U8), ("b", None))), "variant { a(u8), b }"),
        (m.EnumType(("red", "type")), "enum { red, %type }"),
        (m.FlagsType(("read", "write")), "flags { read, write }"),
    ],
)
def test_value_types(ty: m.ValType, text: str) -> None:
    assert wit_type(ty) == text


def test_keywords_are_escaped() -> None:
    assert ident("record") == "%record" and ident("in") == "in"
    ft = m.FuncType((("type", m.U8), ("list", m.STRING)), None)
    assert wit_func(ft) == "func(%type: u8, %list: string)"


def test_async_functions() -> None:
    assert wit_func(m.FuncType((), m.U8, is_async=True)) == "async func() -> u8"


def test_named_types_in_scope_and_resources() -> None:
    blob = m.ResourceIdentity("declared-name")
    scope = Scope.of({"point": m.TypeBound(eq=POINT), "blob": m.TypeBound(resource=blob)})
    ft = m.FuncType((("p", m.RecordType((("x", m.S32), ("y", m.S32)))), ("b", m.BorrowType(blob))), m.OwnType(blob))
    assert wit_func(ft, scope) == "func(p: point, b: borrow<blob>) -> blob"
    # Without the scope: inline structure, and the resource's declared name.
    assert wit_func(ft) == "func(p: record { x: s32, y: s32 }, b: borrow<declared-name>) -> declared-name"


def test_aliases_are_defined_but_not_substituted() -> None:
    iface = m.InstanceType({"duration": m.TypeBound(eq=m.U64), "now": m.FuncType((), m.U64)})
    assert wit_component(m.ComponentType({"c:d/clock": iface}, {})) == (
        "import c:d/clock: interface {\n  type duration = u64;\n  now: func() -> u64;\n}"
    )


def test_resource_blocks_and_use_between_interfaces() -> None:
    pollable = m.ResourceIdentity("pollable")
    stream = m.ResourceIdentity("stream")
    error = m.VariantType((("closed", None), ("failed", m.STRING)))
    poll = m.InstanceType(
        {
            "pollable": m.TypeBound(resource=pollable),
            "[method]pollable.ready": m.FuncType((("self", m.BorrowType(pollable)),), m.BOOL),
            "poll": m.FuncType((("in", m.ListType(m.BorrowType(pollable))),), m.ListType(m.U32)),
        }
    )
    streams = m.InstanceType(
        {
            "pollable": m.TypeBound(resource=pollable),
            "error": m.TypeBound(eq=error),
            "reader": m.TypeBound(resource=stream),
            "[constructor]reader": m.FuncType((("size", m.U32),), m.OwnType(stream)),
            "[method]reader.read": m.FuncType(
                (("self", m.BorrowType(stream)), ("n", m.U64)), m.ResultType(m.ListType(m.U8), error)
            ),
            "[method]reader.subscribe": m.FuncType((("self", m.BorrowType(stream)),), m.OwnType(pollable)),
            "[static]reader.empty": m.FuncType((), m.OwnType(stream)),
        }
    )
    other = m.InstanceType({"error": m.TypeBound(eq=error), "p": m.TypeBound(resource=pollable)})
    ty = m.ComponentType({"w:io/poll": poll, "w:io/streams": streams}, {"w:io/other": other})
    assert wit_component(ty) == "\n".join(
        [
            "import w:io/poll: interface {",
            "  resource pollable {",
            "    ready: func() -> bool;",
            "  }",
            "  poll: func(in: list<borrow<pollable>>) -> list<u32>;",
            "}",
            "import w:io/streams: interface {",
            "  use w:io/poll.{pollable};",
            "  variant error { closed, failed(string) }",
            "  resource reader {",
            "    constructor(size: u32);",
            "    read: func(n: u64) -> result<list<u8>, error>;",
            "    subscribe: func() -> pollable;",
            "    empty: static func() -> reader;",
            "  }",
            "}",
            "export w:io/other: interface {",
            "  use w:io/streams.{error};",
            "  use w:io/poll.{pollable as p};",
            "}",
        ]
    )


def test_world_level_functions_use_interface_types() -> None:
    """A world-level function whose types an imported interface names gets a `use` line before it."""
    shapes = m.InstanceType({"point": m.TypeBound(eq=POINT), "origin": m.FuncType((), POINT)})
    ty = m.ComponentType({"a:b/shapes": shapes, "log": m.FuncType((("at", POINT),), None)}, {})
    assert wit_component(ty).splitlines()[-2:] == ["use a:b/shapes.{point};", "import log: func(at: point);"]


def test_long_definitions_take_one_line_per_member() -> None:
    names = tuple(f"case-number-{i}" for i in range(12))
    text = wit_component(m.ComponentType({}, {"i:j/k": m.InstanceType({"big": m.TypeBound(eq=m.EnumType(names))})}))
    lines = text.splitlines()
    assert lines[1] == "  enum big {" and lines[2] == "    case-number-0," and lines[-2] == "  }"


def test_nested_components_modules_and_values() -> None:
    inner = m.ComponentType({"f": m.FuncType((), None)}, {"g": m.FuncType((), m.U8)})
    core = m.CoreModuleType((("env", "f", m.CoreExternType("func", m.CoreFuncType(("i32",), ("i64",)))),), ())
    ty = m.ComponentType({"c": inner, "m": core}, {"v": m.STRING})
    assert wit_component(ty).splitlines() == [
        "import c: component {",
        "  import f: func();",
        "  export g: func() -> u8;",
        "}",
        "import m: core module {",
        '  (import "env" "f" (func (param i32) (result i64)))',
        "}",
        "export v: value<string>;",
    ]


def test_function_signatures_for_invoke_listings() -> None:
    blob = m.ResourceIdentity("blob")
    iface = m.InstanceType(
        {
            "blob": m.TypeBound(resource=blob),
            "[method]blob.size": m.FuncType((("self", m.BorrowType(blob)),), m.U32),
            "make": m.FuncType((), m.OwnType(blob)),
            "nested": m.InstanceType({"deep": m.FuncType((), None)}),
        }
    )
    ty = m.ComponentType({}, {"top": m.FuncType((), None), "a:b/c": iface})
    assert list(function_signatures(ty)) == [
        ("top", "func()"),
        ("a:b/c#make", "func() -> blob"),
        ("a:b/c#nested#deep", "func()"),
    ]


def _doubling(levels: int) -> m.ValType:
    ty: m.ValType = m.U8
    for _ in range(levels):
        ty = m.TupleType((ty, ty))  # shared: 2**levels leaves once expanded
    return ty


def test_exponential_types_are_printed_in_bounded_time_and_memory() -> None:
    """A DAG whose expansion has 2**60 leaves: the text stops at MAX_TYPE_CHARS, and the names lookup stays linear.

    Finishing at all shows the work is not proportional to the expansion; memory is measured.
    """
    ty = _doubling(60)
    scope = Scope.of({"p": m.TypeBound(eq=POINT)})
    tracemalloc.start()
    try:
        text = wit_func(m.FuncType((("x", ty),), ty), scope)
        component = wit_component(m.ComponentType({}, {"i:j/k": m.InstanceType({"t": m.TypeBound(eq=ty)})}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert text.endswith("...") and len(text) <= MAX_TYPE_CHARS + 20
    assert component.endswith("...;\n}")
    assert peak < 20 * 1024 * 1024


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    ty: m.ValType = m.U8
    for _ in range(5000):
        ty = m.OptionType(ty)
    text = wit_type(ty)
    assert text.startswith("option<option<") and "..." in text
