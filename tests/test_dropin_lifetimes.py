"""Object lifetimes as in wasmtime-py 50: ``close()``, ``with``, and use after close.

Every scenario runs the same code against `wasmtime.component` and
`wasmcomponent` and checks both against one expected table, so a row that
wasmtime-py 50 disagrees with fails too.  Outcomes are written as:

* ``"ok"``: the step returned;
* ``"closed"``: ``ValueError`` whose message contains "already closed"
  (wasmcomponent may prefix a position, e.g. "parameter `x`: ");
* ``"locked"``: ``WasmtimeError`` "... in use by other instances";
* ``"wasmtime: <text>"``: another ``WasmtimeError`` containing ``<text>``;
* ``"AttributeError"``: the object has no such method (``Instance``, ``Func``,
  primitive types and handles have no ``close`` in wasmtime-py either).

Documented divergence (not compared): closed type views raise
``ValueError`` from ``hash()``, since our views are hashable and
wasmtime-py's are not.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import pytest
import wasmtime
from wasmtime import Engine, Store, WasmtimeError

BACKENDS = ("wasmtime.component", "wasmcomponent")

WAT = """(component
  (import "t" (type $t (sub resource)))
  (import "f" (func $f (param "x" u32) (result u32)))
  (core module $m
    (func (export "id") (param i32) (result i32) local.get 0)
    (func (export "drop") (param i32)))
  (core instance $i (instantiate $m))
  (func (export "id") (param "x" u32) (result u32) (canon lift (core func $i "id")))
  (func (export "take") (param "x" (own $t)) (canon lift (core func $i "drop")))
  (core module $n)
  (instance $x (export "m" (core module $n)))
  (export "x" (instance $x))
  (type $l (list u8))
  (export "l" (type $l))
)"""

# A host-type resource dropped by the guest (its destructor counts calls).
DROPPER = """(component
  (import "t" (type $t (sub resource)))
  (core func $drop (canon resource.drop $t))
  (core module $a
    (import "" "drop" (func $drop (param i32)))
    (func (export "drop") (param i32) local.get 0 call $drop))
  (core instance $a (instantiate $a (with "" (instance (export "drop" (func $drop))))))
  (func (export "drop") (param "x" (own $t)) (canon lift (core func $a "drop")))
)"""


def outcome(step: Callable[[], Any]) -> str:
    """Run ``step`` and classify what happened (see the module docstring)."""
    try:
        step()
    except ValueError as err:
        return "closed" if "already closed" in str(err) else f"ValueError: {err}"
    except WasmtimeError as err:
        text = str(err).splitlines()[0]
        return "locked" if "in use by other instances" in text else f"wasmtime: {text}"
    except AttributeError:
        return "AttributeError"
    return "ok"


def linker_for(cm: ModuleType, engine: Engine, ty: Any = None) -> Any:
    """A linker defining `WAT`'s imports (resource `t` is host type 1)."""
    linker = cm.Linker(engine)
    with linker.root() as root:
        root.add_resource("t", ty if ty is not None else cm.ResourceType.host(1), lambda s, rep: None)
        root.add_func("f", lambda s, x: x)
    return linker


# -------------------------------------------------------------------- scenarios
# Each returns {step: outcome}; EXPECTED holds what wasmtime-py 50 does.


def component_scenario(cm: ModuleType, engine: Engine) -> dict[str, str]:
    out: dict[str, str] = {}
    comp = cm.Component(engine, WAT)
    out["enter returns self"] = "ok" if comp.__enter__() is comp else "other"
    comp.close()
    out["close again"] = outcome(comp.close)
    out["type"] = outcome(lambda: comp.type)
    out["serialize"] = outcome(comp.serialize)
    out["get_export_index"] = outcome(lambda: comp.get_export_index("id"))
    out["instantiate"] = outcome(lambda: linker_for(cm, engine).instantiate(Store(engine), comp))
    out["define_unknown_imports_as_traps"] = outcome(
        lambda: cm.Linker(engine).define_unknown_imports_as_traps(comp))
    with cm.Component(engine, WAT) as inside:
        out["type inside with"] = outcome(lambda: inside.type)
    out["type after with"] = outcome(lambda: inside.type)
    return out


