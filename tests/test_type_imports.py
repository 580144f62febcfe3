"""Type imports with bounds (issue #11): `(eq T)` imports need nothing in the linker, `(sub resource)` ones do.

Every case runs the same script on `wasmtime.component` and on
`wasmcomponent` and asserts the same outcome: the values returned, or the
text of the link error (wasmtime's chain of messages).  The rule, from
wasmtime's `TypeChecker::definition`: the first import of a resource type
must be defined with `add_resource` ("resource implementation is missing"
otherwise); a later import `(eq ...)` to it is satisfied by it and needs no
definition, and if one is given anyway it must be the same type
("mismatched resource types").  `(eq T)` imports of value types (records,
variants, enums, flags...) only name a type.

The componentize-py guest `tests/guests/worlduse` (built at test time) is the
case of the issue: a world that `use`s a resource, a record and a variant of
an imported interface at world level.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional

import pytest
import wasmtime

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wasi_guests  # noqa: E402

BACKENDS = ("wasmtime.component", "wasmcomponent")
BLOB = 42  # host type id of the `blob` resource
OTHER = 43

Define = Callable[[ModuleType, Any], None]
Script = Callable[[ModuleType, wasmtime.Store, Any], Any]


def backends() -> list[ModuleType]:
    return [importlib.import_module(name) for name in BACKENDS]


def outcome(mod: ModuleType, text: str, define: Define, script: Optional[Script] = None) -> Any:
    """Compile ``text``, link it with ``define(mod, root)`` and run ``script``; the result or the error text."""
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    component = mod.Component(engine, text)
    linker = mod.Linker(engine)
    with linker.root() as root:
        define(mod, root)
    try:
        instance = linker.instantiate(store, component)
    except wasmtime.WasmtimeError as err:
        return ("link error", str(err).strip())
    return script(mod, store, instance) if script is not None else "linked"


def side_by_side(text: str, define: Define, script: Optional[Script] = None) -> Any:
    """The outcome on both runtimes, asserted equal."""
    results = [outcome(mod, text, define, script) for mod in backends()]
    assert results[0] == results[1]
    return results[0]


def call(store: wasmtime.Store, instance: Any, name: str, *args: Any) -> Any:
    func = instance.get_func(store, name)
    assert func is not None, name
    result = func(store, *args)
    func.post_return(store)
    return result


def link_error(*chain: str) -> tuple[str, str]:
    """A wasmtime link error: the context, then each cause on its own line."""
    head, *causes = chain
    if len(causes) == 1:
        return ("link error", f"{head}\n\nCaused by:\n    {causes[0]}")
    lines = "\n".join(f"    {i}: {cause}" for i, cause in enumerate(causes))
    return ("link error", f"{head}\n\nCaused by:\n{lines}")


def missing(kind: str, name: str) -> str:
    return f"component imports {kind} `{name}`, but a matching implementation was not found in the linker"


# --------------------------------------------------------------------------
# A resource re-exported at world level: `(import "blob" (type (eq $blob)))`

ROOT_EQ_RESOURCE_BODY = """
  (import "host-res" (instance $h
    (export "blob" (type $b (sub resource)))
    (export "make" (func (param "x" u32) (result (own $b))))
    (export "read" (func (param "b" (borrow $b)) (result u32)))
  ))
  (alias export $h "blob" (type $blob))
  (import "blob" (type $blob2 (eq $blob)))
  (alias export $h "make" (func $make))
  (alias export $h "read" (func $read))
  (core func $make_l (canon lower (func $make)))
  (core func $read_l (canon lower (func $read)))
  (core module $m
    (import "h" "make" (func $make (param i32) (result i32)))
    (import "h" "read" (func $read (param i32) (result i32)))
    (func (export "run") (param i32) (result i32)
      (call $read (call $make (local.get 0))))
    (func (export "pass") (param i32) (result i32) local.get 0)
  )
  (core instance $i (instantiate $m
    (with "h" (instance (export "make" (func $make_l)) (export "read" (func $read_l))))))
  (type $own (own $blob2))
  (func (export "run") (param "x" u32) (result u32) (canon lift (core func $i "run")))
  (func (export "pass") (param "b" $own) (result $own) (canon lift (core func $i "pass")))
