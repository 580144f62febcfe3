"""The Canonical ABI of the async Component Model (issue #12, ABI level).

* streams, futures and error contexts cross as one ``i32`` through the
  context's hooks, in every position, with the right type and index;
* ``canon lower ... async`` signatures: 4 flat params before they spill,
  the result always stored through the out-pointer;
* ``canon lift ... async``: no ``lift_results``; ``task.return`` lifts the
  result from up to 16 flat values, else through one pointer;
* stream/future buffers (``abi.buffers.element_codec``): ranges, traps,
  bulk copies of plain elements, round trips.

Everything runs through the specialised code and the interpreters, and
memory layouts are checked against hand-computed bytes.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_abi import Handle, HandleContext, ToyHeap, same_value
from test_abi_props import values_of
from wasmcomponent.abi.buffers import PLAIN_ELEMENTS, element_codec
from wasmcomponent.abi.compile import MAX_FLAT_ASYNC_PARAMS, compile_func, compile_task_return
from wasmcomponent.abi.context import HOSTCALL_FUEL_EXHAUSTED, CanonicalOptions, LiftLowerContext
from wasmcomponent.errors import ComponentTrap, UnsupportedError
from wasmcomponent.types.model import (
    BOOL,
    CHAR,
    F32,
    F64,
    PRIMITIVES,
    S8,
    S16,
    S64,
    STRING,
    U8,
    U16,
    U32,
    U64,
    EnumType,
    FlagsType,
    FuncType,
    FutureType,
    ListType,
    OptionType,
    RecordType,
    ResultType,
    StreamType,
    TupleType,
    ValType,
    VariantType,
)
from wasmcomponent.types.values import Record, Variant

ERROR_CONTEXT = PRIMITIVES["error-context"]
BOTH = pytest.mark.parametrize("interpret", [False, True], ids=["compiled", "interpreted"])
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def func(*params: ValType, result: ValType | None = None) -> FuncType:
    return FuncType(tuple((f"p{i}", t) for i, t in enumerate(params)), result)


def handle(t: Any, index: int) -> Handle:
    if isinstance(t, StreamType):
        return Handle("stream", t, index)
    if isinstance(t, FutureType):
        return Handle("future", t, index)
    return Handle("error-context", None, index)


# ------------------------------------------------------------------ hooks


@BOTH
def test_flat_handles_go_through_the_hooks(interpret: bool) -> None:
    s, f = StreamType(U8), FutureType(STRING)
    cf = compile_func(func(s, f, ERROR_CONTEXT, result=StreamType(None)), interpret=interpret)
    heap = ToyHeap()
    cx = heap.cx()
    # negative core values are the same i32 bits
    assert cf.lift_params(cx, [3, -1, 5]) == [Handle("stream", s, 3), Handle("future", f, 2**32 - 1), handle(None, 5)]
    assert heap.handle_log == [("lift_stream", s, 3), ("lift_future", f, 2**32 - 1), ("lift_error_context", None, 5)]
    heap.handle_log.clear()
    assert cf.lower_params(cx, [handle(s, 7), handle(f, 8), handle(None, 9)]) == [7, 8, 9]
    assert heap.handle_log == [("lower_stream", s, 7), ("lower_future", f, 8), ("lower_error_context", None, 9)]
    assert cf.lower_results(cx, handle(StreamType(None), 4), [0, 0, 0]) == [4]
    assert cf.lift_results(cx, [6]) == Handle("stream", StreamType(None), 6)
    assert not heap.trace  # handles need no memory


@BOTH
def test_handles_in_memory_records_lists_and_variants(interpret: bool) -> None:
    """A record of handles inside a list: the layout by hand, every hook call in order."""
    s, f = StreamType(U32), FutureType(None)
    rec = RecordType((("a", U8), ("s", s), ("o", OptionType(f)), ("e", ERROR_CONTEXT)))
    # a: u8 @0, s: i32 @4, o: option (disc u8 @8, payload @12), e @16 -> size 20, align 4
    cf = compile_func(func(ListType(rec)), interpret=interpret)
    heap = ToyHeap()
    cx = heap.cx()
    # option<future> is tagged: until the runtime registers the Python class of
    # futures, their class is `object`, which overlaps `none` (types.values)
    values = [
        Record(a=1, s=handle(s, 10), o=Variant("some", handle(f, 11)), e=handle(None, 12)),
        Record(a=2, s=handle(s, 13), o=Variant("none", None), e=handle(None, 14)),
    ]
    ptr, length = cf.lower_params(cx, [values])
    assert length == 2 and heap.trace == [(0, 0, 4, 40)]
    assert heap.read(ptr, 40) == struct.pack("<B3xIB3xII", 1, 10, 1, 11, 12) + struct.pack("<B3xIB3xII", 2, 13, 0, 0, 14)
    assert [c[0] for c in heap.handle_log] == ["lower_stream", "lower_future", "lower_error_context"] * 1 + [
        "lower_stream",
        "lower_error_context",
    ]
    heap.handle_log.clear()
    back = cf.lift_params(cx, [ptr, length])[0]
    assert same_value(back, values)
    assert heap.handle_log == [
        ("lift_stream", s, 10),
        ("lift_future", f, 11),
        ("lift_error_context", None, 12),
        ("lift_stream", s, 13),
        ("lift_error_context", None, 14),
    ]


@BOTH
def test_handle_in_a_joined_variant_slot(interpret: bool) -> None:
    """A stream sharing an i64 slot with a u64 case comes back from the low 32 bits."""
    s = StreamType(U8)
    v = VariantType((("a", s), ("b", U64)))
    cf = compile_func(func(v), interpret=interpret)
    cx = ToyHeap().cx()
    # untagged (classes `object` and `int`): the payload is the value
    assert cf.lift_params(cx, [0, (5 << 32) | 9]) == [handle(s, 9)]
    assert cf.lower_params(cx, [handle(s, 9)]) == [0, 9]


@BOTH
def test_spilled_params_and_results_with_handles(interpret: bool) -> None:
    """17 future params spill to a tuple of 17 i32; a tuple of handles as result goes through memory."""
    f = FutureType(U8)
    ft = FuncType(tuple((f"p{i}", f) for i in range(17)), TupleType((f, ERROR_CONTEXT)))
    cf = compile_func(ft, interpret=interpret)
    heap = ToyHeap()
    cx = heap.cx()
    (ptr,) = cf.lower_params(cx, [handle(f, 100 + i) for i in range(17)])
    assert heap.read(ptr, 68) == struct.pack("<17I", *range(100, 117))
    assert cf.lift_params(cx, [ptr]) == [handle(f, 100 + i) for i in range(17)]
    assert cf.lower_results(cx, (handle(f, 1), handle(None, 2)), [ptr, 1024]) == []
    assert heap.read(1024, 8) == struct.pack("<II", 1, 2)
    assert cf.lift_results(cx, [1024]) == (handle(f, 1), handle(None, 2))


@BOTH
def test_lower_hook_results_are_masked_and_wrong_values_rejected(interpret: bool) -> None:
    class Wide(HandleContext):
        def lower_stream(self, t: StreamType, value: Any) -> int:
            return -2  # a hook returning a negative number still gives 32 bits

    heap = ToyHeap()
    cx = Wide(CanonicalOptions(has_memory=True, has_realloc=True), heap.memory, heap.realloc)
    cf = compile_func(func(StreamType(None), ListType(StreamType(None))), interpret=interpret)
    flat = cf.lower_params(cx, [object(), [object()]])
    assert flat[0] == 2**32 - 2 and heap.read(flat[1], 4) == struct.pack("<I", 2**32 - 2)
    with pytest.raises(TypeError, match="parameter `p0`: expected a `future` handle"):
        compile_func(func(FutureType(None)), interpret=interpret).lower_params(heap.cx(), [handle(None, 1)])


def test_default_hooks_raise_unsupported() -> None:
    cx = LiftLowerContext(CanonicalOptions())
    for call, word in [
        (lambda: cx.lift_stream(StreamType(None), 0), "lifting `stream`"),
        (lambda: cx.lower_stream(StreamType(None), None), "lowering `stream`"),
        (lambda: cx.lift_future(FutureType(None), 0), "lifting `future`"),
        (lambda: cx.lower_future(FutureType(None), None), "lowering `future`"),
        (lambda: cx.lift_error_context(0), "lifting `error-context`"),
        (lambda: cx.lower_error_context(None), "lowering `error-context`"),
    ]:
        with pytest.raises(UnsupportedError, match=word + " values is not supported yet"):
            call()


# ----------------------------------------------------------- async lower


@BOTH
def test_async_lower_lifts_up_to_four_flat_params(interpret: bool) -> None:
    ft = func(U32, U64, F32, STRING, result=U8)  # 5 flat values: spilled for async, flat for sync
    sync = compile_func(ft, interpret=interpret)
    cf = compile_func(ft, interpret=interpret, lower_async=True)
    assert cf is not sync and cf.lift_params_spill and not sync.params_spill
    assert compile_func(ft, interpret=interpret) is sync  # the sync entry is untouched
    heap = ToyHeap()
    heap.write(200, b"hi")
    # tuple<u32, u64, f32, string>: u32 @0, u64 @8, f32 @16, string @20 -> size 28, align 8
    heap.write(64, struct.pack("<I4xQfII", 7, 2**40, 1.5, 200, 2))
    assert cf.lift_params(heap.cx(), [64, 512]) == [7, 2**40, 1.5, "hi"]
    assert sync.lift_params(heap.cx(), [7, 2**40, 1.5, 200, 2, 512]) == [7, 2**40, 1.5, "hi"]
    with pytest.raises(ComponentTrap, match="pointer not aligned"):
        cf.lift_params(heap.cx(), [68, 512])
    with pytest.raises(ComponentTrap, match="pointer out of bounds"):
        cf.lift_params(heap.cx(), [(1 << 16) - 24, 512])


@BOTH
def test_async_lower_four_flat_params_stay_flat(interpret: bool) -> None:
    ft = func(U32, U64, F32, F64)
    assert len(ft.params) == MAX_FLAT_ASYNC_PARAMS
    cf = compile_func(ft, interpret=interpret, lower_async=True)
    assert not cf.lift_params_spill
    assert cf.lift_params(ToyHeap().cx(), [1, -1, 2.5, 0.25]) == [1, 2**64 - 1, 2.5, 0.25]
    assert cf.lower_results(ToyHeap().cx(), None, [1, 2, 3.0, 4.0]) == []  # no result: nothing to store


@BOTH
def test_async_lower_stores_the_result_at_the_out_pointer(interpret: bool) -> None:
    cf = compile_func(func(U32, result=U16), interpret=interpret, lower_async=True)
    heap = ToyHeap()
    assert cf.lower_results(heap.cx(), 0xBEEF, [1, 1002]) == []
    assert heap.read(1000, 6) == b"\0\0" + struct.pack("<H", 0xBEEF) + b"\0\0"
    assert cf.out_pointer(heap.cx(), [1, 1002]) == 1002
    with pytest.raises(ComponentTrap, match="^wasm trap: pointer not aligned$"):
        cf.lower_results(heap.cx(), 1, [1, 1001])
    with pytest.raises(ComponentTrap, match="^wasm trap: pointer out of bounds$"):
        cf.lower_results(heap.cx(), 1, [1, 1 << 16])
    with pytest.raises(ComponentTrap, match="pointer not aligned"):
        cf.out_pointer(heap.cx(), [1, 1001])
    # the same result of a sync lower is a flat value
    assert compile_func(func(U32, result=U16), interpret=interpret).lower_results(heap.cx(), 5, [1]) == [5]


@BOTH
def test_async_lower_spilled_params_and_string_result(interpret: bool) -> None:
    """Params spilled to one pointer, then the out-pointer; a string result is allocated, its pair stored."""
    ft = func(U8, U8, U8, U8, U8, result=STRING)
    cf = compile_func(ft, interpret=interpret, lower_async=True)
    heap = ToyHeap()
    heap.write(100, bytes([1, 2, 3, 4, 5]))
    assert cf.lift_params(heap.cx(), [100, 2048]) == [1, 2, 3, 4, 5]
    assert cf.lower_results(heap.cx(), "héllo", [100, 2048]) == []
    ptr, units = struct.unpack_from("<II", heap.memory.data, 2048)
    assert heap.trace == [(0, 0, 1, 6)] and units == 6
    assert heap.read(ptr, units) == "héllo".encode()


@BOTH
def test_async_lower_out_pointer_checks_the_whole_result(interpret: bool) -> None:
    """A record result is checked against its size and alignment (8 for the u64)."""
    rec = RecordType((("a", U8), ("b", U64)))
    cf = compile_func(func(result=rec), interpret=interpret, lower_async=True)
    heap = ToyHeap()
    cf.lower_results(heap.cx(), Record(a=9, b=2**63), [4096])
    assert heap.read(4096, 16) == struct.pack("<B7xQ", 9, 2**63)
    with pytest.raises(ComponentTrap, match="pointer not aligned"):
        cf.lower_results(heap.cx(), Record(a=9, b=1), [4100])
    with pytest.raises(ComponentTrap, match="pointer out of bounds"):
        cf.lower_results(heap.cx(), Record(a=9, b=1), [(1 << 16) - 8])


def test_async_lower_memory64() -> None:
    """With a 64-bit memory the spilled params and the out-pointer are i64 (the interpreters)."""
    cf = compile_func(func(U8, U8, U8, U8, U8, result=STRING), memory64=True, lower_async=True)
    heap = ToyHeap()
    options = CanonicalOptions("utf8", has_memory=True, has_realloc=True, memory64=True)
    cx = HandleContext(options, heap.memory, heap.realloc)
    heap.write(100, bytes([1, 2, 3, 4, 5]))
    assert cf.lift_params(cx, [100, 2048]) == [1, 2, 3, 4, 5]
    assert cf.lower_results(cx, "ab", [100, 2048]) == []
    ptr, units = struct.unpack_from("<QQ", heap.memory.data, 2048)
    assert units == 2 and heap.read(ptr, 2) == b"ab"


# ------------------------------------------------------ async lift, task.return


@BOTH
def test_async_lift_has_no_lift_results(interpret: bool) -> None:
    ft = func(STRING, result=U32)
    cf = compile_func(ft, interpret=interpret, lift_async=True)
    sync = compile_func(ft, interpret=interpret)
    heap = ToyHeap()
    assert cf.lower_params(heap.cx(), ["abc"]) == sync.lower_params(ToyHeap().cx(), ["abc"])
    with pytest.raises(AttributeError, match="task.return"):
        cf.lift_results  # noqa: B018
    assert not hasattr(cf, "lift_results")
    assert cf.task_return(heap.cx(), [7]) == 7


@BOTH
def test_task_return_flat(interpret: bool) -> None:
    heap = ToyHeap()
    heap.write(300, "ça".encode())
    assert compile_task_return(U32, interpret=interpret)(heap.cx(), [-1]) == 2**32 - 1
    assert compile_task_return(STRING, interpret=interpret)(heap.cx(), [300, 3]) == "ça"
    assert compile_task_return(None, interpret=interpret)(heap.cx(), []) is None
    # 16 flat values are still flat (task.return's params: MAX_FLAT_PARAMS)
    t16 = TupleType((U32,) * 16)
    assert compile_task_return(t16, interpret=interpret)(heap.cx(), list(range(16))) == tuple(range(16))
    ft = func(result=StreamType(U8))
    cf = compile_func(ft, interpret=interpret, lift_async=True)
    assert cf.task_return(heap.cx(), [3]) == handle(StreamType(U8), 3)
    assert heap.handle_log == [("lift_stream", StreamType(U8), 3)]


@BOTH
def test_task_return_spills_past_sixteen(interpret: bool) -> None:
    t = TupleType((U8,) * 8 + (U64,) * 9)  # 17 flat values: u8 x8 @0..7, u64 x9 @8..80 -> size 80, align 8
    lift = compile_task_return(t, interpret=interpret)
    heap = ToyHeap()
    heap.write(512, bytes(range(8)) + struct.pack("<9Q", *range(100, 109)))
    assert lift(heap.cx(), [512]) == tuple(range(8)) + tuple(range(100, 109))
    with pytest.raises(ComponentTrap, match="^wasm trap: return pointer not aligned$"):
        lift(heap.cx(), [516])
    with pytest.raises(ComponentTrap, match="^wasm trap: pointer out of bounds of memory$"):
        lift(heap.cx(), [(1 << 16) - 72])


@BOTH
def test_task_return_refuels_and_charges(interpret: bool) -> None:
    class Store:
        hostcall_fuel = 4

    heap = ToyHeap()
    heap.write(300, b"abcdefgh")
    cx = heap.cx()
    cx.fuel_source = Store()
    lift = compile_task_return(STRING, interpret=interpret)
    assert lift(cx, [300, 4]) == "abcd"
    assert lift(cx, [300, 4]) == "abcd"  # a full tank each time
    with pytest.raises(ComponentTrap, match=HOSTCALL_FUEL_EXHAUSTED):
        lift(cx, [300, 8])


def test_task_return_memory64_spill_pointer_is_i64() -> None:
    t = TupleType((U32,) * 17)
    heap = ToyHeap()
    heap.write(64, struct.pack("<17I", *range(17)))
    options = CanonicalOptions("utf8", has_memory=True, memory64=True)
    cx = LiftLowerContext(options, heap.memory)
    assert compile_task_return(t, memory64=True)(cx, [64]) == tuple(range(17))


def test_async_cache_entries_are_separate() -> None:
    ft = func(U32, result=U32)
    plain = compile_func(ft)
    lowered = compile_func(ft, lower_async=True)
    lifted = compile_func(ft, lift_async=True)
    assert len({id(plain), id(lowered), id(lifted)}) == 3
    assert compile_func(ft, lower_async=True) is lowered and compile_func(ft) is plain
    assert plain.lower_results(ToyHeap().cx(), 3, [0]) == [3]


# ------------------------------------------------------------ buffers

CODEC_TYPES: list[ValType] = [
    U8,
    S8,
    U16,
    S16,
    U32,
    S64,
    U64,
    F32,
    F64,
    BOOL,
    CHAR,
    STRING,
    ListType(U16),
    RecordType((("a", U8), ("b", STRING), ("c", U64))),
    OptionType(U16),
    ResultType(U32, STRING),
    TupleType((U8, U64)),
    EnumType(("x", "y")),
    FlagsType(("f0", "f1", "f2")),
    FlagsType(()),  # no bytes (not a valid type, but the layout functions accept it)
    ListType(U8, 3),
    StreamType(U8),
    ERROR_CONTEXT,
]


def _codec_run(t: ValType, values: list, interpret: bool, encoding: str = "utf8") -> tuple[Any, ...]:
    heap = ToyHeap(size=1 << 16)
    codec = element_codec(t, encoding, interpret=interpret)
    ptr = 1024
    codec.store_many(heap.cx(encoding), values, ptr)
    back = codec.load_many(heap.cx(encoding), ptr, len(values))
    return back, heap.trace, bytes(heap.memory.data), heap.handle_log


@EXAMPLES
@given(st.sampled_from(CODEC_TYPES).flatmap(lambda t: st.tuples(st.just(t), st.lists(values_of(t), max_size=6))))
def test_element_codec_round_trips_and_matches_the_interpreter(tv: tuple[ValType, list]) -> None:
    t, values = tv
    compiled = _codec_run(t, values, False)
    interpreted = _codec_run(t, values, True)
    assert all(same_value(a, b) for a, b in zip(compiled, interpreted, strict=True)), (compiled, interpreted)
    assert same_value(compiled[0], values)


@EXAMPLES
@given(
    st.sampled_from(sorted(PLAIN_ELEMENTS)).flatmap(
        lambda name: st.tuples(st.just(PRIMITIVES[name]), st.binary(max_size=48))
    )
)
def test_plain_bytes_mean_the_same_as_values(tb: tuple[ValType, bytes]) -> None:
    """Raw bytes stored, then loaded as values, are struct's reading of them; and back to the same bytes."""
    t, data = tb
    codec = element_codec(t)
    assert codec.plain
    data = data[: len(data) - len(data) % codec.size]
    n = len(data) // codec.size
    heap = ToyHeap()
    codec.store_bytes(heap.cx(), data, 256)
    assert heap.read(256, len(data)) == data
    assert codec.load_bytes(heap.cx(), 256, n) == data
    values = codec.load_many(heap.cx(), 256, n)
    code = {"u8": "B", "s8": "b", "u16": "H", "s16": "h", "u32": "I", "s32": "i"}
    code |= {"u64": "Q", "s64": "q", "f32": "f", "f64": "d"}
    expected = list(struct.unpack(f"<{n}{code[t.name]}", data))  # type: ignore[attr-defined]
    assert all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(values, expected, strict=True))
    # storing the values writes the same bytes (NaN payloads included)
    other = ToyHeap()
    codec.store_many(other.cx(), values, 256)
    assert other.read(256, len(data)) == data


