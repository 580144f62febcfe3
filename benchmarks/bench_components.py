"""The benchmark component: one component exporting every benchmarked operation.

It reuses the generic builders of `tests/components.py`, loaded by path
under a private module name (the tests directory is not a package).  The
component's core module is also available on its own (`Built.core_wat`), so
the benchmark can time the raw core call of the very same core function as a
floor.

Exports (WIT-style):
  noop: func()
  add: func(a: u32, b: u32) -> u32
  sum-18: func(p0..p17: u32) -> u32                 (18 flat params: spilled)
  echo-variant: func(x: variant { text(string), number(u32), nothing }) -> same
  echo-option: func(x: option<string>) -> option<string>
  echo-result: func(x: result<string, u32>) -> result<string, u32>
  echo-string: func(x: string) -> string
  echo-bytes: func(x: list<u8>) -> list<u8>
  sum-u32: func(x: list<u32>) -> u32                (guest loop)
  get-records: func() -> list<person>               (static data segment)
  count-records: func(x: list<person>) -> u32
  call-host: func(n: u32) -> u32                    (calls import `host-fn` n times)
where person = record { id: u32, name: string, tags: list<string> }.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


def load_shared_builders() -> ModuleType:
    """Import `tests/components.py` by path as `_wasmcomponent_test_components`."""
    name = "_wasmcomponent_test_components"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parent.parent / "tests" / "components.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


C = load_shared_builders()

PERSON = C.record(id=C.U32, name=C.STRING, tags=C.ListT(C.STRING))
BENCH_VARIANT = C.variant(("text", C.STRING), ("number", C.U32), ("nothing", None))
DATA_BASE = 16
RECORD_COUNT = 1000


def person_values(count: int = RECORD_COUNT) -> list[tuple[int, str, list[str]]]:
    """The records of the static data segment as (id, name, tags) tuples."""
    return [(i, f"record-{i} ✓", [f"tag{j}" for j in range(i % 4)]) for i in range(count)]


def records_data(people: list[tuple[int, str, list[str]]], base: int = DATA_BASE) -> bytes:
    """Memory image at `base`: (ptr, len) of the list, the records, tag lists, strings.

    Layout follows the Canonical ABI: person is {u32, (ptr,len), (ptr,len)},
    20 bytes with alignment 4.
    """
    assert C.elem_size(PERSON) == 20 and C.alignment(PERSON) == 4
    header = 8
    records_at = base + header
    tags_at = records_at + 20 * len(people)
    tag_lists_size = 8 * sum(len(tags) for _, _, tags in people)
    strings_at = tags_at + tag_lists_size
    records = bytearray()
    tag_lists = bytearray()
    strings = bytearray()

    def put_string(text: str) -> tuple[int, int]:
        encoded = text.encode("utf-8")
        ptr = strings_at + len(strings)
        strings.extend(encoded)
        return ptr, len(encoded)

    for ident, name, tags in people:
        name_ptr, name_len = put_string(name)
        tags_ptr = tags_at + len(tag_lists)
        for tag in tags:
            tag_lists.extend(struct.pack("<II", *put_string(tag)))
        records.extend(struct.pack("<IIIII", ident, name_ptr, name_len, tags_ptr, len(tags)))
    return struct.pack("<II", records_at, len(people)) + bytes(records + tag_lists + strings)


def _sum_loads(count: int) -> str:
    """Folded WAT adding `count` u32 loads from the pointer in local 0."""
    expr = "(i32.load offset=0 (local.get 0))"
    for i in range(1, count):
        expr = f"(i32.add {expr} (i32.load offset={4 * i} (local.get 0)))"
    return expr


def bench_component() -> Any:
    """Build the benchmark component (a `Built` from tests/components.py)."""
    host = C.Import("host-fn", (("x", C.U32),), C.U32)
    exports = [
        C.Export("noop", (), None, '(func (export "noop"))'),
        C.Export("add", (("a", C.U32), ("b", C.U32)), C.U32,
                 '(func (export "add") (param i32 i32) (result i32) '
                 '(i32.add (local.get 0) (local.get 1)))'),
        C.Export("sum-18", tuple((f"p{i}", C.U32) for i in range(18)), C.U32,
                 f'(func (export "sum-18") (param i32) (result i32) {_sum_loads(18)})'),
        C.identity_export("echo-variant", [("x", BENCH_VARIANT)]),
        C.identity_export("echo-option", [("x", C.OptionT(C.STRING))]),
        C.identity_export("echo-result", [("x", C.ResultT(C.STRING, C.U32))]),
        C.identity_export("echo-string", [("x", C.STRING)]),
        C.identity_export("echo-bytes", [("x", C.ListT(C.U8))]),
        C.Export("sum-u32", (("x", C.ListT(C.U32)),), C.U32, """
          (func (export "sum-u32") (param $p i32) (param $n i32) (result i32)
            (local $sum i32) (local $end i32)
            (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
            (block $done (loop $next
              (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
              (local.set $sum (i32.add (local.get $sum) (i32.load (local.get $p))))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (br $next)))
            (local.get $sum))"""),
        C.Export("get-records", (), C.ListT(PERSON), f"""
          (func (export "get-records") (result i32) (i32.const {DATA_BASE}))"""),
        C.Export("count-records", (("x", C.ListT(PERSON)),), C.U32,
                 '(func (export "count-records") (param i32 i32) (result i32) (local.get 1))'),
        C.Export("call-host", (("n", C.U32),), C.U32, """
          (func (export "call-host") (param $n i32) (result i32)
            (local $i i32) (local $acc i32)
            (block $done (loop $next
              (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
              (local.set $acc (i32.add (local.get $acc) (call $host-fn (local.get $i))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $next)))
            (local.get $acc))"""),
    ]
    built = C.build_component(exports, [host], data=records_data(person_values()),
                              data_base=DATA_BASE)
    # As in components made by wit-bindgen, functions that neither return
    # data in guest memory nor receive any (the bump allocator must be reset
    # after calls that allocate) have no post-return (`cabi_post_*`).
    wat = built.wat
    for name in SCALAR_RESULT_EXPORTS:
        lift_post = f' (post-return (core func $core "post-{name}"))'
        assert lift_post in wat, name
        wat = wat.replace(lift_post, "")
    return dataclasses.replace(built, wat=wat)


SCALAR_RESULT_EXPORTS = ("noop", "add", "call-host")


# --------------------------------------------------------------------------
# Resources: a guest resource `counter` and an imported host resource `thing`

THING_TYPE = 1  # host type id of `thing` (`ResourceType.host(THING_TYPE)`)

RESOURCE_CORE_WAT = """
(module
  (import "" "counter-new" (func $new (param i32) (result i32)))
  (import "" "thing-drop" (func $thing-drop (param i32)))
  (memory (export "memory") 1)
  (global $cells (mut i32) (i32.const 16))
  ;; rep = address of the counter's u32 cell
  (func (export "ctor") (param $init i32) (result i32)
    (local $cell i32)
    (local.set $cell (global.get $cells))
    (global.set $cells (i32.add (global.get $cells) (i32.const 4)))
    (i32.store (local.get $cell) (local.get $init))
    (call $new (local.get $cell)))
  ;; a borrow of the component's own resource arrives as the rep
  (func (export "incr") (param $rep i32) (result i32)
    (i32.store (local.get $rep) (i32.add (i32.load (local.get $rep)) (i32.const 1)))
    (i32.load (local.get $rep)))
  ;; a borrow of an imported resource arrives as a handle that must be dropped
  (func (export "use-thing") (param $handle i32) (result i32)
    (call $thing-drop (local.get $handle))
    (local.get $handle)))
"""


def resource_component() -> str:
    """WAT of the resource benchmark component.

    Exports `[constructor]counter(init: u32) -> own<counter>`,
    `[method]counter.incr(self: borrow<counter>) -> u32` and
    `use-thing(t: borrow<thing>) -> u32`, where `thing` is the root import
    of a host resource type.
    """
    return f"""
(component
  (import "thing" (type $thing (sub resource)))
  (type $counter (resource (rep i32)))
  (core func $new (canon resource.new $counter))
  (core func $thing-drop (canon resource.drop $thing))
  (core module $m {RESOURCE_CORE_WAT.strip()[len("(module"):-1]})
  (core instance $i (instantiate $m (with "" (instance
    (export "counter-new" (func $new)) (export "thing-drop" (func $thing-drop))))))
  (export $c "counter" (type $counter))
  (func (export "[constructor]counter") (param "init" u32) (result (own $c))
    (canon lift (core func $i "ctor")))
  (func (export "[method]counter.incr") (param "self" (borrow $c)) (result u32)
    (canon lift (core func $i "incr")))
  (func (export "use-thing") (param "t" (borrow $thing)) (result u32)
    (canon lift (core func $i "use-thing")))
)
"""