"""
ROOT_EQ_RESOURCE = f"(component {ROOT_EQ_RESOURCE_BODY})"


def define_host_res(blob: Optional[int] = BLOB, root_blob: Optional[int] = None) -> Define:
    """`host-res` with `make`/`read` (and `blob` of type ``blob``), plus a root `blob` if ``root_blob``."""

    def define(mod: ModuleType, root: Any) -> None:
        with root.add_instance("host-res") as host:
            if blob is not None:
                host.add_resource("blob", mod.ResourceType.host(blob), lambda store, rep: None)
            host.add_func("make", lambda store, x: mod.ResourceHost.own(x + 100, BLOB))
            host.add_func("read", lambda store, b: b.to_host(store).rep * 2)
        if root_blob is not None:
            root.add_resource("blob", mod.ResourceType.host(root_blob), lambda store, rep: None)

    return define


def run_and_pass(mod: ModuleType, store: wasmtime.Store, instance: Any) -> Any:
    ran = call(store, instance, "run", 5)
    back = call(store, instance, "pass", mod.ResourceHost.own(9, BLOB))
    host = back.to_host(store)
    return (ran, type(back).__name__, host.rep, host.type, host.owned)


def test_eq_resource_at_world_level_needs_no_definition() -> None:
    assert side_by_side(ROOT_EQ_RESOURCE, define_host_res(), run_and_pass) == (210, "ResourceAny", 9, BLOB, True)


def test_eq_resource_defined_anyway_with_the_same_type() -> None:
    assert side_by_side(ROOT_EQ_RESOURCE, define_host_res(root_blob=BLOB), run_and_pass)[0] == 210


def test_eq_resource_defined_with_another_type_is_a_mismatch() -> None:
    assert side_by_side(ROOT_EQ_RESOURCE, define_host_res(root_blob=OTHER)) == link_error(
        missing("resource", "blob"), "mismatched resource types"
    )


def test_eq_resource_defined_as_something_else() -> None:
    def define(mod: ModuleType, root: Any) -> None:
        define_host_res()(mod, root)
        root.add_func("blob", lambda store: None)

    assert side_by_side(ROOT_EQ_RESOURCE, define) == link_error(missing("resource", "blob"), "expected resource found func")


def test_eq_resource_does_not_stand_in_for_the_sub_resource_it_equals() -> None:
    # The `sub resource` comes first (inside `host-res`): it is the one that must be defined.
    assert side_by_side(ROOT_EQ_RESOURCE, define_host_res(blob=None, root_blob=BLOB)) == link_error(
        missing("instance", "host-res"), "instance export `blob` has the wrong type", "resource implementation is missing"
    )


@pytest.mark.parametrize(
    ("define", "expected"),
    [
        (define_host_res(), (210, "ResourceAny", 9, BLOB, True)),
        # `host-res/blob` is stubbed with another host type than `make` returns.
        (define_host_res(blob=None), ("call error", "mismatched resource types")),
        (define_host_res(root_blob=OTHER), link_error(missing("resource", "blob"), "mismatched resource types")),
        (lambda mod, root: None, ("call error", "unknown import: `host-res#make` has not been defined")),
    ],
    ids=["host-res", "host-res-without-blob", "root-blob-other", "nothing"],
)
def test_eq_resource_with_unknown_imports_defined_as_traps(define: Define, expected: Any) -> None:
    """`define_unknown_imports_as_traps` stubs the `sub` resource, never the `eq` one that it satisfies."""

    def script(mod: ModuleType) -> Any:
        engine = wasmtime.Engine()
        component = mod.Component(engine, ROOT_EQ_RESOURCE)
        linker = mod.Linker(engine)
        with linker.root() as root:
            define(mod, root)
        linker.define_unknown_imports_as_traps(component)
        store = wasmtime.Store(engine)
        try:
            instance = linker.instantiate(store, component)
        except wasmtime.WasmtimeError as err:
            return ("link error", str(err).strip())
        try:
            return run_and_pass(mod, store, instance)
        except wasmtime.WasmtimeError as err:
            # The call's trap message: the backtraces differ, the cause does not.
            return ("call error", str(err).strip().splitlines()[-1].strip().removeprefix("wasm trap: "))

    results = [script(mod) for mod in backends()]
    assert results[0] == results[1] == expected


# --------------------------------------------------------------------------
# Value types re-exported at world level: records, variants, enums, flags

ROOT_EQ_VALUES_BODY = """
  (import "host" (instance $h
    (type $p (record (field "x" s32) (field "y" s32)))
    (export "point" (type $pt (eq $p)))
    (type $s (variant (case "none") (case "pt" $pt) (case "n" u32)))
    (export "shape" (type $sh (eq $s)))
    (type $c (enum "red" "green" "blue"))
    (export "color" (type $co (eq $c)))
    (type $f (flags "read" "write" "exec"))
    (export "perms" (type $pe (eq $f)))
    (export "move" (func (param "p" $pt) (result $pt)))
    (export "scale" (func (param "s" $sh) (result $sh)))
    (export "next" (func (param "c" $co) (result $co)))
    (export "toggle" (func (param "f" $pe) (result $pe)))
  ))
  (alias export $h "point" (type $point))
  (import "point" (type $point2 (eq $point)))
  (alias export $h "shape" (type $shape))
  (import "shape" (type $shape2 (eq $shape)))
  (alias export $h "color" (type $color))
  (import "color" (type $color2 (eq $color)))
  (alias export $h "perms" (type $perms))
  (import "perms" (type $perms2 (eq $perms)))
  (type $local (tuple u8 string))
  (import "local" (type $local2 (eq $local)))
  (core module $mem (memory (export "mem") 1))
  (core instance $mem (instantiate $mem))
  (alias core export $mem "mem" (core memory $memory))
  (alias export $h "move" (func $move))
  (alias export $h "scale" (func $scale))
  (alias export $h "next" (func $next))
  (alias export $h "toggle" (func $toggle))
  (core func $move_l (canon lower (func $move) (memory $memory)))
  (core func $scale_l (canon lower (func $scale) (memory $memory)))
  (core func $next_l (canon lower (func $next)))
  (core func $toggle_l (canon lower (func $toggle)))
  (core module $m
    (import "h" "move" (func $move (param i32 i32 i32)))
    (import "h" "scale" (func $scale (param i32 i32 i32 i32)))
    (import "h" "next" (func $next (param i32) (result i32)))
    (import "h" "toggle" (func $toggle (param i32) (result i32)))
    (func (export "move") (param i32 i32) (result i32)
      (call $move (local.get 0) (local.get 1) (i32.const 16)) (i32.const 16))
    (func (export "scale") (param i32 i32 i32) (result i32)
      (call $scale (local.get 0) (local.get 1) (local.get 2) (i32.const 32)) (i32.const 32))
    (func (export "next") (param i32) (result i32) (call $next (local.get 0)))
    (func (export "toggle") (param i32) (result i32) (call $toggle (local.get 0)))
  )
  (core instance $i (instantiate $m
    (with "h" (instance
      (export "move" (func $move_l)) (export "scale" (func $scale_l))
      (export "next" (func $next_l)) (export "toggle" (func $toggle_l))))))
  (func (export "move") (param "p" $point2) (result $point2)
    (canon lift (core func $i "move") (memory $memory)))
  (func (export "scale") (param "s" $shape2) (result $shape2)
    (canon lift (core func $i "scale") (memory $memory)))
  (func (export "next") (param "c" $color2) (result $color2) (canon lift (core func $i "next")))
  (func (export "toggle") (param "f" $perms2) (result $perms2) (canon lift (core func $i "toggle")))