def test_plain_is_exactly_the_numbers() -> None:
    for name in ("u8", "s8", "u16", "s16", "u32", "s32", "u64", "s64", "f32", "f64"):
        assert element_codec(PRIMITIVES[name]).plain, name
    for t in (BOOL, CHAR, STRING, ERROR_CONTEXT, StreamType(U8), TupleType((U8, U8)), ListType(U8, 2), None):
        assert not element_codec(t).plain, t
    with pytest.raises(TypeError, match="not plain"):
        element_codec(BOOL).load_bytes(ToyHeap().cx(), 0, 1)
    with pytest.raises(TypeError, match="not plain"):
        element_codec(CHAR).store_bytes(ToyHeap().cx(), b"abcd", 0)
    with pytest.raises(ValueError, match="not a whole number of 4-byte elements"):
        element_codec(U32).store_bytes(ToyHeap().cx(), b"abcde", 0)


@BOTH
def test_layouts_by_hand(interpret: bool) -> None:
    heap = ToyHeap()
    rec = RecordType((("a", U8), ("b", U32)))
    codec = element_codec(rec, interpret=interpret)
    assert (codec.size, codec.alignment) == (8, 4)
    codec.store_many(heap.cx(), [Record(a=1, b=2), Record(a=3, b=4)], 64)
    assert heap.read(64, 16) == struct.pack("<B3xIB3xI", 1, 2, 3, 4)
    opt = element_codec(OptionType(U16), interpret=interpret)
    opt.store_many(heap.cx(), [None, 9], 128)
    assert heap.read(128, 8) == struct.pack("<BxHBxH", 0, 0, 1, 9)
    s = element_codec(StreamType(None), interpret=interpret)
    s.store_many(heap.cx(), [handle(StreamType(None), 5)], 200)
    assert heap.read(200, 4) == struct.pack("<I", 5)
    assert element_codec(STRING, interpret=interpret).size == 8