def instance_outlives_scenario(cm: ModuleType, engine: Engine) -> dict[str, str]:
    out: dict[str, str] = {}
    store = Store(engine)
    comp = cm.Component(engine, WAT)
    linker = linker_for(cm, engine)
    instance = linker.instantiate(store, comp)
    func = instance.get_func(store, "id")
    linker.close()
    comp.close()
    out["call after linker and component closed"] = outcome(lambda: func(store, 5))
    out["get_func by name"] = outcome(lambda: instance.get_func(store, "id")(store, 6))
    out["Instance.close"] = outcome(lambda: instance.close)
    out["Func.close"] = outcome(lambda: func.close)
    return out


def linker_scenario(cm: ModuleType, engine: Engine) -> dict[str, str]:
    out: dict[str, str] = {}
    linker = linker_for(cm, engine)
    root = linker.root()
    out["close while root open"] = outcome(linker.close)
    out["still usable after refused close"] = outcome(lambda: root.add_func("g", lambda s: None))
    root.close()
    out["root close again"] = outcome(root.close)
    out["root add_func after close"] = outcome(lambda: root.add_func("h", lambda s: None))
    out["root add_instance after close"] = outcome(lambda: root.add_instance("h"))
    out["root add_module after close"] = outcome(
        lambda: root.add_module("h", wasmtime.Module(engine, "(module)")))
    out["root add_resource after close"] = outcome(
        lambda: root.add_resource("h", cm.ResourceType.host(3), lambda s, r: None))
    linker.close()
    out["close again"] = outcome(linker.close)
    out["root"] = outcome(linker.root)
    out["instantiate"] = outcome(lambda: linker.instantiate(Store(engine), cm.Component(engine, WAT)))
    out["add_wasip2"] = outcome(linker.add_wasip2)
    out["add_wasi_http"] = outcome(linker.add_wasi_http)

    def shadow() -> None:
        linker.allow_shadowing = True

    out["allow_shadowing"] = outcome(shadow)
    out["define_unknown_imports_as_traps"] = outcome(
        lambda: linker.define_unknown_imports_as_traps(cm.Component(engine, WAT)))
    out["engine"] = outcome(lambda: linker.engine)
    with cm.Linker(engine) as other:
        out["with binds the linker"] = "ok" if isinstance(other, cm.Linker) else "other"
    out["root after with"] = outcome(other.root)
    nested = cm.Linker(engine)
    top = nested.root()
    child = top.add_instance("x")
    out["close root while child open"] = outcome(top.close)
    child.close()
    out["close root after child"] = outcome(top.close)
    out["root again"] = outcome(lambda: nested.root().close())
    return out


def export_index_scenario(cm: ModuleType, engine: Engine) -> dict[str, str]:
    out: dict[str, str] = {}
    store = Store(engine)
    comp = cm.Component(engine, WAT)
    instance = linker_for(cm, engine).instantiate(store, comp)
    index = comp.get_export_index("id")
    index.close()
    out["get_func"] = outcome(lambda: instance.get_func(store, index))
    nested = comp.get_export_index("x")
    nested.close()
    out["Component.get_export_index inside"] = outcome(lambda: comp.get_export_index("m", instance=nested))
    out["Instance.get_export_index inside"] = outcome(
        lambda: instance.get_export_index(store, "m", instance=nested))
    with comp.get_export_index("id") as live:
        out["get_func inside with"] = outcome(lambda: instance.get_func(store, live)(store, 1))
    # An index outlives its component, and serves every instance of an equal one.
    kept = comp.get_export_index("id")
    comp.close()
    out["get_func after the component is closed"] = outcome(lambda: instance.get_func(store, kept)(store, 2))
    return out