"""
ROOT_EQ_VALUES = f"(component {ROOT_EQ_VALUES_BODY})"


def define_values(mod: ModuleType, root: Any) -> None:
    def move(store: Any, p: Any) -> Any:
        out = mod.Record()
        out.x, out.y = p.x + 1, p.y * 2
        return out

    def scale(store: Any, s: Any) -> Any:
        if s is None:
            return 7
        if isinstance(s, int):
            return None
        return move(store, s)

    colors = ["red", "green", "blue"]
    with root.add_instance("host") as host:
        host.add_func("move", move)
        host.add_func("scale", scale)
        host.add_func("next", lambda store, c: colors[(colors.index(c) + 1) % 3])
        host.add_func("toggle", lambda store, f: {"read", "write", "exec"} - set(f))


def values_script(mod: ModuleType, store: wasmtime.Store, instance: Any) -> Any:
    def plain(value: Any) -> Any:
        if hasattr(value, "x"):
            return ("point", value.x, value.y)
        return sorted(value) if isinstance(value, set) else value

    point = mod.Record()
    point.x, point.y = 3, -4
    return [
        plain(call(store, instance, "move", point)),
        plain(call(store, instance, "scale", point)),
        plain(call(store, instance, "scale", None)),
        plain(call(store, instance, "scale", 5)),
        call(store, instance, "next", "blue"),
        plain(call(store, instance, "toggle", {"read"})),
    ]


def test_eq_value_types_at_world_level() -> None:
    assert side_by_side(ROOT_EQ_VALUES, define_values, values_script) == [
        ("point", 4, -8),
        ("point", 4, -8),
        7,
        None,
        "red",
        ["exec", "write"],
    ]


# --------------------------------------------------------------------------
# `eq` bounds inside imported instance types

CROSS_INSTANCE = """
(component
  (import "a:b/types" (instance $t
    (export "blob" (type $b (sub resource)))
    (export "read" (func (param "b" (borrow $b)) (result u32)))
    (type $l (enum "low" "high"))
    (export "level" (type (eq $l)))
  ))
  (alias export $t "blob" (type $blob))
  (alias export $t "level" (type $level))
  (type $user (instance
    (alias outer 1 $blob (type $ob))
    (export "blob" (type $b (eq $ob)))
    (export "alias" (type $b2 (eq $b)))
    (alias outer 1 $level (type $ol))
    (export "level" (type $lv (eq $ol)))
    (export "make" (func (param "x" u32) (result (own $b2))))
    (export "rank" (func (param "l" $lv) (result u32)))
  ))
  (import "a:b/user" (instance $u (type $user)))
  (alias export $t "read" (func $read))
  (alias export $u "make" (func $make))
  (core func $make_l (canon lower (func $make)))
  (core func $read_l (canon lower (func $read)))
  (core module $m
    (import "h" "make" (func $make (param i32) (result i32)))
    (import "h" "read" (func $read (param i32) (result i32)))
    (func (export "run") (param i32) (result i32) (call $read (call $make (local.get 0))))
  )
  (core instance $i (instantiate $m
    (with "h" (instance (export "make" (func $make_l)) (export "read" (func $read_l))))))
  (func (export "run") (param "x" u32) (result u32) (canon lift (core func $i "run")))
)
"""


def define_cross(user_blob: Optional[int] = None, user_alias: Optional[int] = None) -> Define:
    def define(mod: ModuleType, root: Any) -> None:
        with root.add_instance("a:b/types") as types:
            types.add_resource("blob", mod.ResourceType.host(BLOB), lambda store, rep: None)
            types.add_func("read", lambda store, b: b.to_host(store).rep + 1)
        with root.add_instance("a:b/user") as user:
            for name, ty in (("blob", user_blob), ("alias", user_alias)):
                if ty is not None:
                    user.add_resource(name, mod.ResourceType.host(ty), lambda store, rep: None)
            user.add_func("make", lambda store, x: mod.ResourceHost.own(x * 3, BLOB))
            user.add_func("rank", lambda store, level: 0)

    return define


def run_cross(mod: ModuleType, store: wasmtime.Store, instance: Any) -> Any:
    return call(store, instance, "run", 4)


def test_eq_bound_inside_an_imported_instance() -> None:
    assert side_by_side(CROSS_INSTANCE, define_cross(), run_cross) == 13
    assert side_by_side(CROSS_INSTANCE, define_cross(user_blob=BLOB, user_alias=BLOB), run_cross) == 13


def test_eq_bound_inside_an_imported_instance_mismatch() -> None:
    for define in (define_cross(user_blob=OTHER), define_cross(user_alias=OTHER)):
        result = side_by_side(CROSS_INSTANCE, define, run_cross)
        assert result[0] == "link error"
        assert result[1].startswith(missing("instance", "a:b/user"))
        assert result[1].endswith("has the wrong type\n    1: mismatched resource types")


# --------------------------------------------------------------------------
# Nested components: the inner component's `eq` imports are instantiation arguments


def outer_of(inner_body: str, instance_import: str, exports: list[str], prelude: str, args: str) -> str:
    """An outer component that imports the inner one's instance import, instantiates ``inner_body``
    with it and ``args`` (after ``prelude``, which defines them), and re-exports ``exports``."""
    start = inner_body.index("(instance $h") + len("(instance $h")
    depth, end = 1, start
    while depth:
        depth += {"(": 1, ")": -1}.get(inner_body[end], 0)
        end += 1
    decls = inner_body[start : end - 1]
    reexports = "\n  ".join(f'(export "{e}" (func $i "{e}"))' for e in exports)
    return f"""