@BOTH
def test_bool_and_char_are_checked_per_element(interpret: bool) -> None:
    heap = ToyHeap()
    heap.write(0, bytes([0, 1, 2, 255]))
    assert element_codec(BOOL, interpret=interpret).load_many(heap.cx(), 0, 4) == [False, True, True, True]
    heap.write(64, struct.pack("<2I", 0x41, 0xD800))
    chars = element_codec(CHAR, interpret=interpret)
    assert chars.load_many(heap.cx(), 64, 1) == ["A"]
    with pytest.raises(ComponentTrap, match="converted integer out of range for `char`"):
        chars.load_many(heap.cx(), 64, 2)


@BOTH
@pytest.mark.parametrize("t", [U16, U64, STRING, RecordType((("a", U8), ("b", U64)))])
def test_buffer_traps(interpret: bool, t: ValType) -> None:
    codec = element_codec(t, interpret=interpret)
    heap = ToyHeap(size=4096)
    cx = heap.cx()
    size, align = codec.size, codec.alignment
    assert align > 1
    with pytest.raises(ComponentTrap, match="^wasm trap: write pointer not aligned$"):
        codec.load_many(cx, align + 1, 1)
    with pytest.raises(ComponentTrap, match="^wasm trap: write pointer out of bounds of memory$"):
        codec.load_many(cx, 4096 - size, 2)
    # alignment is checked first, as wasmtime does
    with pytest.raises(ComponentTrap, match="^wasm trap: write pointer not aligned$"):
        codec.load_many(cx, 4096 - size + 1, 2)
    codec.store_many(cx, [_zero(t)], 4096 - size)  # exactly at the end is fine
    assert same_value(codec.load_many(cx, 4096 - size, 1), [_zero(t)])
    with pytest.raises(ComponentTrap, match="^wasm trap: read pointer out of bounds of memory$"):
        codec.store_many(cx, [_zero(t)] * 2, 4096 - size)
    with pytest.raises(ComponentTrap, match="^wasm trap: read pointer not aligned$"):
        codec.store_many(cx, [_zero(t)], align + 1)
    # a pointer past 2**32 is masked to 32 bits, as any i32
    assert codec.check(cx, 2**32 + 64, 1, "read") == 64
    # a guest-to-guest copy words bounds differently
    fused = heap.cx(fused=True)
    with pytest.raises(ComponentTrap, match="^wasm trap: write pointer out of bounds$"):
        codec.load_many(fused, 4096 - size, 2)
    with pytest.raises(ComponentTrap, match="^wasm trap: read pointer out of bounds$"):
        codec.check(fused, 4096, 1, "read")