def resource_type_scenario(cm: ModuleType, engine: Engine) -> dict[str, str]:
    out: dict[str, str] = {}
    kept = cm.ResourceType.host(1)
    with cm.ResourceType.host(1) as ty:
        out["eq inside with"] = "ok" if ty == kept else "other"
    out["eq with closed (rhs)"] = outcome(lambda: kept == ty)
    out["eq with closed (lhs)"] = outcome(lambda: ty == kept)
    out["closed eq str"] = outcome(lambda: ty == "x")
    out["add_resource(closed)"] = outcome(
        lambda: cm.Linker(engine).root().add_resource("t", ty, lambda s, r: None))
    # The linker keeps its own copy: closing the caller's object afterwards is harmless.
    given = cm.ResourceType.host(1)
    linker = linker_for(cm, engine, given)
    given.close()
    out["instantiate after closing the added type"] = outcome(
        lambda: linker.instantiate(Store(engine), cm.Component(engine, WAT)))
    return out


def resource_host_scenario(cm: ModuleType, engine: Engine) -> dict[str, str]:
    out: dict[str, str] = {}
    store = Store(engine)
    instance = linker_for(cm, engine).instantiate(store, cm.Component(engine, WAT))
    take = instance.get_func(store, "take")
    host = cm.ResourceHost.own(5, 1)
    host.close()
    out["rep"] = outcome(lambda: host.rep)
    out["type"] = outcome(lambda: host.type)
    out["owned"] = outcome(lambda: host.owned)
    out["to_any"] = outcome(lambda: host.to_any(store))
    out["pass as own"] = outcome(lambda: take(store, host))
    with cm.ResourceHost.own(6, 1) as live:
        out["rep inside with"] = outcome(lambda: live.rep)
    out["pass a live one"] = outcome(lambda: take(store, cm.ResourceHost.own(7, 1)))
    return out


def resource_any_scenario(cm: ModuleType, engine: Engine) -> dict[str, str]:
    out: dict[str, str] = {}
    store = Store(engine)
    instance = linker_for(cm, engine).instantiate(store, cm.Component(engine, WAT))
    take = instance.get_func(store, "take")
    closed = cm.ResourceHost.own(7, 1).to_any(store)
    closed.close()
    out["type"] = outcome(lambda: closed.type)
    out["owned"] = outcome(lambda: closed.owned)
    out["drop"] = outcome(lambda: closed.drop(store))
    out["to_host"] = outcome(lambda: closed.to_host(store))
    out["pass as own"] = outcome(lambda: take(store, closed))
    moved = cm.ResourceHost.own(8, 1).to_any(store)
    out["pass a live one"] = outcome(lambda: take(store, moved))
    out["type after the move"] = outcome(lambda: moved.type)
    out["close after the move"] = outcome(moved.close)
    # `.type` is a new object each time: closing it leaves the handle usable.
    held = cm.ResourceHost.own(9, 1).to_any(store)
    held.type.close()
    out["type after closing a type"] = "ok" if held.type == cm.ResourceType.host(1) else "other"
    with held as same:
        out["owned inside with"] = outcome(lambda: same.owned)
    out["drop after with"] = outcome(lambda: held.drop(store))
    return out


