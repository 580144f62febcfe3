"""Side-by-side drop-in tests: the same script against `wasmtime.component` and `wasmcomponent`.

Every test takes a `backend` (a module exposing wasmtime-py 50's component
API) and runs identical code against it; the `wasmcomponent` backend is
skipped while `wasmcomponent.Linker` cannot be imported.  Components come
from the inline-WAT builders in `components.py`.

Values in the case tables are written in a backend-neutral form (records
as `dict`, tagged variants as `Tag`) and converted with `to_host` /
`from_host`; `same` compares strictly (exact Python types, NaN == NaN).

Documented divergences (tested on `wasmcomponent` alone):
* out-of-range integers: wasmtime-py wraps them (u8 300 -> 44) through
  ctypes; wasmcomponent raises `ValueError`.
* surrogate `char`s: wasmtime-py aborts the whole process (Rust panic), so
  that case is never run on `wasmtime.component`; wasmcomponent raises
  `ValueError`.
* host -> same-instance reentrance: wasmtime.component 50 lets the nested
  call run; the spec and wasmcomponent trap with "cannot enter component
  instance".
"""

from __future__ import annotations

import importlib
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import pytest
from wasmtime import Engine, Store, WasmtimeError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import components as C  # noqa: E402

BACKENDS = ("wasmtime", "wasmcomponent")


def load_backend(name: str) -> ModuleType:
    """The component API module for `name`, skipping if wasmcomponent is not ready."""
    if name == "wasmtime":
        return importlib.import_module("wasmtime.component")
    try:
        from wasmcomponent import Linker  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"wasmcomponent.Linker is not importable yet ({exc})")
    return importlib.import_module("wasmcomponent")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> ModuleType:
    """Each backend in turn."""
    return load_backend(request.param)


@pytest.fixture(scope="module")
def engine() -> Engine:
    """One engine for the module (components compile once per backend)."""
    return Engine()


# --------------------------------------------------------------------------
# Neutral values


@dataclass(frozen=True)
class Tag:
    """Neutral form of a tagged variant value (`Variant(tag, payload)`)."""

    tag: str
    payload: Any = None


def to_host(value: Any, mod: ModuleType) -> Any:
    """Convert a neutral value into the backend's Python value model."""
    if isinstance(value, dict):
        rec = mod.Record()
        for key, item in value.items():
            setattr(rec, key, to_host(item, mod))
        return rec
    if isinstance(value, Tag):
        return mod.Variant(value.tag, to_host(value.payload, mod))
    if isinstance(value, list):
        return [to_host(v, mod) for v in value]
    if isinstance(value, tuple):
        return tuple(to_host(v, mod) for v in value)
    return value


def from_host(value: Any, mod: ModuleType) -> Any:
    """Convert a backend value into neutral form, checking the backend's classes."""
    if isinstance(value, mod.Record):
        assert type(value).__name__ == "Record"
        return {k: from_host(v, mod) for k, v in vars(value).items()}
    if isinstance(value, mod.Variant):
        assert type(value).__name__ == "Variant"
        return Tag(value.tag, from_host(value.payload, mod))
    if isinstance(value, list):
        return [from_host(v, mod) for v in value]
    if isinstance(value, tuple):
        return tuple(from_host(v, mod) for v in value)
    return value