def _zero(t: ValType) -> Any:
    if t == STRING:
        return ""
    if isinstance(t, RecordType):
        return Record(a=0, b=0)
    return 0


@BOTH
def test_zero_length_buffers_are_not_checked(interpret: bool) -> None:
    for t in (U32, STRING, RecordType((("a", U8), ("b", U64)))):
        codec = element_codec(t, interpret=interpret)
        cx = ToyHeap(size=64).cx()
        assert codec.load_many(cx, 2**32 - 1, 0) == []
        codec.store_many(cx, [], 2**32 - 1)
        assert codec.check(cx, 3, 0, "write") == 3
    u32 = element_codec(U32, interpret=interpret)
    assert u32.load_bytes(ToyHeap(size=64).cx(), 3, 0) == b""
    u32.store_bytes(ToyHeap(size=64).cx(), b"", 3)


@BOTH
def test_no_payload_elements(interpret: bool) -> None:
    codec = element_codec(None, interpret=interpret)
    assert (codec.size, codec.alignment, codec.plain) == (0, 1, False)
    cx = ToyHeap(size=64).cx()
    assert codec.load_many(cx, 2**32 - 1, 3) == [None, None, None]  # nothing in memory: no check
    codec.store_many(cx, [None] * 5, 2**32 - 1)
    with pytest.raises(TypeError, match="element 1: expected `None`"):
        codec.store_many(cx, [None, 1], 0)


