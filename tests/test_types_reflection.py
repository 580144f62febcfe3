"""Public type reflection: model -> view conversion, and parity with wasmtime-py's reflection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import wasmtime
import wasmtime.component as wc

from wasmcomponent.runtime import types as t
from wasmcomponent.runtime.resources import ResourceType
from wasmcomponent.types import model as m

POINT = m.RecordType((("x", m.S32), ("y-coord", m.F64)))
SHAPE = m.VariantType((("none-yet", None), ("circle", m.F32), ("poly", m.ListType(POINT))))

PRIMITIVES = [
    (m.BOOL, t.Bool),
    (m.S8, t.S8),
    (m.U8, t.U8),
    (m.S16, t.S16),
    (m.U16, t.U16),
    (m.S32, t.S32),
    (m.U32, t.U32),
    (m.S64, t.S64),
    (m.U64, t.U64),
    (m.F32, t.F32),
    (m.F64, t.F64),
    (m.CHAR, t.Char),
    (m.STRING, t.String),
    (m.ERROR_CONTEXT, t.ErrorContext),
]

COMPOUND = [
    m.ListType(m.U8),
    m.ListType(m.STRING, 3),
    POINT,
    m.TupleType((m.U8, m.STRING)),
    SHAPE,
    m.EnumType(("red", "green")),
    m.OptionType(POINT),
    m.ResultType(m.U32, None),
    m.ResultType(None, None),
    m.FlagsType(("read", "write")),
    m.StreamType(m.U8),
    m.StreamType(None),
    m.FutureType(m.STRING),
    m.MapType(m.STRING, m.U32),
]


# ------------------------------------------------------------- value types


@pytest.mark.parametrize(("node", "cls"), PRIMITIVES)
def test_primitives(node: m.PrimType, cls: type) -> None:
    view = t.valtype_from_model(node)
    assert type(view) is cls
    assert isinstance(view, t.ValType)
    assert view == cls() and hash(view) == hash(cls())
    assert t.valtype_to_model(view) == node
    assert repr(view) == f"{cls.__name__}()"
    others = [c for _, c in PRIMITIVES if c is not cls]
    assert all(view != other() for other in others)


@pytest.mark.parametrize("node", COMPOUND, ids=lambda n: type(n).__name__)
def test_compound_views_round_trip_and_compare_structurally(node: m.ValType) -> None:
    view = t.valtype_from_model(node)
    assert t.valtype_to_model(view) == node
    again = t.valtype_from_model(node)
    assert view == again and hash(view) == hash(again)
    assert view is not again
    assert all(view != t.valtype_from_model(other) for other in COMPOUND if other != node)
    assert view != t.U8()
    with pytest.raises(wasmtime.WasmtimeError, match="Cannot directly construct"):
        type(view)()
    with pytest.raises(AttributeError):
        view._node = m.U8  # type: ignore[misc]


def test_compound_properties() -> None:
    lst = t.valtype_from_model(m.ListType(m.ListType(m.U8)))
    assert isinstance(lst, t.ListType)
    assert lst.element == t.valtype_from_model(m.ListType(m.U8))
    assert isinstance(lst.element, t.ListType) and lst.element.element == t.U8()

    rec = t.valtype_from_model(POINT)
    assert isinstance(rec, t.RecordType)
    assert rec.fields == [("x", t.S32()), ("y-coord", t.F64())]

    tup = t.valtype_from_model(m.TupleType((m.U8, m.STRING)))
    assert isinstance(tup, t.TupleType)
    assert tup.elements == [t.U8(), t.String()]

    var = t.valtype_from_model(SHAPE)
    assert isinstance(var, t.VariantType)
    assert [name for name, _ in var.cases] == ["none-yet", "circle", "poly"]
    assert var.cases[0][1] is None and var.cases[1][1] == t.F32()
    poly = var.cases[2][1]
    assert isinstance(poly, t.ListType) and poly.element == rec

    enum = t.valtype_from_model(m.EnumType(("red", "green")))
    assert isinstance(enum, t.EnumType)
    assert enum.names == ["red", "green"] and enum.names_count == 2
    assert enum.name(1) == "green" and enum.name(2) is None and enum.name(-1) is None

    opt = t.valtype_from_model(m.OptionType(m.CHAR))
    assert isinstance(opt, t.OptionType) and opt.payload == t.Char()

    res = t.valtype_from_model(m.ResultType(m.U32, None))
    assert isinstance(res, t.ResultType) and res.ok == t.U32() and res.err is None
    bare = t.valtype_from_model(m.ResultType(None, None))
    assert isinstance(bare, t.ResultType) and bare.ok is None and bare.err is None
    assert [name for name, _ in bare._cases()] == ["ok", "err"]

    flags = t.valtype_from_model(m.FlagsType(("read", "write")))
    assert isinstance(flags, t.FlagsType) and flags.names == ["read", "write"]

    stream = t.valtype_from_model(m.StreamType(m.U8))
    assert isinstance(stream, t.StreamType) and stream.payload == t.U8()
    future = t.valtype_from_model(m.FutureType(None))
    assert isinstance(future, t.FutureType) and future.payload is None

    mapping = t.valtype_from_model(m.MapType(m.STRING, m.U32))
    assert isinstance(mapping, t.MapType)
    assert (mapping.key, mapping.value) == (t.String(), t.U32())


def test_views_are_usable_as_dict_keys() -> None:
    table = {t.valtype_from_model(node): index for index, node in enumerate(COMPOUND)}
    assert table[t.valtype_from_model(POINT)] == COMPOUND.index(POINT)


def test_handles_expose_the_resource_type() -> None:
    identity = m.ResourceIdentity("file")
    own = t.valtype_from_model(m.OwnType(identity))
    borrow = t.valtype_from_model(m.BorrowType(identity))
    assert isinstance(own, t.OwnType) and isinstance(borrow, t.BorrowType)
    assert isinstance(own.ty, ResourceType)
    assert own.ty == borrow.ty
    assert own != borrow
    assert own == t.valtype_from_model(m.OwnType(identity))
    assert own != t.valtype_from_model(m.OwnType(m.ResourceIdentity("file")))
    assert t.valtype_to_model(own) == m.OwnType(identity)
    assert t.valtype_to_model(borrow) == m.BorrowType(identity)
    # Built directly, as wasmtime-py allows: host resource types compare by key.
    assert t.OwnType(ResourceType.host(1)) == t.OwnType(ResourceType.host(1))
    assert t.OwnType(ResourceType.host(1)) != t.OwnType(ResourceType.host(2))
    assert hash(t.BorrowType(ResourceType.host(3))) == hash(t.BorrowType(ResourceType.host(3)))


def test_valtype_to_model_rejects_other_objects() -> None:
    with pytest.raises(TypeError):
        t.valtype_to_model("u8")  # type: ignore[arg-type]


# ---------------------------------------------------------- function types


def test_functype() -> None:
    node = m.FuncType((("name", m.STRING), ("p", POINT)), m.OptionType(m.U8))
    ft = t.functype_from_model(node)
    assert ft.params == [("name", t.String()), ("p", t.valtype_from_model(POINT))]
    assert ft.result == t.valtype_from_model(m.OptionType(m.U8))
    assert ft._model is node
    assert t.functype_from_model(m.FuncType((), None)).result is None
    with pytest.raises(wasmtime.WasmtimeError, match="Cannot directly construct a `FuncType`"):
        t.FuncType()


# ---------------------------------------------------------- component items


def _component_model() -> m.ComponentType:
    instance = m.InstanceType({"g": m.FuncType((("x", m.U32),), m.U32)})
    module = m.CoreModuleType(
        imports=(("env", "f", m.CoreExternType("func", m.CoreFuncType(("i32", "i64"), ("f32",)))),),
        exports=(("memory", m.CoreExternType("memory")),),
    )
    resource = m.ResourceIdentity("res")
    return m.ComponentType(
        imports={
            "point": m.TypeBound(eq=POINT),
            "res": m.TypeBound(resource=resource),
            "f": m.FuncType((), None),
            "wasi:cli/run@0.2.3": instance,
            "m": module,
        },
        exports={"nested": m.ComponentType({}, {"h": m.FuncType((), m.U8)})},
    )


def test_component_type_from_model() -> None:
    data = {"wasi:cli/run@0.2.3": t.ExternData(implements="wasi:cli/run@0.2.3", external_id="x")}
    ct = t.component_type_from_model(_component_model(), import_data=data)
    engine = wasmtime.Engine()
    imports = ct.imports(engine)
    assert list(imports) == ["point", "res", "f", "wasi:cli/run@0.2.3", "m"]
    assert all(isinstance(e, t.ComponentExtern) for e in imports.values())
    assert imports["point"].ty == t.valtype_from_model(POINT)
    assert isinstance(imports["res"].ty, ResourceType)
    assert isinstance(imports["f"].ty, t.FuncType)

    inst = imports["wasi:cli/run@0.2.3"]
    assert isinstance(inst.ty, t.ComponentInstanceType)
    g = inst.ty.exports(engine)["g"].ty
    assert isinstance(g, t.FuncType) and g.result == t.U32()
    assert inst.implements == "wasi:cli/run@0.2.3" and inst.external_id == "x"
    assert imports["f"].implements is None and imports["f"].external_id is None

    module = imports["m"].ty
    assert isinstance(module, t.ModuleType)
    (imp,) = module.imports(engine)
    assert (imp.module, imp.name) == ("env", "f")
    assert isinstance(imp.type, wasmtime.FuncType)
    assert [str(v) for v in imp.type.params] == ["i32", "i64"]
    assert [str(v) for v in imp.type.results] == ["f32"]
    (exp,) = module.exports(engine)
    assert exp.name == "memory" and exp.type == m.CoreExternType("memory")

    nested = ct.exports(engine)["nested"].ty
    assert isinstance(nested, t.ComponentType)
    assert isinstance(nested.exports(engine)["h"].ty, t.FuncType)
    assert nested.imports(engine) == {}

    for cls in (t.ComponentType, t.ComponentInstanceType, t.ModuleType, t.ComponentExtern):
        with pytest.raises(wasmtime.WasmtimeError, match="Cannot directly construct"):
            cls()


@pytest.mark.parametrize(
    ("implements", "name", "expected"),
    [
        ("a:b/c", "a:b/c", True),
        ("a:b/c", "a:b/d", False),
        ("a:b/c@1.1.0", "a:b/c@1.0.0", True),
        ("a:b/c@1.1.0", "a:b/c@1.9.3", True),
        ("a:b/c@1.1.0", "a:b/c@2.0.0", False),
        ("a:b/c@1.1.0+build", "a:b/c@1.0.0", True),
        ("a:b/c@0.2.1", "a:b/c@0.2.9", True),
        ("a:b/c@0.2.1", "a:b/c@0.3.0", False),
        ("a:b/c@0.0.1", "a:b/c@0.0.2", False),
        ("a:b/c@0.0.1", "a:b/c@0.0.1", True),
        ("a:b/c@1.0.0-rc.1", "a:b/c@1.0.0", False),
        ("a:b/c@1.0.0", "a:b/c", False),
        ("a:b/c@1.0", "a:b/c@1.0.0", False),
        (None, "a:b/c", False),
    ],
)
def test_is_implements(implements: str | None, name: str, expected: bool) -> None:
    extern = t.ComponentExtern._from_model(m.U8, t.ExternData(implements=implements))
    assert extern.is_implements(name) is expected


# ------------------------------------------------------ parity with wasmtime

REFLECTION_WAT = """
(component
  (type $point (record (field "x" s32) (field "y-coord" f64)))
  (import "point" (type $p (eq $point)))
  (type $shape (variant (case "none-yet") (case "circle" f32) (case "poly" (list $p))))
  (import "shape" (type $s (eq $shape)))
  (type $color (enum "red" "green"))
  (import "color" (type $c (eq $color)))
  (type $perm (flags "read" "write"))
  (import "perm" (type $f (eq $perm)))
  (import "res" (type $res (sub resource)))
  (import "prims" (func (param "a" bool) (param "b" u8) (param "c" s8) (param "d" u16)
    (param "e" s16) (param "f" u32) (param "g" s32) (param "h" u64) (param "i" s64)
    (param "j" f32) (param "k" f64) (param "l" char) (param "m" string)))
  (import "compound" (func (param "t" (tuple u8 string)) (param "o" (option $p))
    (param "r" (result u32 (error string))) (param "r2" (result)) (param "s" $s)
    (param "c" $c) (param "f" $f) (result (list (list u8)))))
  (import "handles" (func (param "o" (own $res)) (param "b" (borrow $res)) (result (own $res))))
  (import "nothing" (func))
  (import "iface" (instance (export "g" (func (param "x" u32) (result u32)))))
)
"""


def shape(item: Any, engine: wasmtime.Engine) -> Any:
    """A comparable picture of a reflection object, read through public attributes only."""
    kind = type(item).__name__
    if kind in ("ComponentType", "ComponentInstanceType"):
        parts = {"exports": {n: shape(e.ty, engine) for n, e in item.exports(engine).items()}}
        if kind == "ComponentType":
            parts["imports"] = {n: shape(e.ty, engine) for n, e in item.imports(engine).items()}
        return (kind, parts)
    if kind == "FuncType":
        params = [(n, shape(ty, engine)) for n, ty in item.params]
        return (kind, params, None if item.result is None else shape(item.result, engine))
    if kind == "ResourceType":
        return kind
    if kind == "ListType":
        return (kind, shape(item.element, engine))
    if kind == "RecordType":
        return (kind, [(n, shape(ty, engine)) for n, ty in item.fields])
    if kind == "TupleType":
        return (kind, [shape(ty, engine) for ty in item.elements])
    if kind == "VariantType":
        return (kind, [(n, None if ty is None else shape(ty, engine)) for n, ty in item.cases])
    if kind == "EnumType":
        return (kind, item.names, item.names_count, item.name(0), item.name(99))
    if kind == "OptionType":
        return (kind, shape(item.payload, engine))
    if kind == "ResultType":
        ok, err = item.ok, item.err
        return (kind, ok and shape(ok, engine), err and shape(err, engine))
    if kind == "FlagsType":
        return (kind, item.names)
    if kind in ("OwnType", "BorrowType"):
        return (kind, type(item.ty).__name__)
    return kind


def _our_component_class() -> Any:
    try:
        from wasmcomponent import Component
    except ImportError:
        pytest.skip("wasmcomponent.Component is not available yet")
    return Component


EQ_TYPE_IMPORTS = ("point", "shape", "color", "perm")


def test_reflection_matches_wasmtime() -> None:
    component_cls = _our_component_class()
    engine = wasmtime.Engine()
    theirs = shape(wc.Component(engine, REFLECTION_WAT).type, engine)
    ours = shape(component_cls(engine, REFLECTION_WAT).type, engine)
    for name in EQ_TYPE_IMPORTS:  # see the next test
        ours[1]["imports"].pop(name, None)
    assert ours == theirs


def test_type_imports_with_eq_bounds_are_not_listed() -> None:
    """Wasmtime erases `(import "x" (type (eq T)))`: only `sub resource` type imports remain."""
    component_cls = _our_component_class()
    engine = wasmtime.Engine()
    for component in (wc.Component(engine, REFLECTION_WAT), component_cls(engine, REFLECTION_WAT)):
        names = list(component.type.imports(engine))
        assert names == ["res", "prims", "compound", "handles", "nothing", "iface"]


def test_reflected_equality_matches_wasmtime() -> None:
    component_cls = _our_component_class()
    engine = wasmtime.Engine()
    for component in (wc.Component(engine, REFLECTION_WAT), component_cls(engine, REFLECTION_WAT)):
        imports = component.type.imports(engine)
        first = imports["compound"].ty.params
        second = imports["compound"].ty.params
        assert [ty for _, ty in first] == [ty for _, ty in second]
        assert first[0][1] != first[1][1]
        handles = imports["handles"].ty
        assert handles.params[0][1].ty == handles.params[1][1].ty
        assert handles.params[0][1] == handles.result


def test_hello_example_function_type() -> None:
    component_cls = _our_component_class()
    engine = wasmtime.Engine()
    path = Path(__file__).resolve().parent.parent / "examples" / "hello.wat"
    exports = component_cls.from_file(engine, str(path)).type.exports(engine)
    greet = exports["greet"].ty
    assert isinstance(greet, t.FuncType)
    assert greet.params == [("name", t.String())] and greet.result == t.String()


def test_exported_instance_and_component_types_reflect_as_such() -> None:
    # Found by fuzz/fuzz_components.py: a type export bound to an instance or
    # component type is reflected like wasmtime does, not as a value type.
    import wasmtime

    from wasmcomponent import Component, ComponentInstanceType, ComponentType

    engine = wasmtime.Engine()
    nested = Component(
        engine,
        '(component (type (instance (type (instance (export "r" (type (sub resource)))))'
        ' (export "t" (instance (type 0))))) (export "x" (type 0)))',
    )
    assert isinstance(nested.type.exports(engine)["x"].ty, ComponentInstanceType)
    component = Component(engine, '(component (type (component)) (export "x" (type 0)))')
    assert isinstance(component.type.exports(engine)["x"].ty, ComponentType)
