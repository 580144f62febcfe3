"""The fast call paths behave exactly like the interpreters.

``WASMCOMPONENT_FORCE_INTERPRETER=1`` makes every call go through the
spec-shaped interpreters (and the general call path).  Without it, exported
functions run generated ``__call__`` code with inline scalar checks, scalar
host imports run inside the engine's trampoline, records use generated
loaders/storers and strings a fused utf-8 path.  These tests drive both on
the same components with random (valid and invalid) Python values and
compare everything observable: the result, or the exception's class and
message, and afterwards whether the instance is still usable.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import components as C
from test_abi import ENCODINGS, ToyHeap
from wasmcomponent import Component, Linker, Record, Variant
from wasmcomponent.abi.compile import FORCE_INTERPRETER_ENV, compile_func
from wasmcomponent.errors import ComponentTrap
from wasmcomponent.runtime.func import Func
from wasmcomponent.types.model import (
    BOOL,
    S32,
    STRING,
    U8,
    U32,
    FuncType,
    ListType,
    OptionType,
    PrimType,
    RecordType,
    ResultType,
    TupleType,
    VariantType,
)

SCALARS = ["bool", "s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64", "f32", "f64", "char"]
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any Python value a caller might pass for a scalar: in and out of range, wrong types.
ANY_SCALAR = st.one_of(
    st.integers(-(2**65), 2**65),
    st.sampled_from([0, 1, -1, 127, 128, 255, 256, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63, 2**64 - 1, 2**64]),
    st.booleans(),
    st.floats(width=32),
    st.floats(),
    st.text(max_size=2),
    st.none(),
    st.just(b"x"),
)


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """The result of ``call()``, or the class and message of what it raised."""
    try:
        return ("ok", call())
    except (TypeError, ValueError, OverflowError, ComponentTrap, wasmtime.WasmtimeError) as err:
        return ("error", type(err), str(err))


def same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN and compares types strictly."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


class Pair:
    """One component instantiated twice: generated paths and forced interpreters."""

    def __init__(self, built: C.Built, host: Callable[..., Any] | None = None) -> None:
        engine = wasmtime.Engine()
        component = Component(engine, built.wat)
        self.fast = self._instantiate(engine, component, host, interpret=False)
        self.slow = self._instantiate(engine, component, host, interpret=True)

    @staticmethod
    def _instantiate(
        engine: wasmtime.Engine, component: Component, host: Callable[..., Any] | None, interpret: bool
    ) -> tuple[wasmtime.Store, Any]:
        with pytest.MonkeyPatch.context() as mp:
            if interpret:
                mp.setenv(FORCE_INTERPRETER_ENV, "1")
            else:
                mp.delenv(FORCE_INTERPRETER_ENV, raising=False)
            store = wasmtime.Store(engine)
            linker = Linker(engine)
            if host is not None:
                with linker.root() as root:
                    root.add_func("host-fn", host)
            instance = linker.instantiate(store, component)
            funcs = {e: instance.get_func(store, e) for e in ("echo", "call-host", "add")}
        return store, funcs

    def both(self, export: str, *args: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        results = []
        for store, funcs in (self.fast, self.slow):
            func = funcs[export]
            results.append(outcome(lambda func=func, store=store: func(store, *args)))
        return results[0], results[1]


def check_same(pair: Pair, export: str, *args: Any) -> None:
    fast, slow = pair.both(export, *args)
    assert same(fast, slow), (args, fast, slow)


@pytest.fixture(scope="module")
def echo_pairs() -> dict[str, Pair]:
    return {name: Pair(C.identity_component(C.Prim(name))) for name in SCALARS}


@pytest.fixture(scope="module")
def host_pairs() -> Iterator[dict[str, tuple[Pair, list[Any]]]]:
    """Host round trips whose host function returns whatever the test puts in ``box``."""
    pairs = {}
    for name in SCALARS:
        box: list[Any] = [None]
        received: list[Any] = []

        def host(store: Any, x: Any, box: list[Any] = box, received: list[Any] = received) -> Any:
            received.append(x)
            return x if box[0] is None else box[0][0]

        pairs[name] = (Pair(C.host_roundtrip_component(C.Prim(name)), host), box)
    yield pairs


def test_scalar_exports_use_the_generated_path(echo_pairs: dict[str, Pair]) -> None:
    fast_func = echo_pairs["u32"].fast[1]["echo"]
    slow_func = echo_pairs["u32"].slow[1]["echo"]
    assert isinstance(fast_func, Func) and isinstance(slow_func, Func)
    assert type(fast_func).__call__ is not Func.__call__
    assert fast_func._slow and not slow_func._slow  # inline scalars only when compiled


@pytest.mark.parametrize("name", SCALARS)
@EXAMPLES
@given(value=ANY_SCALAR)
def test_scalar_export_matches_interpreter(echo_pairs: dict[str, Pair], name: str, value: Any) -> None:
    check_same(echo_pairs[name], "echo", value)


@pytest.mark.parametrize("name", SCALARS)
@EXAMPLES
@given(value=ANY_SCALAR, returned=st.one_of(st.none(), ANY_SCALAR.map(lambda v: (v,))))
def test_scalar_host_import_matches_interpreter(
    host_pairs: dict[str, tuple[Pair, list[Any]]], name: str, value: Any, returned: Any
) -> None:
    pair, box = host_pairs[name]
    box[0] = returned
    try:
        fast, slow = pair.both("call-host", value)
    finally:
        box[0] = None
    assert same(fast, slow), (value, returned, fast, slow)


def test_arity_and_poisoning_match(echo_pairs: dict[str, Pair]) -> None:
    pair = echo_pairs["u32"]
    check_same(pair, "echo")
    check_same(pair, "echo", 1, 2)
    check_same(pair, "echo", 7)


def test_host_exception_traps_and_poisons_both() -> None:
    def host(store: Any, x: int) -> int:
        raise RuntimeError("boom")

    pair = Pair(C.host_roundtrip_component(C.U32), host)
    for store, funcs in (pair.fast, pair.slow):
        with pytest.raises(RuntimeError, match="boom"):
            funcs["call-host"](store, 1)
        with pytest.raises(ComponentTrap, match="cannot enter component instance"):
            funcs["call-host"](store, 1)


def test_host_returning_a_value_for_no_result_matches() -> None:
    imp = C.Import("host-fn", (("x", C.U32),), None)
    built = C.build_component([C.forward_export("call-host", imp)], [imp])
    pair = Pair(built, lambda store, x: 5)
    fast, slow = pair.both("call-host", 1)
    assert fast == slow and fast[0] == "error", fast


MIXED = C.record(id=C.U32, name=C.STRING, tags=C.ListT(C.STRING), flag=C.BOOL, small=C.Prim("s8"))


def _mixed_values() -> st.SearchStrategy[Any]:
    text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
    good = st.builds(
        lambda i, n, t, f, s: Record(id=i, name=n, tags=t, flag=f, small=s),
        st.integers(0, 2**32 - 1),
        text,
        st.lists(text, max_size=3),
        st.booleans(),
        st.integers(-128, 127),
    )
    bad_field = st.one_of(st.integers(-5, 2**33), text, st.none(), st.booleans(), st.lists(text, max_size=2))
    bad = st.builds(
        lambda i, n, t, f, s: Record(id=i, name=n, tags=t, flag=f, small=s),
        bad_field, bad_field, bad_field, bad_field, bad_field,
    )
    return st.one_of(good, bad, st.builds(dict, id=st.integers(0, 9), name=text))


@pytest.fixture(scope="module")
def record_pair() -> Pair:
    return Pair(C.identity_component(C.ListT(MIXED)))


@EXAMPLES
@given(values=st.lists(_mixed_values(), max_size=5))
def test_record_list_export_matches_interpreter(record_pair: Pair, values: list[Any]) -> None:
    fast, slow = record_pair.both("echo", values)
    assert fast[0] == slow[0], (fast, slow)
    if fast[0] == "ok":
        assert [vars(r) for r in fast[1]] == [vars(r) for r in slow[1]]
    else:
        assert fast[1:] == slow[1:]


# ---------------------------------------------------------------- ABI level

RECORD_TYPES = [
    RecordType((("id", U32), ("name", STRING), ("tags", ListType(STRING)))),
    RecordType((("a", BOOL), ("b", PrimType("s8")), ("c", PrimType("f64")), ("d", STRING))),
    RecordType((("x", OptionType(STRING)), ("y", ListType(U8)), ("z", TupleType((S32, STRING))))),
    TupleType((STRING, U32, ListType(STRING), BOOL)),
]


def _value_for(t: Any) -> st.SearchStrategy[Any]:
    text = st.text(max_size=5)  # surrogates included: both sides must reject them alike
    if isinstance(t, RecordType):
        return st.builds(lambda d: Record(**d), st.fixed_dictionaries({n: _value_for(ft) for n, ft in t.fields}))
    if isinstance(t, TupleType):
        return st.tuples(*(_value_for(e) for e in t.elements))
    if isinstance(t, ListType):
        return st.binary(max_size=4) if t.element == U8 else st.lists(_value_for(t.element), max_size=3)
    if isinstance(t, OptionType):
        return st.one_of(st.none(), _value_for(t.payload))
    if t == STRING:
        return st.one_of(text, st.integers(0, 3))
    if t == BOOL:
        return st.one_of(st.booleans(), st.integers(0, 1))
    if t == PrimType("f64"):
        return st.one_of(st.floats(), st.integers(0, 2))
    return st.integers(-(2**32), 2**33)


def _abi_run(t: Any, v: Any, encoding: str, interpret: bool) -> tuple[Any, ...]:
    heap = ToyHeap(size=1 << 18)
    ft = FuncType((("p", ListType(t)),), ListType(t))
    cf = compile_func(ft, encoding, interpret=interpret)
    cx = heap.cx(encoding)
    try:
        flat = cf.lower_params(cx, [v])
        lifted = cf.lift_params(cx, flat)
        results = cf.lower_results(cx, v, [*flat, 1 << 17])
        back = cf.lift_results(cx, [1 << 17])
    except (TypeError, ValueError, ComponentTrap) as err:
        return ("error", type(err), str(err), heap.trace, bytes(heap.memory.data))
    return ("ok", flat, repr(lifted), results, repr(back), heap.trace, bytes(heap.memory.data))


@pytest.mark.parametrize("t", RECORD_TYPES, ids=["person", "scalars", "nested", "tuple"])
@EXAMPLES
@given(data=st.data(), encoding=st.sampled_from(ENCODINGS))
def test_generated_record_code_matches_interpreter(t: Any, data: st.DataObject, encoding: str) -> None:
    values = data.draw(st.lists(_value_for(t), max_size=4))
    compiled = _abi_run(t, values, encoding, False)
    interpreted = _abi_run(t, values, encoding, True)
    assert compiled == interpreted


@EXAMPLES
@given(ptr=st.integers(0, 2**32 - 1), units=st.integers(0, 2**32 - 1), encoding=st.sampled_from(ENCODINGS))
def test_string_lifting_traps_match(ptr: int, units: int, encoding: str) -> None:
    ft = FuncType((), STRING)
    results = []
    for interpret in (False, True):
        heap = ToyHeap(size=1 << 12)
        heap.write(64, ptr.to_bytes(4, "little") + units.to_bytes(4, "little"))
        heap.write(128, "héllo wörld".encode())
        cf = compile_func(ft, encoding, interpret=interpret)
        results.append(outcome(lambda cf=cf, heap=heap: cf.lift_results(heap.cx(encoding), [64])))
    assert same(results[0], results[1]), results


INT_TYPES = [PrimType(n) for n in ("s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64")]


@EXAMPLES
@given(data=st.data())
def test_spilled_integer_params_match_interpreter(data: st.DataObject) -> None:
    types = data.draw(st.lists(st.sampled_from(INT_TYPES), min_size=17, max_size=20))
    values = data.draw(st.lists(st.one_of(st.integers(-(2**64), 2**64), ANY_SCALAR), min_size=len(types),
                                max_size=len(types)))
    ft = FuncType(tuple((f"p{i}", t) for i, t in enumerate(types)), None)
    runs = []
    for interpret in (False, True):
        heap = ToyHeap(size=1 << 12)
        cf = compile_func(ft, "utf8", interpret=interpret)
        assert cf.params_spill
        runs.append((outcome(lambda cf=cf, heap=heap: cf.lower_params(heap.cx(), values)), heap.trace,
                     bytes(heap.memory.data)))
    assert runs[0] == runs[1]


# ------------------------------------------------ variant and string generated code

VARIANT_TYPES = [
    OptionType(STRING),
    ResultType(STRING, U32),
    ResultType(U32, STRING),
    ResultType(None, STRING),
    VariantType((("a", STRING), ("b", U32), ("c", None), ("d", PrimType("f64")))),
    OptionType(OptionType(STRING)),
    VariantType((("x", STRING), ("y", STRING))),  # tagged: no fast path, same results
    STRING,
]


def _variant_value(t: Any) -> st.SearchStrategy[Any]:
    text = st.text(max_size=5)  # surrogates included
    anything = st.one_of(st.none(), text, st.integers(-3, 2**33), st.floats(), st.just(b"x"),
                         st.builds(Variant, st.sampled_from(["a", "b", "c", "d", "x", "y", "ok", "err", "q"]),
                                   st.one_of(st.none(), text, st.integers(0, 9))))
    return anything


def _single_run(t: Any, v: Any, encoding: str, interpret: bool) -> tuple[Any, ...]:
    heap = ToyHeap(size=1 << 14)
    ft = FuncType((("p", t),), t)
    cf = compile_func(ft, encoding, interpret=interpret)
    cx = heap.cx(encoding)
    try:
        flat = cf.lower_params(cx, [v])
        lifted = cf.lift_params(cx, flat)
        results = cf.lower_results(cx, lifted[0], [*flat, 1 << 13])
        back = cf.lift_results(cx, [1 << 13])
    except (TypeError, ValueError, ComponentTrap) as err:
        return ("error", type(err), str(err), heap.trace, bytes(heap.memory.data))
    return ("ok", flat, repr(lifted), results, repr(back), heap.trace, bytes(heap.memory.data))


def test_variant_and_string_signatures_use_generated_code() -> None:
    def made_by_exec(f: Any) -> bool:
        return f.__code__.co_filename.startswith("<")

    assert made_by_exec(compile_func(FuncType((("p", OptionType(STRING)),), None)).lower_params)
    assert compile_func(FuncType((("p", STRING),), None)).lower_params.__name__ == "lower_string_param"
    assert compile_func(FuncType((), STRING)).host_lift_results().__name__ == "lift_string_result"


@pytest.mark.parametrize("t", VARIANT_TYPES, ids=[str(i) for i in range(len(VARIANT_TYPES))])
@EXAMPLES
@given(data=st.data(), encoding=st.sampled_from(ENCODINGS))
def test_generated_variant_code_matches_interpreter(t: Any, data: st.DataObject, encoding: str) -> None:
    value = data.draw(_variant_value(t))
    assert _single_run(t, value, encoding, False) == _single_run(t, value, encoding, True)


@pytest.mark.parametrize("t", VARIANT_TYPES[:5], ids=[str(i) for i in range(5)])
@EXAMPLES
@given(disc=st.integers(0, 300), ptr=st.integers(0, 2**32 - 1), units=st.integers(0, 2**14),
       encoding=st.sampled_from(ENCODINGS))
def test_variant_loading_traps_match(t: Any, disc: int, ptr: int, units: int, encoding: str) -> None:
    results = []
    for interpret in (False, True):
        heap = ToyHeap(size=1 << 12)
        heap.write(64, disc.to_bytes(4, "little") + ptr.to_bytes(4, "little") + units.to_bytes(4, "little"))
        heap.write(128, "héllo wörld".encode())
        cf = compile_func(FuncType((), t), encoding, interpret=interpret)
        results.append(outcome(lambda cf=cf, heap=heap: cf.lift_results(heap.cx(encoding), [64])))
    assert same(results[0], results[1]), results