@BOTH
def test_zero_size_elements_of_a_type(interpret: bool) -> None:
    """A type with no bytes is still range-checked (spec: only ``t is None`` skips it)."""
    codec = element_codec(FlagsType(()), interpret=interpret)
    cx = ToyHeap(size=64).cx()
    assert codec.size == 0 and codec.load_many(cx, 64, 3) == [set(), set(), set()]
    with pytest.raises(ComponentTrap, match="write pointer out of bounds"):
        codec.load_many(cx, 65, 1)


@BOTH
def test_store_many_errors_name_the_element(interpret: bool) -> None:
    heap = ToyHeap()
    with pytest.raises(TypeError, match="^element 2: "):
        element_codec(U32, interpret=interpret).store_many(heap.cx(), [1, 2, "x"], 0)
    with pytest.raises(ValueError, match="^element 1: "):
        element_codec(U8, interpret=interpret).store_many(heap.cx(), [1, 256], 0)
    assert heap.read(0, 1) == b"\x01"  # elements before the bad one are stored, as in a list
    with pytest.raises(TypeError, match="expected a list of elements"):
        element_codec(STRING, interpret=interpret).store_many(heap.cx(), "abc", 0)
    # u8 elements may also be given as bytes
    element_codec(U8, interpret=interpret).store_many(heap.cx(), b"\x07\x08", 32)
    assert heap.read(32, 2) == b"\x07\x08"