def same(a: Any, b: Any) -> bool:
    """Strict structural equality: exact types, NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Tag):
        return a.tag == b.tag and same(a.payload, b.payload)
    return bool(a == b)


# --------------------------------------------------------------------------
# Cases: (id, type, values in neutral form)


@dataclass(frozen=True)
class Case:
    """A value type and values that must round-trip through it."""

    id: str
    ty: C.Ty
    values: tuple[Any, ...]


INF = float("inf")
NAN = float("nan")
PERSON = C.record(id=C.U32, name=C.STRING, tags=C.ListT(C.STRING))
MIXED = C.variant(("small", C.U8), ("single", C.F32), ("double", C.F64), ("big", C.U64),
                  ("empty", None), ("pair", C.TupleT((C.U8, C.F32))), ("text", C.STRING))
FEW_FLAGS = C.FlagsT(("read", "write", "exec"))
FLAGS_9 = C.FlagsT(tuple(f"f{i}" for i in range(9)))
FLAGS_17 = C.FlagsT(tuple(f"f{i}" for i in range(17)))
FLAGS_32 = C.FlagsT(tuple(f"f{i}" for i in range(32)))
WIDE_RECORD = C.RecordT(tuple((f"f{i}", C.U32) for i in range(17)) + (("label", C.STRING),))

CASES: tuple[Case, ...] = (
    Case("bool", C.BOOL, (True, False)),
    Case("s8", C.S8, (0, -128, 127, -1)),
    Case("u8", C.U8, (0, 255, 128)),
    Case("s16", C.S16, (-32768, 32767, -2)),
    Case("u16", C.U16, (0, 65535)),
    Case("s32", C.S32, (-2**31, 2**31 - 1, -5)),
    Case("u32", C.U32, (0, 2**32 - 1, 123456789)),
    Case("s64", C.S64, (-2**63, 2**63 - 1, -1)),
    Case("u64", C.U64, (0, 2**64 - 1, 2**40 + 3)),
    Case("f32", C.F32, (0.0, -0.0, 1.5, -3.25, INF, -INF, NAN, 16777216.0)),
    Case("f64", C.F64, (0.0, -0.0, 1e300, -2.5e-300, INF, NAN, 0.1)),
    Case("char", C.CHAR, ("a", "\0", "é", "€", "😀", "\U0010ffff", "\ud7ff", "\ue000")),
    Case("string", C.STRING, ("", "hello", "ünïcödé ✓ 😀", "nul\0inside", "x" * 1000, "é" * 3000)),
    Case("list-u32", C.ListT(C.U32), ([], [1, 2, 3], list(range(1000)), [2**32 - 1])),
    Case("list-u8", C.ListT(C.U8), (b"", b"\x00\xff", bytes(range(256)) * 8)),
    Case("list-string", C.ListT(C.STRING), ([], ["a", "", "ü€😀"], ["s" * i for i in range(50)])),
    Case("list-f64", C.ListT(C.F64), ([], [1.5, -0.0, INF])),
    Case("list-list-u8", C.ListT(C.ListT(C.U8)), ([], [b"", b"ab", b"\xff"])),
    Case("record", C.record(first_name=C.STRING, age=C.U8, score=C.F64, x2=C.S64),
         ({"first-name": "Ada", "age": 36, "score": 99.5, "x2": -7},
          {"first-name": "", "age": 0, "score": -0.0, "x2": 2**63 - 1})),
    Case("record-nested", C.record(inner=C.record(a=C.U16, b=C.BOOL), tail=C.OptionT(C.STRING)),
         ({"inner": {"a": 7, "b": True}, "tail": None},
          {"inner": {"a": 65535, "b": False}, "tail": "t"})),
    Case("record-wide", WIDE_RECORD,
         ({**{f"f{i}": i * 1000 for i in range(17)}, "label": "seventeen+1"},)),
    Case("tuple", C.TupleT((C.U8, C.STRING, C.F64)), ((1, "one", 1.0), (255, "", -0.0))),
    Case("tuple-u64", C.TupleT((C.U64,)), ((2**64 - 1,),)),
    Case("tuple-20-u8", C.TupleT((C.U8,) * 20), (tuple(range(20)),)),
    Case("variant-untagged", C.variant(("nothing", None), ("number", C.U32), ("text", C.STRING)),
         (None, 0, 42, "", "hi")),
    Case("variant-overlap", C.variant(("a", C.U32), ("b", C.U32), ("c", None)),
         (Tag("a", 1), Tag("b", 2**32 - 1), Tag("c"))),
    Case("variant-joined", MIXED,
         (Tag("small", 200), Tag("single", -1.5), Tag("double", 1e300), Tag("big", 2**64 - 1),
          Tag("empty"), Tag("pair", (7, 0.25)), Tag("text", "joined ✓"), Tag("single", NAN))),
    Case("variant-no-payload", C.variant(("x", None), ("y", None)), (Tag("x"), Tag("y"))),
    Case("enum", C.EnumT(("red", "green", "blue-ish")), ("red", "green", "blue-ish")),
    Case("enum-300", C.EnumT(tuple(f"e{i}" for i in range(300))), ("e0", "e255", "e256", "e299")),
    Case("option-u32", C.OptionT(C.U32), (None, 0, 2**32 - 1)),
    Case("option-string", C.OptionT(C.STRING), (None, "", "some ✓")),
    Case("option-f64", C.OptionT(C.F64), (None, 2.5, NAN)),
    Case("option-option-u32", C.OptionT(C.OptionT(C.U32)),
         (Tag("none"), Tag("some", None), Tag("some", 0), Tag("some", 9))),
    Case("option-record", C.OptionT(PERSON), (None, {"id": 1, "name": "n", "tags": ["a"]})),
    Case("result-u32-string", C.ResultT(C.U32, C.STRING), (5, "bad")),
    Case("result-empty", C.ResultT(), (Tag("ok"), Tag("err"))),
    Case("result-err-only", C.ResultT(None, C.STRING), (None, "failure")),
    Case("result-ok-only", C.ResultT(C.STRING, None), ("fine", None)),
    Case("result-string-string", C.ResultT(C.STRING, C.STRING), (Tag("ok", "x"), Tag("err", "y"))),
    Case("result-f32-u64", C.ResultT(C.F32, C.U64), (1.25, 2**64 - 1)),
    Case("flags-few", FEW_FLAGS, (set(), {"read"}, {"read", "exec"}, {"read", "write", "exec"})),
    Case("flags-9", FLAGS_9, (set(), {"f8"}, {"f0", "f8"})),
    Case("flags-17", FLAGS_17, ({"f16"}, {"f0", "f15", "f16"})),
    Case("flags-32", FLAGS_32, (set(), {"f31"}, {f"f{i}" for i in range(32)})),
    Case("list-record", C.ListT(PERSON),
         ([], [{"id": i, "name": f"person {i}", "tags": ["t"] * (i % 3)} for i in range(20)])),
    Case("list-variant", C.ListT(MIXED), ([Tag("small", 1), Tag("empty"), Tag("text", "x")],)),
    Case("list-option-u8", C.ListT(C.OptionT(C.U8)), ([None, 1, None, 255],)),
)
CASE_IDS = [c.id for c in CASES]
STRING_ENCODINGS = ("utf8", "utf16", "latin1+utf16")
ENCODING_STRINGS = ("", "ascii only", "latin1 ÿé", "bmp €✓", "astral 😀𝄞", "mixed ÿ€😀" * 100)


# --------------------------------------------------------------------------
# Helpers


@pytest.fixture(scope="module")
def compiled() -> dict[tuple[str, str], Any]:
    """Per-module cache of compiled components keyed by (backend, wat)."""
    return {}


def instantiate(mod: ModuleType, engine: Engine, cache: dict[tuple[str, str], Any], wat: str,
                host: dict[str, Callable[..., Any]] | None = None) -> tuple[Store, Any]:
    """Compile (cached) and instantiate `wat` in a fresh store with `host` functions."""
    key = (mod.__name__, wat)
    if key not in cache:
        cache[key] = mod.Component(engine, wat)
    store = Store(engine)
    linker = mod.Linker(engine)
    if host:
        with linker.root() as root:
            for name, func in host.items():
                root.add_func(name, func)
    return store, linker.instantiate(store, cache[key])


def get_func(mod: ModuleType, store: Store, instance: Any, name: str) -> Any:
    """Look an export up (through `get_export_index` as well) and check its class."""
    func = instance.get_func(store, name)
    assert func is not None and isinstance(func, mod.Func)
    index = instance.get_export_index(store, name)
    assert index is not None and isinstance(index, mod.ExportIndex)
    assert isinstance(instance.get_func(store, index), mod.Func)
    return func


def call(mod: ModuleType, store: Store, func: Any, *args: Any) -> Any:
    """Call with neutral arguments; return the neutral result (post-return included)."""
    result = func(store, *(to_host(a, mod) for a in args))
    func.post_return(store)
    return from_host(result, mod)


def reflect(mod: ModuleType, ty: Any) -> Any:
    """Structural form of a reflected `ValType`, checking it is the backend's class."""
    name = type(ty).__name__
    assert isinstance(ty, getattr(mod, name)) and isinstance(ty, mod.ValType)
    if name == "ListType":
        return (name, reflect(mod, ty.element))
    if name == "RecordType":
        return (name, tuple((n, reflect(mod, t)) for n, t in ty.fields))
    if name == "TupleType":
        return (name, tuple(reflect(mod, t) for t in ty.elements))
    if name == "VariantType":
        return (name, tuple((n, None if t is None else reflect(mod, t)) for n, t in ty.cases))
    if name in ("EnumType", "FlagsType"):
        return (name, tuple(ty.names))
    if name == "OptionType":
        return (name, reflect(mod, ty.payload))
    if name == "ResultType":
        return (name, None if ty.ok is None else reflect(mod, ty.ok),
                None if ty.err is None else reflect(mod, ty.err))
    return (name,)