def type_views_scenario(cm: ModuleType, engine: Engine) -> dict[str, str]:
    out: dict[str, str] = {}
    comp = cm.Component(engine, WAT)
    ctype = comp.type
    out["enter returns self"] = "ok" if ctype.__enter__() is ctype else "other"
    externs = ctype.imports(engine)
    exports = ctype.exports(engine)
    extern = externs["f"]
    ftype = extern.ty
    ctype.close()
    out["ComponentType.imports"] = outcome(lambda: ctype.imports(engine))
    out["ComponentType.exports"] = outcome(lambda: ctype.exports(engine))
    out["extern of a closed type"] = outcome(lambda: extern.ty)
    out["Component.type again"] = outcome(lambda: comp.type.imports(engine))
    extern.close()
    out["ComponentExtern.ty"] = outcome(lambda: extern.ty)
    out["ComponentExtern.implements"] = outcome(lambda: extern.implements)
    out["ComponentExtern.external_id"] = outcome(lambda: extern.external_id)
    out["ComponentExtern.is_implements"] = outcome(lambda: extern.is_implements("a:b/c"))
    out["FuncType of a closed extern"] = outcome(lambda: ftype.params)
    ftype.close()
    out["FuncType.params"] = outcome(lambda: ftype.params)
    out["FuncType.result"] = outcome(lambda: ftype.result)
    instance_type = exports["x"].ty
    module_type = instance_type.exports(engine)["m"].ty
    instance_type.close()
    out["ComponentInstanceType.exports"] = outcome(lambda: instance_type.exports(engine))
    module_type.close()
    out["ModuleType.imports"] = outcome(lambda: module_type.imports(engine))
    out["ModuleType.exports"] = outcome(lambda: module_type.exports(engine))
    list_type = exports["l"].ty
    twin = comp.type.exports(engine)["l"].ty
    list_type.close()
    out["ListType.element"] = outcome(lambda: list_type.element)
    out["ListType == (closed lhs)"] = outcome(lambda: list_type == twin)
    out["ListType == (closed rhs)"] = outcome(lambda: twin == list_type)
    out["ListType repr"] = outcome(lambda: repr(list_type))
    out["U32.close"] = outcome(lambda: cm.U32().close)
    out["OwnType.close"] = outcome(lambda: cm.OwnType(cm.ResourceType.host(1)).close)
    return out


def func_type_scenario(cm: ModuleType, engine: Engine) -> dict[str, str]:
    out: dict[str, str] = {}
    store = Store(engine)
    func = linker_for(cm, engine).instantiate(store, cm.Component(engine, WAT)).get_func(store, "id")
    ftype = func.type(store)
    ftype.close()
    out["params of the closed type"] = outcome(lambda: ftype.params)
    out["Func.type again"] = outcome(lambda: func.type(store).params)
    out["call"] = outcome(lambda: func(store, 3))
    return out


SCENARIOS: dict[str, Callable[[ModuleType, Engine], dict[str, str]]] = {
    "component": component_scenario,
    "instance outlives": instance_outlives_scenario,
    "linker": linker_scenario,
    "export index": export_index_scenario,
    "resource type": resource_type_scenario,
    "resource host": resource_host_scenario,
    "resource any": resource_any_scenario,
    "type views": type_views_scenario,
    "func type": func_type_scenario,
}

EXPECTED: dict[str, dict[str, str]] = {
    "component": {
        "enter returns self": "ok", "close again": "ok", "type": "closed", "serialize": "closed",
        "get_export_index": "closed", "instantiate": "closed", "define_unknown_imports_as_traps": "closed",
        "type inside with": "ok", "type after with": "closed",
    },
    "instance outlives": {
        "call after linker and component closed": "ok", "get_func by name": "ok",
        "Instance.close": "AttributeError", "Func.close": "AttributeError",
    },
    "linker": {
        "close while root open": "locked", "still usable after refused close": "ok",
        "root close again": "ok", "root add_func after close": "closed",
        "root add_instance after close": "closed", "root add_module after close": "closed",
        "root add_resource after close": "closed", "close again": "ok", "root": "closed",
        "instantiate": "closed", "add_wasip2": "closed", "add_wasi_http": "closed",
        "allow_shadowing": "closed", "define_unknown_imports_as_traps": "closed", "engine": "ok",
        "with binds the linker": "ok", "root after with": "closed",
        "close root while child open": "locked", "close root after child": "ok", "root again": "ok",
    },
    "export index": {
        "get_func": "closed", "Component.get_export_index inside": "closed",
        "Instance.get_export_index inside": "closed", "get_func inside with": "ok",
        "get_func after the component is closed": "ok",
    },
    "resource type": {
        "eq inside with": "ok", "eq with closed (rhs)": "closed", "eq with closed (lhs)": "closed",
        "closed eq str": "ok", "add_resource(closed)": "closed",
        "instantiate after closing the added type": "ok",
    },
    "resource host": {
        "rep": "closed", "type": "closed", "owned": "closed", "to_any": "closed",
        "pass as own": "closed", "rep inside with": "ok", "pass a live one": "ok",
    },
    "resource any": {
        "type": "closed", "owned": "closed", "drop": "closed", "to_host": "closed",
        "pass as own": "closed", "pass a live one": "ok", "type after the move": "closed",
        "close after the move": "ok", "type after closing a type": "ok", "owned inside with": "ok",
        "drop after with": "closed",
    },
    "type views": {
        "enter returns self": "ok", "ComponentType.imports": "closed", "ComponentType.exports": "closed",
        "extern of a closed type": "ok", "Component.type again": "ok", "ComponentExtern.ty": "closed",
        "ComponentExtern.implements": "closed", "ComponentExtern.external_id": "closed",
        "ComponentExtern.is_implements": "closed", "FuncType of a closed extern": "ok",
        "FuncType.params": "closed", "FuncType.result": "closed",
        "ComponentInstanceType.exports": "closed", "ModuleType.imports": "closed",
        "ModuleType.exports": "closed", "ListType.element": "closed",
        "ListType == (closed lhs)": "closed", "ListType == (closed rhs)": "closed", "ListType repr": "ok",
        "U32.close": "AttributeError", "OwnType.close": "AttributeError",
    },
    "func type": {"params of the closed type": "closed", "Func.type again": "ok", "call": "ok"},
}