@BOTH
def test_load_many_refuels_and_charges_per_element(interpret: bool) -> None:
    class Store:
        hostcall_fuel = 48 * 3 + 5  # three elements' list cost and five bytes of strings

    heap = ToyHeap()
    codec = element_codec(STRING, interpret=interpret)
    codec.store_many(heap.cx(), ["ab", "cd", "e"], 512)
    cx = heap.cx()
    cx.fuel_source = Store()
    assert codec.load_many(cx, 512, 3) == ["ab", "cd", "e"]
    assert codec.load_many(cx, 512, 3) == ["ab", "cd", "e"]  # a full tank for every read
    Store.hostcall_fuel -= 1
    with pytest.raises(ComponentTrap, match=HOSTCALL_FUEL_EXHAUSTED):
        codec.load_many(cx, 512, 3)


def test_fused_load_many_gives_references_that_store_into_another_memory() -> None:
    """A guest-to-guest copy: strings lifted from the writer are copied into the reader by store_many."""
    writer, reader = ToyHeap(), ToyHeap(start=4000)
    codec = element_codec(RecordType((("a", U8), ("b", STRING))))
    values = [Record(a=1, b="x"), Record(a=2, b="yz")]
    codec.store_many(writer.cx(), values, 256)
    lifted = codec.load_many(writer.cx(fused=True), 256, 2)
    codec.store_many(reader.cx("utf16", fused=True), lifted, 512)
    assert same_value(codec.load_many(reader.cx("utf16"), 512, 2), values)


def test_codecs_are_cached_and_memory64_uses_wide_pointers() -> None:
    assert element_codec(STRING) is element_codec(STRING, "utf16")
    wide = element_codec(STRING, memory64=True)
    assert (wide.size, wide.alignment) == (16, 8)
    heap = ToyHeap()
    options = CanonicalOptions("utf8", has_memory=True, has_realloc=True, memory64=True)
    cx = HandleContext(options, heap.memory, heap.realloc)
    wide.store_many(cx, ["hi", "there"], 1024)
    assert wide.load_many(cx, 1024, 2) == ["hi", "there"]
    begin, units = struct.unpack_from("<QQ", heap.memory.data, 1024)
    assert heap.read(begin, units) == b"hi"
    assert element_codec(S16).load_many(heap.cx(), 0, 0) == []
    assert element_codec(S8) is element_codec(S8)