PRIM_CLASSES = {"bool": "Bool", "s8": "S8", "u8": "U8", "s16": "S16", "u16": "U16", "s32": "S32",
                "u32": "U32", "s64": "S64", "u64": "U64", "f32": "F32", "f64": "F64",
                "char": "Char", "string": "String"}


def expected_reflection(ty: C.Ty) -> Any:
    """The structural form `reflect` should produce for a builder type."""
    if isinstance(ty, C.Prim):
        return (PRIM_CLASSES[ty.name],)
    if isinstance(ty, C.ListT):
        return ("ListType", expected_reflection(ty.elem))
    if isinstance(ty, C.RecordT):
        return ("RecordType", tuple((n, expected_reflection(t)) for n, t in ty.fields))
    if isinstance(ty, C.TupleT):
        return ("TupleType", tuple(expected_reflection(t) for t in ty.elems))
    if isinstance(ty, C.VariantT):
        return ("VariantType", tuple((n, None if t is None else expected_reflection(t))
                                     for n, t in ty.cases))
    if isinstance(ty, C.EnumT):
        return ("EnumType", ty.names)
    if isinstance(ty, C.FlagsT):
        return ("FlagsType", ty.names)
    if isinstance(ty, C.OptionT):
        return ("OptionType", expected_reflection(ty.inner))
    return ("ResultType", None if ty.ok is None else expected_reflection(ty.ok),
            None if ty.err is None else expected_reflection(ty.err))


