"""Linker behaviour: name lookup, semver matching, shadowing, locking and link errors."""

from __future__ import annotations

import pytest
import wasmtime

from wasmcomponent import Component, Linker, LinkError
from wasmcomponent.runtime.names import NameMap, track_key

IMPORT_DOUBLE = """
(component
  (import "{name}" (instance $i (export "double" (func (param "x" u32) (result u32)))))
  (alias export $i "double" (func $double))
  (core func $double_lowered (canon lower (func $double)))
  (core module $m
    (import "host" "double" (func $d (param i32) (result i32)))
    (func (export "run") (param i32) (result i32) local.get 0 call $d))
  (core instance $inst (instantiate $m (with "host" (instance (export "double" (func $double_lowered))))))
  (func (export "run") (param "x" u32) (result u32) (canon lift (core func $inst "run"))))
"""


@pytest.fixture
def engine() -> wasmtime.Engine:
    return wasmtime.Engine()


@pytest.mark.parametrize(
    "name,key",
    [
        ("a:b/c@1.2.3", "a:b/c@1"),
        ("a:b/c@0.2.3", "a:b/c@0.2"),
        ("a:b/c@0.0.3", None),
        ("a:b/c@1.0.0-rc1", None),
        ("a:b/c", None),
        ("a:b/c@junk", None),
    ],
)
def test_track_keys(name: str, key: str | None) -> None:
    found = track_key(name)
    assert (found[0] if found else None) == key


def test_name_map_prefers_highest_version_on_a_track() -> None:
    names: NameMap[str] = NameMap()
    names.insert("a:b/c@0.2.9", "nine", allow_shadowing=False)
    names.insert("a:b/c@0.2.3", "three", allow_shadowing=False)
    assert names.get("a:b/c@0.2.1") == "nine"
    assert names.get("a:b/c@0.2.3") == "three"  # exact names win
    assert names.get("a:b/c@0.3.0") is None


def test_semver_compatible_import_links(engine: wasmtime.Engine) -> None:
    component = Component(engine, IMPORT_DOUBLE.format(name="math:ops/calc@0.2.1"))
    linker = Linker(engine)
    with linker.root() as root, root.add_instance("math:ops/calc@0.2.9") as calc:
        calc.add_func("double", lambda store, x: 2 * x)
    store = wasmtime.Store(engine)
    run = linker.instantiate(store, component).get_func(store, "run")
    assert run is not None
    assert run(store, 21) == 42


def test_missing_import_names_the_import(engine: wasmtime.Engine) -> None:
    component = Component(engine, IMPORT_DOUBLE.format(name="math:ops/calc@1.0.0"))
    with pytest.raises(LinkError) as err:
        Linker(engine).instantiate(wasmtime.Store(engine), component)
    text = str(err.value)
    assert "component imports instance `math:ops/calc@1.0.0`, but a matching implementation was not found in the linker" in text
    assert "instance export `double` has the wrong type" in text
    assert "function implementation is missing" in text


def test_wrong_kind_of_definition(engine: wasmtime.Engine) -> None:
    component = Component(engine, IMPORT_DOUBLE.format(name="calc"))
    linker = Linker(engine)
    with linker.root() as root:
        root.add_func("calc", lambda store: None)
    with pytest.raises(LinkError, match="expected instance found func"):
        linker.instantiate(wasmtime.Store(engine), component)


def test_duplicate_definitions_and_shadowing(engine: wasmtime.Engine) -> None:
    linker = Linker(engine)
    with linker.root() as root:
        root.add_func("f", lambda store: 1)
        with pytest.raises(LinkError, match="map entry `f` defined twice"):
            root.add_func("f", lambda store: 2)
    linker.allow_shadowing = True
    with linker.root() as root:
        root.add_func("f", lambda store: 3)


def test_reopening_an_instance_keeps_its_items(engine: wasmtime.Engine) -> None:
    component = Component(engine, IMPORT_DOUBLE.format(name="calc"))
    linker = Linker(engine)
    with linker.root() as root:
        with root.add_instance("calc"):
            pass
        with root.add_instance("calc") as calc:
            calc.add_func("double", lambda store, x: x + x)
    store = wasmtime.Store(engine)
    assert linker.instantiate(store, component).get_func(store, "run")(store, 5) == 10


def test_linker_is_locked_while_an_instance_is_open(engine: wasmtime.Engine) -> None:
    linker = Linker(engine)
    root = linker.root()
    with pytest.raises(wasmtime.WasmtimeError, match="cannot use linker while it's in use"):
        linker.root()
    nested = root.add_instance("x")
    with pytest.raises(wasmtime.WasmtimeError, match="cannot use linker instance while it's in use"):
        root.add_func("f", lambda store: None)
    nested.close()
    root.close()
    linker.root().close()


def test_unknown_imports_as_traps(engine: wasmtime.Engine) -> None:
    component = Component(engine, IMPORT_DOUBLE.format(name="calc"))
    linker = Linker(engine)
    linker.define_unknown_imports_as_traps(component)
    store = wasmtime.Store(engine)
    run = linker.instantiate(store, component).get_func(store, "run")
    with pytest.raises(wasmtime.WasmtimeError, match="unknown import: `calc#double` has not been defined"):
        run(store, 1)


def test_host_exception_propagates_unchanged(engine: wasmtime.Engine) -> None:
    component = Component(engine, IMPORT_DOUBLE.format(name="calc"))
    linker = Linker(engine)
    failure = KeyError("from the host")

    def double(store: object, x: int) -> int:
        raise failure

    with linker.root() as root, root.add_instance("calc") as calc:
        calc.add_func("double", double)
    store = wasmtime.Store(engine)
    run = linker.instantiate(store, component).get_func(store, "run")
    with pytest.raises(KeyError) as err:
        run(store, 1)
    assert err.value is failure
