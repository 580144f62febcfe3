"""Tests of the component validator (``wasmcomponent.validate``): one invalid component per rule."""

from __future__ import annotations

import time

import pytest

from wasmcomponent._engine.core import wat_to_wasm
from wasmcomponent.binary.decoder import decode_component
from wasmcomponent.errors import ValidationError
from wasmcomponent.validate import validate_component
from wasmcomponent.validate.names import is_kebab, parse_name, semver_error


def check(wat: str) -> None:
    validate_component(decode_component(wat_to_wasm(wat)))


def rejects(wat: str, message: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        check(wat)
    assert message in str(info.value)
    return info.value


CORE_F = """
  (core module $m (func (export "f") (result i32) unreachable))
  (core instance $i (instantiate $m))
"""

# ---------------------------------------------------------------- names


@pytest.mark.parametrize("name, ok", [
    ("a", True), ("a-b-c", True), ("ABC-def", True), ("a1-2b", True), ("", False),
    ("1a", False), ("aB", False), ("a-", False), ("a--b", False), ("a_b", False),
])
def test_kebab(name: str, ok: bool) -> None:
    assert is_kebab(name) is ok


def test_semver_messages() -> None:
    assert semver_error("1.2.3-rc.1+build") is None
    assert "empty string" in (semver_error("") or "")
    assert "unexpected end of input" in (semver_error("1.") or "")
    assert "unexpected character 'x'" in (semver_error("2.0x0") or "")
    assert "empty identifier segment" in (semver_error("2.0.0+") or "")


def test_parse_name_shapes() -> None:
    assert parse_name("[method]file.read", 0).resource == "file"
    assert parse_name("wasi:http/types@1.0.0", 0).kind == "interface"
    with pytest.raises(ValidationError, match="failed to find `.` character"):
        parse_name("[method]file", 0)
    with pytest.raises(ValidationError, match="trailing characters found: `/qux`"):
        parse_name("foo:bar/baz/qux", 0)


def test_import_name_not_kebab() -> None:
    rejects('(component (import "aBc" (func)))', "`aBc` is not in kebab case")


def test_interface_version_invalid() -> None:
    rejects('(component (import "a:b/c@1." (func)))', "unexpected end of input")


def test_names_conflict_case_insensitively() -> None:
    rejects('(component (import "a" (func)) (import "A" (func)))',
            "import name `A` conflicts with previous name `a`")


def test_method_conflicts_with_label() -> None:
    rejects('''(component
      (import "a" (type $a (sub resource)))
      (import "[method]a.a" (func (param "self" (borrow $a)))))''',
            "import name `[method]a.a` conflicts with previous name `a`")


def test_method_needs_self_borrow() -> None:
    rejects('''(component
      (import "r" (type $r (sub resource)))
      (import "[method]r.m" (func (param "x" (borrow $r)))))''',
            "function should have a first argument called `self`")


def test_constructor_must_return_own() -> None:
    rejects('''(component
      (import "r" (type $r (sub resource)))
      (import "[constructor]r" (func (result u32))))''',
            "function should return `(own $T)` or `(result (own $T))`")


def test_static_resource_must_be_known() -> None:
    rejects('(component (import "[static]r.m" (func)))', "static resource name is not known in this context")


def test_annotated_name_must_be_func() -> None:
    rejects('(component (import "[constructor]r" (instance)))', "item is not a func")


def test_implements_only_on_instances() -> None:
    rejects('(component (import "a" (implements "a:b/c") (func)))', "only instances can have an `implements`")


# --------------------------------------------------------- defined types


@pytest.mark.parametrize("ty, message", [
    ("(record)", "record type must have at least one field"),
    ("(variant)", "variant type must have at least one case"),
    ("(tuple)", "tuple type must have at least one type"),
    ("(flags)", "flags must have at least one entry"),
    ("(enum)", "enum type must have at least one variant"),
    ('(record (field "aB" u32))', "record field name `aB` is not in kebab case"),
    ('(enum "x" "X")', "enum tag name `X` conflicts with previous tag name `x`"),
    ("(list u64 536870912)", "exceeds maximum byte size"),
])
def test_defined_type_rules(ty: str, message: str) -> None:
    rejects(f"(component (type {ty}))", message)


def test_too_many_flags() -> None:
    names = " ".join(f'"f{i}"' for i in range(33))
    rejects(f"(component (type (flags {names})))", "cannot have more than 32 flags")


def test_borrow_not_in_results() -> None:
    rejects('(component (type $r (resource (rep i32))) (type (func (result (borrow $r)))))',
            "function result cannot contain a `borrow` type")


def test_own_of_non_resource() -> None:
    rejects("(component (type u32) (type (own 0)))", "type index 0 is not a resource type")


def test_resource_only_in_concrete_components() -> None:
    rejects("(component (type (component (type (resource (rep i32))))))",
            "resources can only be defined within a concrete component")


def test_type_nesting_limit() -> None:
    types = "(type $t0 string)" + "".join(f"(type $t{i + 1} (list $t{i}))" for i in range(101))
    rejects(f"(component {types})", "type nesting is too deep")


# ----------------------------------------------------- canonical options


def test_lift_string_needs_memory() -> None:
    rejects(f'''(component {CORE_F}
      (func (result string) (canon lift (core func $i "f"))))''', "canonical option `memory` is required")


def test_realloc_requires_memory() -> None:
    rejects('''(component
      (core module $m (func (export "r") (param i32 i32 i32 i32) (result i32) unreachable))
      (core instance $i (instantiate $m))
      (import "f" (func $f))
      (core func (canon lower (func $f) (realloc (core func $i "r")))))''',
            "canonical option `realloc` requires `memory` to also be specified")


def test_encodings_conflict() -> None:
    rejects('''(component (import "f" (func $f))
      (core func (canon lower (func $f) string-encoding=utf8 string-encoding=utf16)))''',
            "canonical encoding option `utf8` conflicts with option `utf16`")


def test_post_return_not_on_lower() -> None:
    rejects('''(component
      (core module $m (func (export "p")))
      (core instance $i (instantiate $m))
      (import "f" (func $f))
      (core func (canon lower (func $f) (post-return (core func $i "p")))))''',
            "canonical option `post-return` cannot be specified for lowerings")


def test_lift_signature_mismatch() -> None:
    rejects('''(component
      (core module $m (func (export "f")))
      (core instance $i (instantiate $m))
      (func (param "x" u32) (canon lift (core func $i "f"))))''',
            "lowered parameter types `[I32]` do not match parameter types `[]`")


# ------------------------------------------------ index spaces / instances


def test_core_instance_missing_export() -> None:
    rejects('''(component
      (core module $m)
      (core instance $i (instantiate $m))
      (alias core export $i "f" (core func)))''', "core instance 0 has no export named `f`")


def test_core_instantiation_type_mismatch() -> None:
    rejects('''(component
      (core module $a (global (export "g") i64 (i64.const 0)))
      (core module $b (import "a" "g" (global i32)))
      (core instance $ia (instantiate $a))
      (core instance (instantiate $b (with "a" (instance $ia)))))''', "expected global type i32, found i64")


def test_component_instantiation_missing_and_mismatched_args() -> None:
    rejects('''(component
      (component $c (import "f" (func)))
      (instance (instantiate $c)))''', "missing import named `f`")
    rejects('''(component
      (import "g" (func $g (param "x" u32)))
      (component $c (import "f" (func)))
      (instance (instantiate $c (with "f" (func $g)))))''', "expected 0 parameters, found 1")


def test_export_ascription_mismatch() -> None:
    rejects('''(component
      (import "f" (func $f))
      (export "g" (func $f) (func (param "x" u32))))''', "ascribed type of export is not compatible")


def test_external_visibility_of_records() -> None:
    rejects(f'''(component {CORE_F}
      (type $rec (record (field "x" u32)))
      (func $f (result $rec) (canon lift (core func $i "f")))
      (export "f" (func $f)))''', "func not valid to be used as export")


def test_outer_alias_may_not_leak_resources() -> None:
    rejects('''(component $C
      (type $R (resource (rep i32)))
      (component (alias outer $C $R (type))))''', "transitively refers to resources")


def test_resource_generativity() -> None:
    rejects('''(component
      (component $C (type $r (export "r") (resource (rep i32))))
      (instance $c1 (instantiate $C))
      (instance $c2 (instantiate $C))
      (alias export $c1 "r" (type $a))
      (alias export $c2 "r" (type $b))
      (component $eq (import "a" (type $a (sub resource))) (import "b" (type (eq $a))))
      (instance (instantiate $eq (with "a" (type $a)) (with "b" (type $b)))))''',
            "resource types are not the same")


def test_module_type_duplicate_export() -> None:
    rejects('(component (core type (module (export "a" (func)) (export "a" (func)))))',
            "export name `a` already defined")


def test_valid_components_pass() -> None:
    check(f'''(component {CORE_F}
      (type $R (resource (rep i32)))
      (export $R2 "r" (type $R))
      (type $rec (record (field "h" (own $R2))))
      (export $rec2 "rec" (type $rec))
      (func $f (result $rec2) (canon lift (core func $i "f")))
      (export "f" (func $f))
      (import "x:y/z@1.0.0" (instance))
      (component $c (import "T" (type $t (sub resource))) (export "u" (type $t)))
      (instance (instantiate $c (with "T" (type $R)))))''')


def test_error_carries_offset() -> None:
    err = rejects('(component (type (record)))', "record type must have at least one field")
    assert err.offset is not None and err.offset > 8


def test_large_core_module_is_fast() -> None:
    data = "a" * (8 * 1024 * 1024)
    wat = f'(component (core module (memory 200) (func (export "f")) (data (i32.const 0) "{data}")))'
    tree = decode_component(wat_to_wasm(wat))
    start = time.perf_counter()
    validate_component(tree)
    assert time.perf_counter() - start < 0.5


INSTANCE_EXPORTING_A_VARIANT_AND_ITS_RECORD = """(component
  (core module $m (func (export "area") (param i32 i64 i32) (result f64) f64.const 1))
  (core instance $c (instantiate $m))
  (type $point (record (field "x" s32) (field "y" s32)))
  (type $shape (variant (case "circle" f64) (case "rect" $point)))
  (func $area (param "s" $shape) (result f64) (canon lift (core func $c "area")))
  (instance $i (export "point" (type $point)) (export "shape" (type $shape)) (export "area" (func $area)))
  (export "my:pkg/shapes" (instance $i)))"""


def test_an_instance_of_inline_exports_may_export_a_type_beside_one_that_uses_it() -> None:
    """wasmtime accepts it (a variant carrying a record, both exported by one instance)."""
    import wasmtime.component

    import wasmcomponent

    engine = wasmtime.Engine()
    wasmtime.component.Component(engine, INSTANCE_EXPORTING_A_VARIANT_AND_ITS_RECORD)
    component = wasmcomponent.Component(engine, INSTANCE_EXPORTING_A_VARIANT_AND_ITS_RECORD)
    store = wasmtime.Store(engine)
    instance = wasmcomponent.Linker(engine).instantiate(store, component)
    shapes = component.get_export_index("my:pkg/shapes")
    area = instance.get_func(store, component.get_export_index("area", shapes))
    assert area(store, 2.5) == 1.0


def test_an_import_cannot_equal_a_resource_the_component_defines() -> None:
    """wasmtime: "local resource type found in imports" (its offset points elsewhere in the import)."""
    import wasmtime.component

    import wasmcomponent

    text = '(component (type $r (resource (rep i32))) (import "x" (type (eq $r))))'
    engine = wasmtime.Engine()
    with pytest.raises(wasmtime.WasmtimeError) as theirs:
        wasmtime.component.Component(engine, text)
    with pytest.raises(ValidationError) as ours:
        wasmcomponent.Component(engine, text)
    assert "local resource type found in imports (at offset" in str(theirs.value)
    assert str(ours.value).startswith("local resource type found in imports (at offset")
    # An imported resource may still be named again with `eq`.
    wasmcomponent.Component(engine, '(component (import "a" (type $r (sub resource))) (import "b" (type (eq $r))))')