def func_signature(mod: ModuleType, store: Store, func: Any) -> Any:
    """Structural form of `func.type(store)`: params with names, then result."""
    fty = func.type(store)
    assert isinstance(fty, mod.FuncType)
    params = tuple((n, reflect(mod, t)) for n, t in fty.params)
    result = None if fty.result is None else reflect(mod, fty.result)
    return params, result


def echo_results(mod: ModuleType, engine: Engine, cache: dict[tuple[str, str], Any],
                 case: Case) -> list[Any]:
    """Neutral results of echoing every value of `case` through the guest identity."""
    store, instance = instantiate(mod, engine, cache, C.identity_component(case.ty).wat)
    func = get_func(mod, store, instance, "echo")
    return [call(mod, store, func, v) for v in case.values]


def host_results(mod: ModuleType, engine: Engine, cache: dict[tuple[str, str], Any],
                 case: Case) -> tuple[list[Any], list[Any]]:
    """(values the host saw, results) of forwarding every value of `case` to a host import."""
    seen: list[Any] = []

    def host_fn(_store: Any, value: Any) -> Any:
        seen.append(from_host(value, mod))
        return value

    store, instance = instantiate(mod, engine, cache, C.host_roundtrip_component(case.ty).wat,
                                  {"host-fn": host_fn})
    func = get_func(mod, store, instance, "call-host")
    return seen, [call(mod, store, func, v) for v in case.values]


def assert_all_same(expected: Any, actual: Any) -> None:
    """Assert strict equality of two value sequences, showing the first mismatch."""
    assert len(expected) == len(actual)
    for e, a in zip(expected, actual, strict=True):
        assert same(e, a), f"expected {e!r}, got {a!r}"


# --------------------------------------------------------------------------
# Value round trips


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_guest_identity(backend: ModuleType, engine: Engine, compiled: dict, case: Case) -> None:
    assert_all_same(case.values, echo_results(backend, engine, compiled, case))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_host_import_roundtrip(backend: ModuleType, engine: Engine, compiled: dict,
                               case: Case) -> None:
    seen, results = host_results(backend, engine, compiled, case)
    assert_all_same(case.values, seen)
    assert_all_same(case.values, results)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_func_type_reflection(backend: ModuleType, engine: Engine, compiled: dict,
                              case: Case) -> None:
    store, instance = instantiate(backend, engine, compiled, C.identity_component(case.ty).wat)
    params, result = func_signature(backend, store, get_func(backend, store, instance, "echo"))
    expected = expected_reflection(case.ty)
    assert params == (("x", expected),)
    assert result == expected


