"""Hostile host values: a bad Python argument is an error, not a trap, and names the parameter.

One case per bullet of issue 4, point 3: a wrong Python type, an
out-of-range int, a surrogate in a `str`, an unknown enum case or flag, a
record missing a field.  Each raises `TypeError`/`ValueError` (an unknown
enum case or flag raises `ValueConversionError`, both a `ValueError` and,
as in wasmtime-py, a `WasmtimeError`; a missing field raises
`MissingFieldError`, both a `TypeError` and, as in wasmtime-py, an
`AttributeError`) whose message starts with "parameter `name`: " and says
where inside the value the problem is.  Nothing reaches the guest: the
instance stays usable, and the next call sees only good values.

Where wasmtime-py is safe to run on the same value it is run too, and must
raise the same exception class (its messages do not name parameters).
wasmtime-py is never given a surrogate `char` (it aborts the process) and
wraps out-of-range integers instead of raising: those cases run on
wasmcomponent only.  An unknown enum case or flag poisons wasmtime-py's store
(it converts them inside the call); wasmcomponent keeps the instance usable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from wasmtime import Engine, Store, WasmtimeError

import wasmcomponent
from test_hostile_guests import backend, instantiate
from wasmcomponent.errors import MissingFieldError, ValueConversionError

WAT = """(component
  (type $color0 (enum "red" "green")) (export $color "color" (type $color0))
  (type $perms0 (flags "read" "write")) (export $perms "perms" (type $perms0))
  (type $person0 (record (field "name" string) (field "age" u8))) (export $person "person" (type $person0))
  (core module $m
    (memory (export "mem") 1)
    (global $bump (mut i32) (i32.const 64))
    (global $calls (mut i32) (i32.const 0))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (global.get $bump)
      (global.set $bump (i32.add (global.get $bump) (i32.and (i32.add (local.get 3) (i32.const 7))
                                                             (i32.const -8)))))
    (func (export "take") (param i32 i64 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
      (global.get $calls)))
  (core instance $i (instantiate $m))
  (alias core export $i "mem" (core memory $mem))
  (alias core export $i "realloc" (core func $realloc))
  (func (export "take")
    (param "count" u8) (param "total" s64) (param "name" string) (param "initial" char)
    (param "color" $color) (param "perms" $perms) (param "person" $person) (param "scores" (list s16))
    (param "maybe" (option u32))
    (result u32)
    (canon lift (core func $i "take") (memory $mem) (realloc $realloc)))
)"""
"""`take` accepts one value of each kind and returns how many calls reached the guest."""


def good_arguments(mod: Any) -> list[Any]:
    person = mod.Record()
    person.name = "Ada"
    person.age = 36
    return [7, -5, "caf\u00e9", "\u2603", "red", {"read"}, person, [1, -2], 3]


PARAMS = ("count", "total", "name", "initial", "color", "perms", "person", "scores", "maybe")


def person(mod: Any, **fields: Any) -> Any:
    record = mod.Record()
    for key, value in fields.items():
        setattr(record, key, value)
    return record


@dataclass(frozen=True)
class BadValue:
    """Argument `param` replaced by `make(mod)` must raise `error` with `message` (after "parameter `param`: ")."""

    id: str
    param: str
    make: Any
    error: type[BaseException]
    message: str
    wasmtime_safe: bool = True


CASES: tuple[BadValue, ...] = (
    # -- wrong Python type
    BadValue("str-for-u8", "count", lambda m: "7", TypeError, "expected `u8` (int), found `str`"),
    BadValue("float-for-s64", "total", lambda m: 1.5, TypeError, "expected `s64` (int), found `float`"),
    BadValue("none-for-u8", "count", lambda m: None, TypeError, "expected `u8` (int), found `NoneType`"),
    BadValue("bytes-for-string", "name", lambda m: b"Ada", TypeError, "found `bytes`"),
    BadValue("int-for-char", "initial", lambda m: 65, TypeError,
             "expected `char` (a single-character str), found `int`"),
    BadValue("str-in-list", "scores", lambda m: [1, "2"], TypeError,
             "list element 1: expected `s16` (int), found `str`"),
    BadValue("tuple-for-record", "person", lambda m: ("Ada", 36), AttributeError, "with field `name`, found `tuple`"),
    # -- out-of-range int (wasmtime-py wraps these)
    BadValue("u8-too-big", "count", lambda m: 256, ValueError, "integer 256 out of range for `u8` (0..=255)",
             wasmtime_safe=False),
    BadValue("u8-negative", "count", lambda m: -1, ValueError, "integer -1 out of range for `u8` (0..=255)",
             wasmtime_safe=False),
    BadValue("s64-too-small", "total", lambda m: -(2**63) - 1, ValueError,
             f"integer {-(2**63) - 1} out of range for `s64`", wasmtime_safe=False),
    BadValue("s16-in-list", "scores", lambda m: [1, 40000], ValueError,
             "list element 1: integer 40000 out of range for `s16` (-32768..=32767)", wasmtime_safe=False),
    BadValue("u8-in-record", "person", lambda m: person(m, name="Ada", age=300), ValueError,
             "field `age`: integer 300 out of range for `u8` (0..=255)", wasmtime_safe=False),
    BadValue("u32-in-option", "maybe", lambda m: 2**32, ValueError, "out of range for `u32`", wasmtime_safe=False),
    # -- surrogates: in a string; in a char (wasmtime-py aborts the process on the latter)
    BadValue("surrogate-in-string", "name", lambda m: "A\ud800a", ValueError,
             "string contains an unpaired surrogate and is not valid unicode"),
    BadValue("surrogate-in-record-string", "person", lambda m: person(m, name="\udfff", age=1), ValueError,
             "field `name`: string contains an unpaired surrogate"),
    BadValue("surrogate-char", "initial", lambda m: "\udc00", ValueError,
             "`char` cannot be the surrogate code point U+DC00", wasmtime_safe=False),
    # -- unknown enum case or flag
    BadValue("unknown-enum-case", "color", lambda m: "blue", ValueConversionError,
             "enum variant name `blue` is not valid"),
    BadValue("unknown-flag", "perms", lambda m: {"read", "exec"}, ValueConversionError, "unknown flag: `exec`"),
    # -- record missing a field
    BadValue("record-missing-field", "person", lambda m: person(m, name="Ada"), MissingFieldError,
             "expected `record` with field `age`, found `Record` without it"),
    BadValue("empty-record", "person", lambda m: person(m), MissingFieldError, "with field `name`"),
)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.fixture(scope="module")
def components(engine: Engine) -> dict[str, Any]:
    return {name: backend(name).Component(engine, WAT) for name in ("wasmtime", "wasmcomponent")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_argument_names_the_parameter(engine: Engine, components: dict[str, Any], case: BadValue) -> None:
    store = Store(engine)
    take = instantiate(wasmcomponent, engine, store, "", component=components["wasmcomponent"]).get_func(store, "take")
    args = good_arguments(wasmcomponent)
    assert take(store, *args) == 1
    take.post_return(store)

    bad = list(args)
    bad[PARAMS.index(case.param)] = case.make(wasmcomponent)
    with pytest.raises(case.error) as info:
        take(store, *bad)
    message = str(info.value)
    assert message.startswith(f"parameter `{case.param}`: "), message
    assert case.message in message, message
    assert isinstance(info.value, (TypeError, ValueError))

    # Nothing reached the guest, and the instance is still usable.
    assert take(store, *args) == 2
    take.post_return(store)


@pytest.mark.parametrize("case", [c for c in CASES if c.wasmtime_safe], ids=[c.id for c in CASES if c.wasmtime_safe])
def test_wasmtime_raises_the_same_class(engine: Engine, components: dict[str, Any], case: BadValue) -> None:
    mod = backend("wasmtime")
    store = Store(engine)
    take = instantiate(mod, engine, store, "", component=components["wasmtime"]).get_func(store, "take")
    bad = good_arguments(mod)
    bad[PARAMS.index(case.param)] = case.make(mod)
    expected: type[BaseException] = case.error
    if expected is ValueConversionError:
        expected = WasmtimeError  # wasmtime-py reports these through the native library
    elif expected is MissingFieldError:
        expected = AttributeError
    with pytest.raises(expected):
        take(store, *bad)
    if case.error is ValueConversionError:
        # Divergence: wasmtime-py converts enums and flags inside the call,
        # so the failure poisons its store; wasmcomponent checks first.
        with pytest.raises(WasmtimeError, match="cannot enter component instance"):
            take(store, *good_arguments(mod))
    else:
        assert take(store, *good_arguments(mod)) == 1


def test_wrong_arity_leaves_the_instance_usable(engine: Engine, components: dict[str, Any]) -> None:
    store = Store(engine)
    take = instantiate(wasmcomponent, engine, store, "", component=components["wasmcomponent"]).get_func(store, "take")
    args = good_arguments(wasmcomponent)
    for wrong in (args[:-1], args + [1]):
        with pytest.raises(TypeError, match=re.escape("wrong number of parameters")):
            take(store, *wrong)
    assert take(store, *args) == 1


def test_bad_host_result_is_a_type_error_and_poisons(engine: Engine) -> None:
    """A host function returning a bad value: `TypeError` as wasmtime-py, then the store is poisoned as wasmtime's.

    Unlike an argument, the guest is mid-call when the host returns, so the
    store cannot be left usable.
    """
    from test_hostile_guests import guest

    wat = guest("", "", "(call $host (i32.const 8))", import_type="(result string)", import_core_sig="(param i32)")
    for name in ("wasmtime", "wasmcomponent"):
        mod = backend(name)
        store = Store(engine)
        run = instantiate(mod, engine, store, wat, lambda _s: 42).get_func(store, "run")
        with pytest.raises(TypeError):
            run(store)
        with pytest.raises(WasmtimeError, match="cannot enter component instance"):
            run(store)


SHAPE_WAT = """(component
  (type $shape0 (variant (case "circle" f64) (case "square" u32) (case "none")))
  (export $shape "shape" (type $shape0))
  (core module $m
    (func (export "area") (param i32 i64) (result i32) (local.get 0)))
  (core instance $i (instantiate $m))
  (func (export "area") (param "s" $shape) (result u32) (canon lift (core func $i "area")))
)"""


def test_a_tagged_value_for_an_untagged_variant_says_what_to_pass() -> None:
    engine = Engine()
    store = Store(engine)
    component = wasmcomponent.Component(engine, SHAPE_WAT)
    area = wasmcomponent.Linker(engine).instantiate(store, component).get_func(store, "area")
    with pytest.raises(ValueError, match=r"pass `2\.0` instead of `Variant\('circle', \.\.\.\)`"):
        area(store, wasmcomponent.Variant("circle", 2.0))
    with pytest.raises(ValueError, match=r"pass `None` instead of `Variant\('none', \.\.\.\)`"):
        area(store, wasmcomponent.Variant("none"))
    with pytest.raises(ValueError) as err:
        area(store, wasmcomponent.Variant("triangle", 1))
    assert "instead of" not in str(err.value)  # no hint for a case the type does not have
    assert area(store, 2.0) == 0 and area(store, 7) == 1  # untagged values select the case


def test_missing_field_error_is_a_wasmtime_error() -> None:
    assert issubclass(MissingFieldError, WasmtimeError)
    assert issubclass(MissingFieldError, TypeError) and issubclass(MissingFieldError, AttributeError)
