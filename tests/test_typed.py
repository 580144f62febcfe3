"""``Func.typed``: declared Python types checked once, then plain fast calls."""

from __future__ import annotations

from typing import Any, Optional, Union

import pytest
import wasmtime

import components as C
from wasmcomponent import Component, Linker, Record, Variant
from wasmcomponent.runtime.func import Func, TypedFunc
from wasmcomponent.runtime.typed import check_signature
from wasmcomponent.types.model import (
    STRING,
    U8,
    U32,
    EnumType,
    FlagsType,
    FuncType,
    ListType,
    MapType,
    OptionType,
    PrimType,
    RecordType,
    ResultType,
    TupleType,
    VariantType,
)

PERSON = C.record(id=C.U32, name=C.STRING, tags=C.ListT(C.STRING))


@pytest.fixture(scope="module")
def funcs() -> tuple[wasmtime.Store, dict[str, Func]]:
    exports = [
        *C.simple_component().exports,
        C.identity_export("echo-string", [("x", C.STRING)]),
        C.identity_export("echo-option", [("x", C.OptionT(C.STRING))]),
        C.identity_export("echo-people", [("x", C.ListT(PERSON))]),
        C.identity_export("echo-bytes", [("x", C.ListT(C.U8))]),
    ]
    built = C.build_component(exports)
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    instance = Linker(engine).instantiate(store, Component(engine, built.wat))
    names = ["noop", "add", "trap", "echo-string", "echo-option", "echo-people", "echo-bytes"]
    return store, {name: instance.get_func(store, name) for name in names}


def test_typed_calls_like_the_func(funcs: tuple[wasmtime.Store, dict[str, Func]]) -> None:
    store, f = funcs
    add = f["add"].typed(store, [int, int], int)
    assert isinstance(add, TypedFunc) and isinstance(add, Func)
    assert add(store, 2, 3) == 5
    assert add.declared == ((int, int), int)
    assert type(add).__call__ is type(f["add"]).__call__  # the same generated call path
    noop = f["noop"].typed(store, [], None)
    assert noop(store) is None
    echo = f["echo-string"].typed(store, [str], str)
    assert echo(store, "héllo") == "héllo"
    option = f["echo-option"].typed(store, [Optional[str]], Optional[str])
    assert option(store, None) is None and option(store, "x") == "x"
    people = f["echo-people"].typed(store, [list[Record]], list[Record])
    out = people(store, [Record(id=1, name="a", tags=["t"])])
    assert [(r.id, r.name, r.tags) for r in out] == [(1, "a", ["t"])]
    assert f["echo-bytes"].typed(store, [bytes], bytes)(store, b"\x00\x01") == b"\x00\x01"
    assert f["echo-bytes"].typed(store, [bytearray], bytes)(store, bytearray(b"z")) == b"z"


def test_typed_calls_still_check_values(funcs: tuple[wasmtime.Store, dict[str, Func]]) -> None:
    store, f = funcs
    add = f["add"].typed(store, [int, int], int)
    with pytest.raises(ValueError, match="out of range"):
        add(store, -1, 0)
    with pytest.raises(TypeError, match="wrong number of parameters"):
        add(store, 1)
    assert add(store, 1, 1) == 2  # still usable


def test_typed_any_accepts_everything(funcs: tuple[wasmtime.Store, dict[str, Func]]) -> None:
    store, f = funcs
    assert f["add"].typed(store, [Any, object], Any)(store, 1, 2) == 3


@pytest.mark.parametrize(
    ("export", "params", "result", "message"),
    [
        ("add", [str, int], int, "type mismatch with parameters: parameter `a`: expected a Python type for `u32`"),
        ("add", [int, float], int, "type mismatch with parameters: parameter `b`"),
        ("add", [int], int, "type mismatch with parameters: expected 2 types, found 1"),
        ("add", [int, int], str, "type mismatch with results: expected a Python type for `u32`, found `str`"),
        ("add", [int, int], None, "type mismatch with results: expected a Python type for `u32`, found `None`"),
        ("noop", [], int, "type mismatch with results: the function has no result, found `int`"),
        ("echo-string", [bytes], str, "type mismatch with parameters"),
        ("echo-option", [Optional[str]], str, "type mismatch with results"),
        ("echo-option", [Optional[int]], Optional[str], "type mismatch with parameters"),
        ("echo-people", [list[int]], list[Record], "parameter `x`: list element: expected a Python type for `record`"),
        ("echo-bytes", [list[int]], bytes, "type mismatch with parameters"),
        ("echo-bytes", [bytes], bytearray, "type mismatch with results"),
    ],
)
def test_type_mismatch(
    funcs: tuple[wasmtime.Store, dict[str, Func]], export: str, params: list[Any], result: Any, message: str
) -> None:
    store, f = funcs
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        f[export].typed(store, params, result)


def _sig(param: Any, result: Any = None) -> FuncType:
    return FuncType((("x", param),), result)


@pytest.mark.parametrize(
    ("t", "param_ok", "result_ok", "wrong"),
    [
        (PrimType("bool"), bool, bool, int),
        (PrimType("s64"), int, int, float),
        (PrimType("f32"), float, float, int),
        (PrimType("char"), str, str, bytes),
        (EnumType(("a", "b")), str, str, int),
        (FlagsType(("a", "b")), frozenset, set[str], list),
        (TupleType((U32, STRING)), tuple[int, str], tuple, tuple[int, int]),
        (MapType(STRING, U32), dict[str, int], dict, dict[str, str]),
        (ListType(U8), memoryview, bytes, list[int]),
        (ListType(U32, 3), list[int], list, bytes),
        (RecordType((("a", U32),)), dict, Record, int),
        (OptionType(U32), Optional[int], Optional[int], Optional[str]),
        (OptionType(OptionType(U32)), Variant, Variant, Optional[int]),
        (ResultType(U32, STRING), Union[int, str], Union[int, str], Union[int, bytes]),
        (VariantType((("a", U32), ("b", None))), Union[int, None], Optional[int], str),
    ],
)
def test_check_signature_rules(t: Any, param_ok: Any, result_ok: Any, wrong: Any) -> None:
    check_signature(_sig(t), [param_ok], None)
    check_signature(FuncType((), t), [], result_ok)
    with pytest.raises(TypeError, match="type mismatch with parameters"):
        check_signature(_sig(t), [wrong], None)
    with pytest.raises(TypeError, match="type mismatch with results"):
        check_signature(FuncType((), t), [], wrong)


def test_results_must_cover_every_case() -> None:
    three = VariantType((("a", U32), ("b", STRING), ("c", None)))
    with pytest.raises(TypeError, match="type mismatch with results: a case of `variant`"):
        check_signature(FuncType((), three), [], Optional[int])
    with pytest.raises(TypeError, match="type mismatch with results: `variant` can be `None`"):
        check_signature(FuncType((), three), [], Union[int, str])
    check_signature(FuncType((), three), [], Union[int, str, None])
    # a parameter may declare a narrower union: only those values will be passed
    check_signature(_sig(ResultType(U32, STRING)), [int], None)


def test_typed_calls_still_check_every_element(funcs: tuple[wasmtime.Store, dict[str, Func]]) -> None:
    """A declared ``list[Record]`` does not stop a caller from passing other values: they are refused."""
    store, f = funcs
    people = f["echo-people"].typed(store, [list[Record]], list[Record])
    with pytest.raises(TypeError, match="list element 1"):
        people(store, [Record(id=1, name="a", tags=[]), 5])
    with pytest.raises(ValueError, match="out of range"):
        people(store, [Record(id=-1, name="a", tags=[])])
    assert people(store, []) == []