@pytest.mark.parametrize("encoding", STRING_ENCODINGS)
def test_string_encodings(backend: ModuleType, engine: Engine, compiled: dict,
                          encoding: str) -> None:
    for built in (C.identity_component(C.STRING, encoding),
                  C.host_roundtrip_component(C.STRING, encoding)):
        store, instance = instantiate(backend, engine, compiled, built.wat,
                                      {"host-fn": lambda _s, x: x} if built.imports else None)
        func = get_func(backend, store, instance, built.exports[0].name)
        assert_all_same(ENCODING_STRINGS, [call(backend, store, func, s) for s in ENCODING_STRINGS])


MULTI_PARAMS = (("a", C.U8), ("b-name", C.STRING), ("c", C.F64), ("d", C.ListT(C.U32)),
                ("e", C.OptionT(C.STRING)), ("f", FEW_FLAGS))
MANY_U32 = tuple((f"p{i}", C.U32) for i in range(18))


@pytest.mark.parametrize("params,args", [
    (MULTI_PARAMS, (7, "bee", -1.5, [1, 2], "opt", {"write"})),
    (MANY_U32, tuple(range(100, 118))),  # 18 flat params: spilled to memory
    ((("r", WIDE_RECORD), ("s", C.STRING)),
     ({**{f"f{i}": i for i in range(17)}, "label": "w"}, "after")),
], ids=["mixed", "18-u32-spilled", "wide-record-spilled"])
def test_multiple_params(backend: ModuleType, engine: Engine, compiled: dict,
                         params: tuple, args: tuple) -> None:
    store, instance = instantiate(backend, engine, compiled, C.params_component(params).wat)
    func = get_func(backend, store, instance, "echo")
    assert same(call(backend, store, func, *args), tuple(args))
    expected = tuple((n, expected_reflection(t)) for n, t in params)
    assert func_signature(backend, store, func) == (
        expected, ("TupleType", tuple(e for _, e in expected)))


def test_noop_and_add(backend: ModuleType, engine: Engine, compiled: dict) -> None:
    store, instance = instantiate(backend, engine, compiled, C.simple_component().wat)
    noop = get_func(backend, store, instance, "noop")
    add = get_func(backend, store, instance, "add")
    assert noop(store) is None
    assert call(backend, store, add, 2, 3) == 5
    assert call(backend, store, add, 2**32 - 1, 2) == 1  # guest-side i32 wrap-around
    assert call(backend, store, add, True, 1) == 2  # a bool is an int
    assert func_signature(backend, store, noop) == ((), None)
    assert func_signature(backend, store, add) == ((("a", ("U32",)), ("b", ("U32",))), ("U32",))
    assert instance.get_func(store, "missing") is None


# --------------------------------------------------------------------------
# Host-side errors (identical on both backends)


@pytest.mark.parametrize("ty,bad,error,message", [
    (C.U32, "1", TypeError, None),
    (C.U32, 1.0, TypeError, None),
    (C.F64, 1, TypeError, None),
    (C.CHAR, "ab", TypeError, None),
    (C.CHAR, "", TypeError, None),
    (C.STRING, b"bytes", TypeError, None),
    (C.STRING, "\ud800", ValueError, None),  # lone surrogate in a string (not a char)
    (C.ListT(C.U8), [1, 2], TypeError, None),
    (C.ListT(C.U32), [1, "x"], TypeError, None),
    (C.TupleT((C.U8, C.U8)), (1,), TypeError, None),
    (C.TupleT((C.U8, C.U8)), [1, 2], TypeError, None),
    (C.record(a=C.U32, b_c=C.STRING), {"a": 1}, AttributeError, None),
    (C.variant(("n", C.U32), ("s", C.STRING)), 1.5, ValueError, None),
    (C.variant(("a", C.U32), ("b", C.U32)), 3, TypeError, None),
    (C.variant(("a", C.U32), ("b", C.U32)), Tag("c", 1), ValueError, None),
    (C.variant(("a", C.U32), ("b", C.U32)), Tag("a", "x"), TypeError, None),
    (C.OptionT(C.U32), "x", ValueError, None),
    (C.ResultT(), None, TypeError, None),
    (C.ResultT(C.U32, C.STRING), None, ValueError, None),
    (C.EnumT(("a", "b")), "c", WasmtimeError, "`c`"),
    (C.EnumT(("a", "b")), 0, TypeError, None),
    (C.FlagsT(("a", "b")), {"c"}, WasmtimeError, "`c`"),
    (C.FlagsT(("a", "b")), ["a"], TypeError, None),
], ids=lambda v: repr(v) if isinstance(v, (str, bytes, int, float, list, tuple, dict, Tag)) else None)
def test_bad_argument(backend: ModuleType, engine: Engine, compiled: dict, ty: C.Ty, bad: Any,
                      error: type, message: str | None) -> None:
    store, instance = instantiate(backend, engine, compiled, C.identity_component(ty).wat)
    func = get_func(backend, store, instance, "echo")
    with pytest.raises(error, match=message):
        func(store, to_host(bad, backend))