(component
  (import "{instance_import}" (instance $h {decls}))
  {prelude}
  (component $inner {inner_body})
  (instance $i (instantiate $inner (with "{instance_import}" (instance $h)) {args}))
  {reexports}
)"""


BLOB_ALIAS = '(alias export $h "blob" (type $blob))'


def test_eq_resource_through_a_nested_component() -> None:
    text = outer_of(ROOT_EQ_RESOURCE_BODY, "host-res", ["run", "pass"], BLOB_ALIAS, '(with "blob" (type $blob))')
    assert side_by_side(text, define_host_res(), run_and_pass) == (210, "ResourceAny", 9, BLOB, True)


def test_eq_import_of_a_nested_component_is_a_required_argument() -> None:
    text = outer_of(ROOT_EQ_RESOURCE_BODY, "host-res", ["run", "pass"], "", "")
    for mod in backends():
        with pytest.raises(wasmtime.WasmtimeError, match="missing import named `blob`"):
            mod.Component(wasmtime.Engine(), text)


def test_eq_value_types_through_a_nested_component() -> None:
    names = ["point", "shape", "color", "perms"]
    prelude = "\n  ".join(f'(alias export $h "{n}" (type ${n}))' for n in names)
    prelude += "\n  (type $local (tuple u8 string))"
    args = " ".join(f'(with "{n}" (type ${n}))' for n in [*names, "local"])
    text = outer_of(ROOT_EQ_VALUES_BODY, "host", ["move", "scale", "next", "toggle"], prelude, args)
    assert side_by_side(text, define_values, values_script)[4] == "red"


def test_world_level_eq_in_outer_and_inner_component() -> None:
    """The outer component re-exports `blob` at its own world level too, and passes that to the inner one."""
    prelude = BLOB_ALIAS + '\n  (import "blob" (type $blob2 (eq $blob)))'
    text = outer_of(ROOT_EQ_RESOURCE_BODY, "host-res", ["run", "pass"], prelude, '(with "blob" (type $blob2))')
    assert side_by_side(text, define_host_res(), run_and_pass)[0] == 210
    assert side_by_side(text, define_host_res(root_blob=OTHER)) == link_error(
        missing("resource", "blob"), "mismatched resource types"
    )


# --------------------------------------------------------------------------
# `sub resource` imports still need `add_resource`

SUB_ROOT = """
(component
  (import "blob" (type $b (sub resource)))
  (import "blob2" (type $b2 (eq $b)))
  (import "make" (func $make (param "x" u32) (result (own $b))))
  (core func $make_l (canon lower (func $make)))
  (core module $m
    (import "h" "make" (func $make (param i32) (result i32)))
    (func (export "make") (param i32) (result i32) (call $make (local.get 0))))
  (core instance $i (instantiate $m (with "h" (instance (export "make" (func $make_l))))))
  (type $own (own $b2))
  (func (export "make") (param "x" u32) (result $own) (canon lift (core func $i "make")))
)
"""

SUB_TWICE = """
(component
  (type $T (instance
    (export "r" (type $r (sub resource)))
    (export "make" (func (param "x" u32) (result (own $r))))))
  (import "a" (instance $a (type $T)))
  (import "b" (instance $b (type $T)))
)
"""


def define_sub_root(blob: Optional[int], blob2: Optional[int] = None) -> Define:
    def define(mod: ModuleType, root: Any) -> None:
        if blob is not None:
            root.add_resource("blob", mod.ResourceType.host(blob), lambda store, rep: None)
        if blob2 is not None:
            root.add_resource("blob2", mod.ResourceType.host(blob2), lambda store, rep: None)
        root.add_func("make", lambda store, x: mod.ResourceHost.own(x, BLOB))

    return define


def make_script(mod: ModuleType, store: wasmtime.Store, instance: Any) -> Any:
    host = call(store, instance, "make", 11).to_host(store)
    return (host.rep, host.type)


def test_sub_resource_missing_at_world_level() -> None:
    assert side_by_side(SUB_ROOT, define_sub_root(None)) == link_error(
        missing("resource", "blob"), "resource implementation is missing"
    )
    # Defining only the `eq` import does not help: the `sub` one comes first.
    assert side_by_side(SUB_ROOT, define_sub_root(None, BLOB)) == link_error(
        missing("resource", "blob"), "resource implementation is missing"
    )


def test_sub_resource_wrong_kind_of_definition() -> None:
    def define(mod: ModuleType, root: Any) -> None:
        root.add_func("blob", lambda store: None)

    assert side_by_side(SUB_ROOT, define) == link_error(missing("resource", "blob"), "expected resource found func")


def test_sub_resource_provided() -> None:
    assert side_by_side(SUB_ROOT, define_sub_root(BLOB), make_script) == (11, BLOB)
    assert side_by_side(SUB_ROOT, define_sub_root(BLOB, BLOB), make_script) == (11, BLOB)
    assert side_by_side(SUB_ROOT, define_sub_root(BLOB, OTHER)) == link_error(
        missing("resource", "blob2"), "mismatched resource types"
    )


def test_sub_resource_missing_inside_an_instance() -> None:
    assert side_by_side(ROOT_EQ_RESOURCE, lambda mod, root: None) == link_error(
        missing("instance", "host-res"), "instance export `blob` has the wrong type", "resource implementation is missing"
    )


def test_one_instance_type_imported_twice_has_two_resource_types() -> None:
    """Each import of a declared `sub resource` is its own abstract type, as in wasmparser."""

    def define(types: dict[str, int]) -> Define:
        def go(mod: ModuleType, root: Any) -> None:
            for name, ty in types.items():
                with root.add_instance(name) as inst:
                    inst.add_resource("r", mod.ResourceType.host(ty), lambda store, rep: None)
                    inst.add_func("make", lambda store, x: mod.ResourceHost.own(x, BLOB))

        return go

    assert side_by_side(SUB_TWICE, define({"a": BLOB, "b": OTHER})) == "linked"
    assert side_by_side(SUB_TWICE, define({"a": BLOB, "b": BLOB})) == "linked"
    assert side_by_side(SUB_TWICE, define({"a": BLOB})) == link_error(
        missing("instance", "b"), "instance export `r` has the wrong type", "resource implementation is missing"
    )


# --------------------------------------------------------------------------
# Exports that name imported types: an exported interface that `use`s them

EXPORTS_IMPORTED_TYPE = """
(component
  (import "host-res" (instance $h
    (export "blob" (type $b (sub resource)))
    (export "make" (func (param "x" u32) (result (own $b))))))
  (alias export $h "blob" (type $blob))
  (alias export $h "make" (func $make))
  (core func $make_l (canon lower (func $make)))
  (core module $m (import "h" "make" (func $make (param i32) (result i32)))
    (func (export "wrap") (param i32) (result i32) (call $make (local.get 0))))
  (core instance $i (instantiate $m (with "h" (instance (export "make" (func $make_l))))))
  (type $own (own $blob))
  (func $wrap (param "x" u32) (result $own) (canon lift (core func $i "wrap")))
  (instance $api (export "blob" (type $blob)) (export "wrap" (func $wrap)))
  (type $api_t (instance
    (alias outer 1 $blob (type $ob))
    (export "blob" (type $eb (eq $ob)))
    (type $o (own $eb))
    (export "wrap" (func (param "x" u32) (result $o)))))
  (export "my:pkg/api" (instance $api) (instance (type $api_t)))
  (export "blob" (type $blob))
  (type $p (record (field "x" u8)))
  (export "point" (type $p))
)
"""


def exported_types_script(mod: ModuleType, store: wasmtime.Store, instance: Any) -> Any:
    api = instance.get_export_index(store, "my:pkg/api")
    wrap = instance.get_func(store, instance.get_export_index(store, "wrap", api))
    handle = wrap(store, 3)
    wrap.post_return(store)
    host = handle.to_host(store)
    result_type = wrap.type(store).result.ty
    return (
        host.rep,
        host.type,
        handle.type == mod.ResourceType.host(BLOB),
        result_type == mod.ResourceType.host(BLOB),
        instance.get_export_index(store, "blob", api) is not None,
        instance.get_export_index(store, "blob") is not None,
    )


def test_exported_interface_using_imported_types() -> None:
    assert side_by_side(EXPORTS_IMPORTED_TYPE, define_host_res(), exported_types_script) == (
        103, BLOB, True, True, True, True
    )


def test_reflection_of_exported_types() -> None:
    results = []
    for mod in backends():
        engine = wasmtime.Engine()
        exports = mod.Component(engine, EXPORTS_IMPORTED_TYPE).type.exports(engine)
        resources: list[tuple[str, Any]] = []
        items = {k: describe_item(v, engine, resources, k) for k, v in exports.items()}
        results.append((items, [(a, b, ta == tb) for i, (a, ta) in enumerate(resources) for b, tb in resources[i + 1 :]]))
    assert results[0] == results[1]
    assert results[0][1] == [("my:pkg/api/blob", "blob", True)]


# --------------------------------------------------------------------------
# `Instance.get_resource` (wasmcomponent only: wasmtime's, missing from wasmtime-py 50)

DEFINES_RESOURCE = """
(component
  (type $r (resource (rep i32)))
  (export "r" (type $r))
  (type $p (record (field "x" u8)))
  (export "p" (type $p))
)
"""

IMPORTS_TWO = """
(component
  (import "I1" (instance $i1 (export "r" (type (sub resource)))))
  (alias export $i1 "r" (type $r))
  (import "I2" (instance $i2 (export "r" (type (eq $r)))))
)
"""


def test_get_resource_of_an_imported_type_is_the_linkers() -> None:
    import wasmcomponent as mod

    def script(mod: ModuleType, store: wasmtime.Store, instance: Any) -> Any:
        api = instance.get_export_index(store, "my:pkg/api")
        return (
            instance.get_resource(store, "blob"),
            instance.get_resource(store, instance.get_export_index(store, "blob", api)),
            instance.get_resource(store, "point"),
            instance.get_resource(store, "my:pkg/api"),
            instance.get_resource(store, "missing"),
        )

    host = mod.ResourceType.host(BLOB)
    assert outcome(mod, EXPORTS_IMPORTED_TYPE, define_host_res(), script) == (host, host, None, None, None)


def test_get_resource_registers_guest_types_as_wasmtimes_harness_does() -> None:
    """As `wasmtime/instance.wast`: each instantiation defines its own type; the `eq` import must match it."""
    import wasmcomponent as mod

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    definer = mod.Component(engine, DEFINES_RESOURCE)
    first = mod.Linker(engine).instantiate(store, definer)
    second = mod.Linker(engine).instantiate(store, definer)
    r1, r2 = first.get_resource(store, "r"), second.get_resource(store, "r")
    assert isinstance(r1, mod.ResourceType) and r1 == first.get_resource(store, "r") and r1 != r2
    assert first.get_resource(store, "p") is None

    def link(a: Any, b: Any) -> str:
        linker = mod.Linker(engine)
        with linker.root() as root:
            for name, ty in (("I1", a), ("I2", b)):
                with root.add_instance(name) as inst:
                    inst.add_resource("r", ty, lambda store, rep: None)
        try:
            linker.instantiate(store, mod.Component(engine, IMPORTS_TWO))
        except wasmtime.WasmtimeError as err:
            return str(err)
        return "linked"

    assert link(r1, r1) == "linked"
    assert link(r1, r2).endswith("instance export `r` has the wrong type\n    1: mismatched resource types")
    assert "mismatched resource types" in link(r1, mod.ResourceType.host(BLOB))


def test_fresh_resources_survive_serialize() -> None:
    """The compile cache keeps the two abstract types of a re-imported instance type apart."""
    import wasmcomponent as mod

    engine = wasmtime.Engine()
    loaded = mod.Component.deserialize(engine, mod.Component(engine, SUB_TWICE).serialize())
    resources: list[tuple[str, Any]] = []
    for name, item in loaded.type.imports(engine).items():
        describe_item(item, engine, resources, name)
    assert [path for path, _ in resources] == ["a/r", "b/r"] and resources[0][1] != resources[1][1]
    linker = mod.Linker(engine)
    with linker.root() as root:
        with root.add_instance("a") as a:
            a.add_resource("r", mod.ResourceType.host(BLOB), lambda store, rep: None)
            a.add_func("make", lambda store, x: None)
    with pytest.raises(wasmtime.WasmtimeError, match="(?s)instance `b`.*resource implementation is missing"):
        linker.instantiate(wasmtime.Store(engine), loaded)
    with linker.root() as root:
        with root.add_instance("b") as b:
            b.add_resource("r", mod.ResourceType.host(OTHER), lambda store, rep: None)
            b.add_func("make", lambda store, x: None)
    linker.instantiate(wasmtime.Store(engine), loaded)


def test_second_import_keeps_the_sharing_of_its_type() -> None:
    """The copy of a re-imported instance type is built once per shared node (a doubling chain stays small)."""
    import wasmcomponent as mod
    from wasmcomponent.types import model

    depth = 12
    # Records in imported signatures must be named: each one is exported (`$e`).
    chain = "\n    ".join(
        f'(type $t{i + 1} (record (field "a" $e{i}) (field "b" $e{i}))) (export "t{i + 1}" (type $e{i + 1} (eq $t{i + 1})))'
        for i in range(depth)
    )
    text = f"""