@pytest.fixture(params=BACKENDS)
def cm(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(request.param)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_lifetime_scenario(cm: ModuleType, engine: Engine, name: str) -> None:
    assert SCENARIOS[name](cm, engine) == EXPECTED[name]


# ------------------------------------------------------------- single behaviours


def test_deserialize_file_in_with(cm: ModuleType, engine: Engine, tmp_path: Path) -> None:
    data = cm.Component(engine, WAT).serialize()
    path = tmp_path / "component.bin"
    path.write_bytes(data)
    with cm.Component.deserialize_file(engine, str(path)) as comp:
        assert sorted(comp.type.exports(engine)) == ["id", "l", "take", "x"]
        store = Store(engine)
        assert linker_for(cm, engine).instantiate(store, comp).get_func(store, "id")(store, 41) == 41
    with pytest.raises(ValueError, match="already closed"):
        comp.serialize()
    path.unlink()  # the closed component holds nothing open


def test_deserialize_file_errors(cm: ModuleType, engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(WasmtimeError, match="failed to open file"):
        cm.Component.deserialize_file(engine, str(tmp_path / "missing.bin"))
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a serialized component")
    with pytest.raises(WasmtimeError):
        cm.Component.deserialize_file(engine, str(garbage))


def test_closing_resource_any_runs_no_destructor(cm: ModuleType, engine: Engine) -> None:
    drops: list[int] = []
    linker = cm.Linker(engine)
    with linker.root() as root:
        root.add_resource("t", cm.ResourceType.host(4), lambda s, rep: drops.append(rep))
    store = Store(engine)
    instance = linker.instantiate(store, cm.Component(engine, DROPPER))
    handle = cm.ResourceHost.own(10, 4).to_any(store)
    handle.close()
    assert drops == []
    instance.get_func(store, "drop")(store, cm.ResourceHost.own(11, 4))
    assert drops == [11]


WASI_SEQUENCES = {
    "wasip2 twice": (["add_wasip2", "add_wasip2"], ["ok", "error"]),
    "wasip2 then http twice": (["add_wasip2", "add_wasi_http", "add_wasi_http"], ["ok", "ok", "error"]),
    "http alone twice": (["add_wasi_http", "add_wasi_http"], ["ok", "error"]),
    "http then wasip2": (["add_wasi_http", "add_wasip2"], ["ok", "ok"]),
    "shadowing": (["allow", "add_wasip2", "add_wasi_http", "add_wasi_http", "add_wasip2"],
                  ["ok", "ok", "ok", "ok", "ok"]),
}


@pytest.mark.parametrize("sequence", list(WASI_SEQUENCES))
def test_wasi_definitions_twice(cm: ModuleType, engine: Engine, sequence: str) -> None:
    """add_wasip2 / add_wasi_http define each interface once, as wasmtime's linker."""
    steps, expected = WASI_SEQUENCES[sequence]
    linker = cm.Linker(engine)
    seen = []
    for step in steps:
        try:
            if step == "allow":
                linker.allow_shadowing = True
            else:
                getattr(linker, step)()
            seen.append("ok")
        except WasmtimeError as err:
            assert "defined twice" in str(err)
            seen.append("error")
    assert seen == expected


def test_extern_annotations(cm: ModuleType) -> None:
    config = wasmtime.Config()
    config.wasm_component_model_implements = True
    engine = Engine(config)
    comp = cm.Component(engine, """(component
        (import "a" (func))
        (import "b" (external-id "hi") (func))
        (import "c" (implements "a:b/c@1.2.0") (instance))
        (type $u u8)
        (export "d" (external-id "there") (type $u)))""")
    imports = comp.type.imports(engine)
    assert (imports["a"].implements, imports["a"].external_id) == (None, None)
    assert (imports["b"].implements, imports["b"].external_id) == (None, "hi")
    assert (imports["c"].implements, imports["c"].external_id) == ("a:b/c@1.2.0", None)
    assert imports["c"].is_implements("a:b/c@1.0.0") and not imports["c"].is_implements("a:b/c@2.0.0")
    assert comp.type.exports(engine)["d"].external_id == "there"


def test_module_type_core_types(cm: ModuleType, engine: Engine) -> None:
    comp = cm.Component(engine, """(component
      (import "a" (core module
        (import "b" "f" (func (param i32) (result i64)))
        (import "b" "g" (global (mut f32)))
        (export "m" (memory 1 2))
        (export "t" (table 3 funcref))
        (export "h" (global i64)))))""")
    mty = comp.type.imports(engine)["a"].ty
    imports = mty.imports(engine)
    exports = {e.name: e.type for e in mty.exports(engine)}
    func = imports[0].type
    assert isinstance(func, wasmtime.FuncType)
    assert [str(t) for t in func.params] == ["i32"] and [str(t) for t in func.results] == ["i64"]
    glob = imports[1].type
    assert isinstance(glob, wasmtime.GlobalType)
    assert (str(glob.content), glob.mutable) == ("f32", True)
    memory = exports["m"]
    assert isinstance(memory, wasmtime.MemoryType)
    assert (memory.limits.min, memory.limits.max, memory.is_64) == (1, 2, False)
    table = exports["t"]
    assert isinstance(table, wasmtime.TableType)
    assert (str(table.element), table.limits.min, table.limits.max) == ("funcref", 3, None)
    assert isinstance(exports["h"], wasmtime.GlobalType) and not exports["h"].mutable


def test_add_classes(cm: ModuleType, engine: Engine) -> None:
    comp = cm.Component(engine, """(component
      (type $o (option u32)) (export "o" (type $o))
      (type $r (result string (error u8))) (export "r" (type $r))
      (type $v (variant (case "a" u8) (case "b" u16))) (export "v" (type $v))
      (type $l (list u8)) (export "l" (type $l)))""")
    exports = comp.type.exports(engine)

    def classes(ty: Any) -> set[type]:
        found: set[type] = set()
        ty.add_classes(found)
        return found

    assert classes(exports["o"].ty) == {object, int}
    assert classes(exports["r"].ty) == {str, int}
    assert classes(exports["v"].ty) == {cm.Variant}
    assert classes(exports["l"].ty) == {bytes}
    assert classes(cm.F64()) == {float}
    variant_like = _variant_like(cm)
    for cls in (cm.VariantType, cm.OptionType, cm.ResultType):
        assert issubclass(cls, variant_like) and cls.add_classes == variant_like.add_classes


def _variant_like(cm: ModuleType) -> Any:
    """The backend's ``VariantLikeType`` (not exported by either package's ``__all__``)."""
    if cm.__name__ == "wasmtime.component":
        return importlib.import_module("wasmtime.component._types").VariantLikeType
    return importlib.import_module("wasmcomponent.runtime.types").VariantLikeType