def test_wrong_arity(backend: ModuleType, engine: Engine, compiled: dict) -> None:
    store, instance = instantiate(backend, engine, compiled, C.simple_component().wat)
    add = get_func(backend, store, instance, "add")
    with pytest.raises(TypeError, match="wrong number of parameters"):
        add(store, 1)
    with pytest.raises(TypeError, match="wrong number of parameters"):
        add(store, 1, 2, 3)
    assert call(backend, store, add, 1, 2) == 3  # a host-side error does not poison the store


# --------------------------------------------------------------------------
# Traps and poisoning


def test_trap_then_cannot_enter(backend: ModuleType, engine: Engine, compiled: dict) -> None:
    store, instance = instantiate(backend, engine, compiled, C.simple_component().wat)
    add = get_func(backend, store, instance, "add")
    assert call(backend, store, add, 1, 1) == 2
    with pytest.raises(WasmtimeError, match="unreachable"):
        get_func(backend, store, instance, "trap")(store)
    for func in (add, get_func(backend, store, instance, "noop"),
                 get_func(backend, store, instance, "trap")):
        with pytest.raises(WasmtimeError, match="cannot enter component instance"):
            func(store) if func is not add else func(store, 1, 1)
    # The whole store is poisoned: a fresh instance in the same store fails too.
    other = backend.Linker(engine).instantiate(store, compiled[(backend.__name__, C.simple_component().wat)])
    with pytest.raises(WasmtimeError, match="cannot enter component instance"):
        other.get_func(store, "noop")(store)
    # Another store is unaffected.
    store2, instance2 = instantiate(backend, engine, compiled, C.simple_component().wat)
    assert call(backend, store2, get_func(backend, store2, instance2, "add"), 4, 5) == 9


class HostFailure(Exception):
    """Raised by a host function; must reach the caller unchanged."""


def test_host_exception_propagates(backend: ModuleType, engine: Engine, compiled: dict) -> None:
    def failing(_store: Any, x: int) -> int:
        raise HostFailure(f"host saw {x}")

    store, instance = instantiate(backend, engine, compiled, C.reentrant_component().wat,
                                  {"host-fn": failing})
    run = get_func(backend, store, instance, "run")
    with pytest.raises(HostFailure, match="host saw 3"):
        run(store, 3)
    with pytest.raises(WasmtimeError, match="cannot enter component instance"):
        run(store, 4)


def test_host_bad_return_value(backend: ModuleType, engine: Engine, compiled: dict) -> None:
    store, instance = instantiate(backend, engine, compiled, C.reentrant_component().wat,
                                  {"host-fn": lambda _s, x: "not an int"})
    run = get_func(backend, store, instance, "run")
    with pytest.raises(TypeError):
        run(store, 1)
    with pytest.raises(WasmtimeError, match="cannot enter component instance"):
        run(store, 1)


def test_host_receives_store_context(backend: ModuleType, engine: Engine, compiled: dict) -> None:
    calls: list[int] = []

    def host_fn(store_ctx: Any, x: int) -> int:
        assert store_ctx is not None
        calls.append(x)
        return x * 2

    store, instance = instantiate(backend, engine, compiled, C.reentrant_component().wat,
                                  {"host-fn": host_fn})
    run = get_func(backend, store, instance, "run")
    assert [call(backend, store, run, i) for i in range(5)] == [0, 2, 4, 6, 8]
    assert calls == [0, 1, 2, 3, 4]