(component
  (type $T (instance
    (export "r" (type $r (sub resource)))
    (type $e0 (own $r))
    {chain}
    (export "f" (func (param "x" $e{depth})))))
  (import "a" (instance (type $T)))
  (import "b" (instance (type $T)))
)"""
    plan = mod.Component(wasmtime.Engine(), text)._plan
    (_, first), (_, second) = plan.imports
    assert first.exports["r"].resource is not second.exports["r"].resource
    node = second.exports["f"].params[0][1]
    for _ in range(depth):
        assert node.fields[0][1] is node.fields[1][1]  # one copy, shared as in the original
        node = node.fields[0][1]
    assert node == model.OwnType(second.exports["r"].resource)


# --------------------------------------------------------------------------
# Reflection: `Component.type.imports` as wasmtime-py shows it


def describe_item(item: Any, engine: wasmtime.Engine, resources: list[tuple[str, Any]], path: str) -> Any:
    ty = item.ty
    kind = type(ty).__name__
    if kind == "ComponentInstanceType":
        return (kind, {k: describe_item(v, engine, resources, f"{path}/{k}") for k, v in ty.exports(engine).items()})
    if kind == "ResourceType":
        resources.append((path, ty))
    if kind == "FuncType":
        return (kind, [(n, type(t).__name__) for n, t in ty.params], type(ty.result).__name__)
    return kind


def reflect(mod: ModuleType, text: str) -> Any:
    engine = wasmtime.Engine()
    component = mod.Component(engine, text)
    resources: list[tuple[str, Any]] = []
    items = {k: describe_item(v, engine, resources, k) for k, v in component.type.imports(engine).items()}
    # Which resource types are the same type, by path.
    same = [(a, b, ta == tb) for i, (a, ta) in enumerate(resources) for b, tb in resources[i + 1 :]]
    return items, same


@pytest.mark.parametrize(
    "text",
    [ROOT_EQ_RESOURCE, ROOT_EQ_VALUES, CROSS_INSTANCE, SUB_ROOT, SUB_TWICE],
    ids=["eq-resource", "eq-values", "cross-instance", "sub-root", "sub-twice"],
)
def test_reflection_of_type_imports(text: str) -> None:
    results = [reflect(mod, text) for mod in backends()]
    assert results[0] == results[1]


def test_reflection_lists_eq_resources_but_not_eq_value_types() -> None:
    items, same = reflect(importlib.import_module("wasmcomponent"), ROOT_EQ_RESOURCE)
    assert list(items) == ["host-res", "blob"] and items["blob"] == "ResourceType"
    assert ("host-res/blob", "blob", True) in same
    items, _ = reflect(importlib.import_module("wasmcomponent"), ROOT_EQ_VALUES)
    assert list(items) == ["host"]
    _, same = reflect(importlib.import_module("wasmcomponent"), SUB_TWICE)
    assert same == [("a/r", "b/r", False)]


# --------------------------------------------------------------------------
# The componentize-py guest: `use host-res.{blob, point, shape};` at world level

HOST_RES = "wasmcomponent-test:worlduse/host-res"


class WorlduseHost:
    """The Python side of `host-res` and `log-shape`, identical on both runtimes; records what it saw."""

    def __init__(self, mod: ModuleType) -> None:
        self.mod = mod
        self.blobs: dict[int, bytearray] = {}
        self.dropped: list[int] = []
        self.seen: list[Any] = []
        self.next_rep = 1

    def new(self, data: bytes) -> Any:
        rep, self.next_rep = self.next_rep, self.next_rep + 1
        self.blobs[rep] = bytearray(data)
        return self.mod.ResourceHost.own(rep, BLOB)

    def data(self, store: Any, handle: Any) -> bytearray:
        return self.blobs[handle.to_host(store).rep]

    def point(self, x: int, y: int) -> Any:
        out = self.mod.Record()
        out.x, out.y = x, y
        return out

    def shape_text(self, shape: Any) -> str:
        # `shape` has disjoint payload types: circle is a float, rect a Record, empty None.
        if isinstance(shape, float):
            return f"circle {shape}"
        if shape is None:
            return "empty"
        return f"rect {shape.x},{shape.y}"

    def translate(self, store: Any, p: Any, dx: int, dy: int) -> Any:
        self.seen.append(("translate", p.x, p.y, dx, dy))
        return self.point(p.x + dx, p.y + dy)

    def scale(self, store: Any, shape: Any, k: float) -> Any:
        self.seen.append(("scale", self.shape_text(shape), k))
        if isinstance(shape, float):
            return shape * k
        if shape is None:
            return None
        return self.point(int(shape.x * k), int(shape.y * k))

    def merge(self, store: Any, a: Any, b: Any) -> Any:
        self.seen.append(("merge", a.owned, b.owned))
        return self.new(bytes(self.data(store, a)) + bytes(self.data(store, b)))

    def log_shape(self, store: Any, shape: Any, at: Any) -> str:
        return f"{self.shape_text(shape)} at {at.x},{at.y}"

    def define(self, linker: Any) -> None:
        mod = self.mod
        with linker.root() as root:
            with root.add_instance(HOST_RES) as host:
                host.add_resource("blob", mod.ResourceType.host(BLOB), lambda store, rep: self.dropped.append(rep))
                host.add_func("[constructor]blob", lambda store, init: self.new(init))
                host.add_func("[method]blob.read", lambda store, b: bytes(self.data(store, b)))
                host.add_func("[method]blob.append", lambda store, b, more: self.data(store, b).extend(more))
                host.add_func("make-blob", lambda store, text: self.new(text.encode()))
                host.add_func("blob-len", lambda store, b: len(self.data(store, b)))
                host.add_func("merge", self.merge)
                host.add_func("translate", self.translate)
                host.add_func("scale", self.scale)
            root.add_func("log-shape", self.log_shape)


def run_worlduse(mod: ModuleType, path: Path, tmp: Path) -> dict[str, Any]:
    engine = wasi_guests.engine()
    store = wasmtime.Store(engine)
    stderr = tmp / f"{mod.__name__}.stderr"
    if mod.__name__ == "wasmtime.component":
        cfg: Any = wasmtime.WasiConfig()
    else:
        from wasmcomponent.wasi import WasiConfig

        cfg = WasiConfig()
    cfg.stderr_file = str(stderr)
    store.set_wasi(cfg)
    component = mod.Component.from_file(engine, str(path))
    host = WorlduseHost(mod)
    linker = mod.Linker(engine)
    linker.add_wasip2()
    host.define(linker)
    instance = linker.instantiate(store, component)

    out: dict[str, Any] = {"run": call(store, instance, "run", 5)}
    bounced = []
    for shape in (2.5, host.point(6, -8), None):
        p, s = call(store, instance, "bounce", host.point(1, 2), shape)
        bounced.append(((p.x, p.y), host.shape_text(s)))
    out["bounce"] = bounced
    wrapped = call(store, instance, "wrap", "hi")
    out["wrap"] = (type(wrapped).__name__, wrapped.owned)
    out["measure"] = call(store, instance, "measure", wrapped)
    out["unwrap"] = call(store, instance, "unwrap", wrapped)
    out["unwrap-host"] = call(store, instance, "unwrap", host.new(b"from host"))
    out["seen"] = host.seen
    out["dropped"] = sorted(host.dropped)
    out["blobs"] = {rep: bytes(data) for rep, data in host.blobs.items()}
    types: list[tuple[str, Any]] = []
    imports = component.type.imports(engine)
    out["imports"] = {k: describe_item(v, engine, types, k) for k, v in imports.items() if not k.startswith("wasi:")}
    out["same-types"] = [(a, b, ta == tb) for i, (a, ta) in enumerate(types) for b, tb in types[i + 1 :]]
    del store
    out["stderr"] = stderr.read_bytes() if stderr.exists() else b""
    return out


def test_worlduse_guest_side_by_side(tmp_path: Path) -> None:
    path = wasi_guests.build("worlduse")
    results = [run_worlduse(mod, path, tmp_path) for mod in backends()]
    assert results[0] == results[1]
    out = results[1]
    assert out["run"] == (
        "translate=(8,-1); scale=circle(3.0); scale=rect(16,-2); scale=empty; "
        "log=rect 8,-1 at 5,5; lens=6,5; b=b'+xyz!'; merged=b'seed-5+xyz!'"
    )
    assert out["bounce"] == [((2, 3), "circle 1.25"), ((2, 3), "rect 3,-4"), ((2, 3), "empty")]
    assert out["wrap"] == ("ResourceAny", True)
    assert out["measure"] == 6  # "hi#": blob-len from the host + len(read()) in the guest
    assert out["unwrap"] == b"hi#" and out["unwrap-host"] == b"from host"
    # World-level `use` imports `blob` again (listed, the same type as host-res's); `point` and `shape` are not listed.
    assert set(out["imports"]) == {HOST_RES, "log-shape", "blob"}
    assert (f"{HOST_RES}/blob", "blob", True) in out["same-types"]
    assert out["stderr"] == b""