def test_reentrance(backend: ModuleType, engine: Engine, compiled: dict) -> None:
    funcs: dict[str, Any] = {}

    def host_fn(store_ctx: Any, x: int) -> int:
        if x == 0:
            return 100
        return int(funcs["run"](store_ctx, 0)) + x  # re-enter the calling instance

    store, instance = instantiate(backend, engine, compiled, C.reentrant_component().wat,
                                  {"host-fn": host_fn})
    funcs["run"] = get_func(backend, store, instance, "run")
    if backend.__name__ == "wasmtime.component":
        # Divergence: wasmtime.component 50 lets the nested call run.
        assert funcs["run"](store, 1) == 101
    else:
        with pytest.raises(WasmtimeError, match="cannot enter component instance"):
            funcs["run"](store, 1)


# --------------------------------------------------------------------------
# Component-level errors


def test_too_many_flags_rejected(backend: ModuleType, engine: Engine) -> None:
    # The spec (and wasmtime 50) limit flags to 32 labels.
    with pytest.raises(WasmtimeError):
        backend.Component(engine, C.identity_component(C.FlagsT(tuple(f"f{i}" for i in range(33)))).wat)


# --------------------------------------------------------------------------
# Documented divergences: wasmcomponent alone


@pytest.mark.parametrize("ty,value,expected", [
    (C.ListT(C.U8), bytearray(b"ab"), b"ab"),
    (C.ListT(C.U8), memoryview(b"ab"), b"ab"),
    (C.ListT(C.U32), (1, 2), [1, 2]),
], ids=["bytearray", "memoryview", "tuple"])
def test_extra_list_containers(backend: ModuleType, engine: Engine, compiled: dict, ty: C.Ty,
                               value: Any, expected: Any) -> None:
    # Divergence: wasmtime-py accepts only `bytes` for list<u8> and only `list`
    # for other lists; wasmcomponent also takes bytearray/memoryview (no copy
    # needed by the caller) and tuples.  Results are lifted as in wasmtime-py.
    store, instance = instantiate(backend, engine, compiled, C.identity_component(ty).wat)
    func = get_func(backend, store, instance, "echo")
    if backend.__name__ == "wasmtime.component":
        with pytest.raises(TypeError):
            func(store, value)
    else:
        assert func(store, value) == expected


@pytest.mark.parametrize("ty,bad", [
    (C.U8, 256), (C.U8, -1), (C.S8, 128), (C.S8, -129), (C.U16, 65536), (C.S16, -32769),
    (C.U32, 2**32), (C.U32, -1), (C.S32, 2**31), (C.U64, 2**64), (C.U64, -1), (C.S64, 2**63),
    (C.S64, -2**63 - 1),
], ids=lambda v: repr(v))
def test_out_of_range_int_raises_in_wasmcomponent(engine: Engine, compiled: dict, ty: C.Ty,
                                                  bad: int) -> None:
    mod = load_backend("wasmcomponent")
    store, instance = instantiate(mod, engine, compiled, C.identity_component(ty).wat)
    with pytest.raises(ValueError):
        get_func(mod, store, instance, "echo")(store, bad)


def test_out_of_range_int_wraps_in_wasmtime(engine: Engine, compiled: dict) -> None:
    mod = load_backend("wasmtime")
    store, instance = instantiate(mod, engine, compiled, C.identity_component(C.U8).wat)
    assert get_func(mod, store, instance, "echo")(store, 300) == 44


@pytest.mark.parametrize("bad", ["\ud800", "\udfff"], ids=["high", "low"])
def test_surrogate_char_raises_in_wasmcomponent(engine: Engine, compiled: dict, bad: str) -> None:
    # Never run on wasmtime.component: it aborts the process.
    mod = load_backend("wasmcomponent")
    store, instance = instantiate(mod, engine, compiled, C.identity_component(C.CHAR).wat)
    with pytest.raises(ValueError):
        get_func(mod, store, instance, "echo")(store, bad)


# --------------------------------------------------------------------------
# Cross-check: both backends in one test


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_cross_check(engine: Engine, compiled: dict, case: Case) -> None:
    reference = load_backend("wasmtime")
    candidate = load_backend("wasmcomponent")
    assert_all_same(echo_results(reference, engine, compiled, case),
                    echo_results(candidate, engine, compiled, case))
    assert_all_same(host_results(reference, engine, compiled, case)[1],
                    host_results(candidate, engine, compiled, case)[1])
    signatures = []
    for mod in (reference, candidate):
        store, instance = instantiate(mod, engine, compiled, C.identity_component(case.ty).wat)
        signatures.append(func_signature(mod, store, get_func(mod, store, instance, "echo")))
    assert signatures[0] == signatures[1]
