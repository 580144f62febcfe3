"""Table-driven tests of the Canonical ABI (layout, lift/lower, strings, traps, Python values).

Every case runs through both the interpreters (abi.lift / abi.lower) and the
specialised code (abi.compile) with a toy bump allocator (ToyHeap).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import pytest

from wasmcomponent.abi.compile import compile_func
from wasmcomponent.abi.context import BytearrayMemory, CanonicalOptions, LiftLowerContext
from wasmcomponent.abi.lift import CoreValueIter, lift_flat_values
from wasmcomponent.abi.lower import lower_flat_values
from wasmcomponent.abi.refs import StringRef
from wasmcomponent.abi.strings import load_string_from_range, store_string_into_range
from wasmcomponent.errors import ComponentTrap, UnsupportedError
from wasmcomponent.types.abi import (
    alignment,
    discriminant_type,
    elem_size,
    flatten_functype,
    flatten_type,
)
from wasmcomponent.types.model import (
    BOOL,
    CHAR,
    F32,
    F64,
    PRIMITIVES,
    S8,
    S16,
    S32,
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
    MapType,
    OptionType,
    OwnType,
    RecordType,
    ResourceIdentity,
    ResultType,
    StreamType,
    TupleType,
    ValType,
    VariantType,
)
from wasmcomponent.types.values import Record, Variant, is_tagged

ENCODINGS = ("utf8", "utf16", "latin1+utf16")
TAG = 1 << 31


@dataclass(frozen=True)
class Handle:
    """A stream, future or error-context value as :class:`HandleContext` lifts it."""

    kind: str  # "stream", "future" or "error-context"
    type: Any  # the StreamType/FutureType (None for an error context)
    index: int


class HandleContext(LiftLowerContext):
    """A context whose stream/future/error-context hooks make :class:`Handle` values.

    Every hook call is appended to ``log`` as ``(hook name, type, index)``.
    Lowering takes the index back out of a ``Handle`` of the right kind.
    """

    def __init__(self, *args: Any, log: list | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log = [] if log is None else log

    def _lift(self, kind: str, t: Any, index: int) -> Handle:
        self.log.append(("lift_" + kind.replace("-", "_"), t, index))
        return Handle(kind, t, index)

    def _lower(self, kind: str, t: Any, value: Any) -> int:
        if not isinstance(value, Handle) or value.kind != kind:
            raise TypeError(f"expected a `{kind}` handle, found `{type(value).__name__}`")
        self.log.append(("lower_" + kind.replace("-", "_"), t, value.index))
        return value.index

    def lift_stream(self, t: StreamType, index: int) -> Any:
        return self._lift("stream", t, index)

    def lower_stream(self, t: StreamType, value: Any) -> int:
        return self._lower("stream", t, value)

    def lift_future(self, t: FutureType, index: int) -> Any:
        return self._lift("future", t, index)

    def lower_future(self, t: FutureType, value: Any) -> int:
        return self._lower("future", t, value)

    def lift_error_context(self, index: int) -> Any:
        return self._lift("error-context", None, index)

    def lower_error_context(self, value: Any) -> int:
        return self._lower("error-context", None, value)


class ToyHeap:
    """A bytearray memory plus a realloc that records its calls.

    The allocator bumps a pointer, copies the old contents like a real
    realloc, and relocates the storage on every call so that a memory view
    kept across a realloc call goes stale (writes through it are lost).
    ``override`` makes realloc return a fixed (possibly bad) pointer.
    """

    def __init__(self, size: int = 1 << 16, start: int = 16, override: int | None = None) -> None:
        self.memory = BytearrayMemory(size)
        self.next = start
        self.trace: list[tuple[int, int, int, int]] = []
        self.override = override
        self.handle_log: list[tuple[str, Any, int]] = []  # hook calls of every context made by cx()

    def realloc(self, old_ptr: int, old_size: int, align: int, new_size: int) -> int:
        self.trace.append((old_ptr, old_size, align, new_size))
        self.memory.relocate()
        if self.override is not None:
            return self.override
        ptr = -(-self.next // align) * align
        self.next = ptr + new_size
        if old_ptr:
            keep = min(old_size, new_size)
            self.memory.data[ptr : ptr + keep] = self.memory.data[old_ptr : old_ptr + keep]
        return ptr

    def cx(self, encoding: str = "utf8", fused: bool = False) -> HandleContext:
        """A context on this heap; streams, futures and error contexts are :class:`Handle` values."""
        options = CanonicalOptions(encoding, has_memory=True, has_realloc=True)  # type: ignore[arg-type]
        return HandleContext(options, self.memory, self.realloc, fused=fused, log=self.handle_log)

    def write(self, ptr: int, data: bytes) -> None:
        self.memory.data[ptr : ptr + len(data)] = data

    def read(self, ptr: int, n: int) -> bytes:
        return bytes(self.memory.data[ptr : ptr + n])


def same_value(a: Any, b: Any) -> bool:
    """Equality that also compares Record/Variant structure and types strictly."""
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict):  # maps: same pairs in the same order
        return same_value(list(a.items()), list(b.items()))
    if hasattr(a, "__dict__") and not isinstance(a, type):
        return a.__dict__.keys() == b.__dict__.keys() and all(
            same_value(a.__dict__[k], b.__dict__[k]) for k in a.__dict__
        )
    return bool(a == b)


def flags(n: int) -> FlagsType:
    return FlagsType(tuple(f"f{i}" for i in range(n)))


# --------------------------------------------------------------- layout

LAYOUT: list[tuple[ValType, int, int, tuple[str, ...]]] = [
    (BOOL, 1, 1, ("i32",)),
    (S8, 1, 1, ("i32",)),
    (U16, 2, 2, ("i32",)),
    (S32, 4, 4, ("i32",)),
    (U64, 8, 8, ("i64",)),
    (F32, 4, 4, ("f32",)),
    (F64, 8, 8, ("f64",)),
    (CHAR, 4, 4, ("i32",)),
    (STRING, 4, 8, ("i32", "i32")),
    (ListType(U64), 4, 8, ("i32", "i32")),
    (ListType(U16, 3), 2, 6, ("i32", "i32", "i32")),
    (RecordType((("a", U8), ("b", U32), ("c", U8))), 4, 12, ("i32", "i32", "i32")),
    (TupleType((U8, U64)), 8, 16, ("i32", "i64")),
    (EnumType(("a", "b")), 1, 1, ("i32",)),
    (EnumType(tuple(f"e{i}" for i in range(257))), 2, 2, ("i32",)),
    (OptionType(U8), 1, 2, ("i32", "i32")),
    (OptionType(U64), 8, 16, ("i32", "i64")),
    (ResultType(None, None), 1, 1, ("i32",)),
    (ResultType(U32, F32), 4, 8, ("i32", "i32")),
    (ResultType(F32, F32), 4, 8, ("i32", "f32")),
    (ResultType(F64, U8), 8, 16, ("i32", "i64")),
    (ResultType(F32, U64), 8, 16, ("i32", "i64")),
    (ResultType(STRING, TupleType((F64, F32))), 8, 24, ("i32", "i64", "i32")),
    (VariantType((("a", None), ("b", TupleType((U8, F32))), ("c", F64))), 8, 16, ("i32", "i64", "f32")),
    (flags(0), 1, 0, ()),
    (flags(1), 1, 1, ("i32",)),
    (flags(8), 1, 1, ("i32",)),
    (flags(9), 2, 2, ("i32",)),
    (flags(16), 2, 2, ("i32",)),
    (flags(17), 4, 4, ("i32",)),
    (flags(32), 4, 4, ("i32",)),
    (flags(33), 4, 8, ("i32", "i32")),
    (flags(64), 4, 8, ("i32", "i32")),
    (OwnType(ResourceIdentity("r")), 4, 4, ("i32",)),
    (MapType(STRING, U8), 4, 8, ("i32", "i32")),
    (MapType(U8, U64), 4, 8, ("i32", "i32")),
    (OptionType(MapType(CHAR, BOOL)), 4, 12, ("i32", "i32", "i32")),
]


@pytest.mark.parametrize(("t", "align", "size", "flat"), LAYOUT)
def test_layout(t: ValType, align: int, size: int, flat: tuple[str, ...]) -> None:
    assert (alignment(t), elem_size(t), flatten_type(t)) == (align, size, flat)


def test_discriminant_type() -> None:
    assert [discriminant_type(n).name for n in (1, 2, 256, 257, 65536, 65537)] == [
        "u8", "u8", "u8", "u16", "u16", "u32",
    ]


def test_flatten_functype() -> None:
    many = FuncType(tuple((f"p{i}", U32) for i in range(17)), None)
    assert flatten_functype(many, "lift").params == ("i32",)
    sixteen = FuncType(tuple((f"p{i}", U32) for i in range(16)), U8)
    assert flatten_functype(sixteen, "lower").params == ("i32",) * 16
    ret = FuncType((("s", STRING),), STRING)
    assert flatten_functype(ret, "lift").results == ("i32",)
    assert flatten_functype(ret, "lower").params == ("i32", "i32", "i32")
    assert flatten_functype(ret, "lower").results == ()


# --------------------------------------------------------------- round trips

ROUNDTRIP: list[tuple[ValType, Any]] = [
    (BOOL, True),
    (S8, -128),
    (U8, 255),
    (S16, -2),
    (U16, 65535),
    (S32, -(2**31)),
    (U32, 2**32 - 1),
    (S64, -(2**63)),
    (U64, 2**64 - 1),
    (F32, 1.5),
    (F32, -math.inf),
    (F64, 1e300),
    (CHAR, "\U0010ffff"),
    (STRING, ""),
    (STRING, "hello"),
    (STRING, "caf\u00e9"),
    (STRING, "snow \u2603 and \U0001f600"),
    (ListType(U8), b""),
    (ListType(U8), b"\x00\xff"),
    (ListType(S16), [-1, 2, 3]),
    (ListType(F32), [0.5, -2.0]),
    (ListType(F64), [0.1]),
    (ListType(BOOL), [True, False]),
    (ListType(CHAR), ["a", "\u2603"]),
    (ListType(STRING), ["a", "", "\u00ff\u0100"]),
    (ListType(ListType(U32)), [[1], [], [2, 3]]),
    (ListType(U8, 3), b"abc"),
    (ListType(U32, 2), [7, 8]),
    (RecordType((("a", U8), ("b-c", STRING))), Record(a=1, **{"b-c": "x"})),
    (RecordType((("x", F64), ("y", S8))), Record(x=2.5, y=-3)),
    (TupleType((U8, STRING, F64)), (1, "two", 3.0)),
    (TupleType((U16, S64)), (1, -2)),
    (EnumType(("red", "green")), "green"),
    (OptionType(U32), None),
    (OptionType(U32), 5),
    (OptionType(OptionType(U32)), Variant("some", None)),
    (OptionType(OptionType(U32)), Variant("some", 3)),
    (ResultType(U32, STRING), 4),
    (ResultType(U32, STRING), "bad"),
    (ResultType(None, None), Variant("err")),
    (ResultType(F32, U64), 1.25),
    (ResultType(F32, U64), 2**64 - 1),
    (ResultType(U8, U64), Variant("err", 2**64 - 1)),
    (VariantType((("a", None), ("b", TupleType((U8, F32))), ("c", F64))), (1, 2.5)),
    (VariantType((("a", U8), ("b", U16))), Variant("b", 300)),
    (flags(0), set()),
    (flags(9), {"f0", "f8"}),
    (flags(40), {"f1", "f39"}),
    (MapType(STRING, U32), {}),
    (MapType(STRING, U32), {"a": 1, "b\u2603": 2}),
    (MapType(U8, U64), {255: 2**64 - 1, 0: 7}),
    (MapType(CHAR, BOOL), {"A": True, "z": False}),
    (MapType(BOOL, STRING), {True: "t", False: ""}),
    (MapType(S64, ListType(U32)), {-1: [1, 2], 5: []}),
    (MapType(STRING, MapType(STRING, ListType(U8))), {"a": {"x": b"\x01", "y": b""}, "b": {}}),
    (OptionType(MapType(U32, STRING)), {1: "one"}),
    (OptionType(MapType(U32, STRING)), None),
    (ResultType(MapType(U16, F32), ListType(U16)), {1: 0.5}),
    (ResultType(MapType(U16, F32), ListType(U16)), [1]),
]


def _lower_lift_interp(heap: ToyHeap, encoding: str, max_flat: int, t: ValType, v: Any) -> Any:
    cx = heap.cx(encoding)
    flat = lower_flat_values(cx, max_flat, [v], [t])
    return lift_flat_values(cx, max_flat, CoreValueIter(flat), [t])[0]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("t", "v"), ROUNDTRIP)
def test_roundtrip(encoding: str, t: ValType, v: Any) -> None:
    for max_flat in (16, 0):  # flat, and spilled to memory
        assert same_value(_lower_lift_interp(ToyHeap(), encoding, max_flat, t, v), v)
    for interpret in (False, True):
        heap = ToyHeap()
        cf = compile_func(FuncType((("p", t),), t), encoding, interpret=interpret)
        cx = heap.cx(encoding)
        flat = cf.lower_params(cx, [v])
        [lifted] = cf.lift_params(cx, flat)
        assert same_value(lifted, v)
        results = cf.lower_results(cx, v, flat + [4096])
        if cf.results_spill:
            assert results == []
            results = [4096]
        assert same_value(cf.lift_results(cx, results), v)


def test_spilled_params_and_results() -> None:
    t = RecordType(tuple((f"f{i}", U32) for i in range(17)))
    v = Record(**{f"f{i}": i for i in range(17)})
    ft = FuncType(tuple((f"p{i}", U64) for i in range(17)), t)
    for interpret in (False, True):
        heap = ToyHeap()
        cf = compile_func(ft, interpret=interpret)
        assert cf.params_spill and cf.results_spill
        cx = heap.cx()
        (ptr,) = cf.lower_params(cx, list(range(17)))
        assert heap.trace == [(0, 0, 8, 17 * 8)]
        assert heap.read(ptr, 16) == struct.pack("<QQ", 0, 1)
        assert cf.lift_params(cx, [ptr]) == list(range(17))
        assert cf.lower_results(cx, v, [0, 1024]) == []
        assert heap.read(1024, 8) == struct.pack("<II", 0, 1)
        assert cf.lift_results(cx, [1024]) == v


def test_core_values_are_unsigned_and_signed_inputs_accepted() -> None:
    cx = ToyHeap().cx()
    for t, v, core in [(S32, -1, 2**32 - 1), (S64, -1, 2**64 - 1), (S8, -1, 2**32 - 1), (U32, 2**32 - 1, 2**32 - 1)]:
        flat = lower_flat_values(cx, 16, [v], [t])
        assert flat == [core] or (t == S8 and flat == [0xFFFFFFFF])
        # wasm may hand back signed core values
        signed = core - (1 << 64) if core >= 1 << 63 else core - (1 << 32) if core >= 1 << 31 else core
        assert lift_flat_values(cx, 16, CoreValueIter([signed]), [t]) == [v]


def test_small_ints_are_truncated_from_i32() -> None:
    cx = ToyHeap().cx()
    assert lift_flat_values(cx, 16, CoreValueIter([0x1FF, 0x180, -1, 2]), [U8, S8, U16, BOOL]) == [255, -128, 65535, True]
    for interpret in (False, True):
        cf = compile_func(FuncType((("a", U8), ("b", S8), ("c", U16), ("d", BOOL)), None), interpret=interpret)
        assert cf.lift_params(cx, [0x1FF, 0x180, -1, 2]) == [255, -128, 65535, True]


def test_variant_flat_coercions() -> None:
    t = VariantType((("i", U32), ("f", F32), ("d", F64), ("l", U64)))
    assert flatten_type(t) == ("i32", "i64")
    cx = ToyHeap().cx()
    cases = [
        (Variant("i", 7), [0, 7]),
        (Variant("f", 1.0), [1, 0x3F800000]),
        (Variant("d", -2.0), [2, 0xC000000000000000]),
        (Variant("l", 2**64 - 1), [3, 2**64 - 1]),
    ]
    ft = FuncType((("v", t),), t)
    for v, flat in cases:
        assert lower_flat_values(cx, 16, [v], [t]) == flat
        for interpret in (False, True):
            cf = compile_func(ft, interpret=interpret)
            assert cf.lower_params(cx, [v]) == flat
            assert cf.lift_params(cx, flat) == [v]
    # f32 payload next to i32: joined to i32; padding of a float slot is 0.0
    assert lower_flat_values(cx, 16, [None], [OptionType(F32)]) == [0, 0.0]
    assert lower_flat_values(cx, 16, [None], [VariantType((("a", None), ("b", F32), ("c", U8)))]) == [0, 0]


# --------------------------------------------------------------- strings


HOST_STRING_TRACES: list[tuple[str, str, list[tuple[int, int, int, int]], int]] = [
    # (encoding, value, realloc calls relative to pointers 16/..., tagged length)
    ("utf8", "", [(0, 0, 1, 0)], 0),
    ("utf8", "caf\u00e9", [(0, 0, 1, 5)], 5),
    ("utf16", "abc", [(0, 0, 2, 6)], 3),
    ("utf16", "caf\u00e9", [(0, 0, 2, 10), (16, 10, 2, 8)], 4),
    ("utf16", "\U0001f600", [(0, 0, 2, 8), (16, 8, 2, 4)], 2),
    ("latin1+utf16", "", [(0, 0, 2, 0)], 0),
    ("latin1+utf16", "abc", [(0, 0, 2, 3)], 3),
    ("latin1+utf16", "caf\u00e9", [(0, 0, 2, 5), (16, 5, 2, 4)], 4),
    ("latin1+utf16", "a\u2603", [(0, 0, 2, 4), (16, 4, 2, 8), (20, 8, 2, 4)], 2 | TAG),
    ("latin1+utf16", "\u00e9\U0001f600", [(0, 0, 2, 6), (16, 6, 2, 12), (22, 12, 2, 6)], 3 | TAG),
]


@pytest.mark.parametrize(("encoding", "value", "trace", "tagged"), HOST_STRING_TRACES)
def test_host_string_realloc_sequence(encoding: str, value: str, trace: list, tagged: int) -> None:
    for interpret in (False, True):
        heap = ToyHeap()
        cf = compile_func(FuncType((("s", STRING),), None), encoding, interpret=interpret)
        ptr, units = cf.lower_params(heap.cx(encoding), [value])
        assert heap.trace == trace
        assert units == tagged
        assert load_string_from_range(heap.cx(encoding), heap.memory.view(), ptr, units) == value


def _string_ref(value: str, encoding: str, tagged: int) -> StringRef:
    """Lift ``value`` (stored in ``encoding`` with ``tagged`` units) from a source heap in fused mode."""
    source = ToyHeap()
    codec = "utf-8" if encoding == "utf8" else "latin-1" if encoding != "utf16" and not tagged & TAG else "utf-16-le"
    source.write(64, value.encode(codec))
    ref = load_string_from_range(source.cx(encoding, fused=True), source.memory.view(), 64, tagged)
    assert isinstance(ref, StringRef) and ref.tagged_units == tagged
    return ref


FUSED_TRACES = [
    # (src encoding, src tagged units, value, dst encoding, expected trace, dst units)
    ("utf16", 2, "\u00e9\u2603", "utf8", [(0, 0, 1, 2), (16, 2, 1, 6), (18, 6, 1, 5)], 5),
    ("utf16", 2, "ab", "utf8", [(0, 0, 1, 2)], 2),
    ("latin1+utf16", 2, "\u00e9a", "utf8", [(0, 0, 1, 2), (16, 2, 1, 4), (18, 4, 1, 3)], 3),
    ("latin1+utf16", 2, "\u00e9a", "utf16", [(0, 0, 2, 4)], 2),
    ("latin1+utf16", 2, "\u00e9a", "latin1+utf16", [(0, 0, 2, 2)], 2),
    # wasmtime shrinks with alignment 2 here (the spec says 1): strings.wast:173
    ("latin1+utf16", 2 | TAG, "\u00e9a", "latin1+utf16", [(0, 0, 2, 4), (16, 4, 2, 2)], 2),
    ("latin1+utf16", 1 | TAG, "\u2603", "latin1+utf16", [(0, 0, 2, 2)], 1 | TAG),
    ("utf16", 2, "\u00e9\u2603", "latin1+utf16", [(0, 0, 2, 2), (16, 2, 2, 4)], 2 | TAG),
    ("utf8", 3, "a\u00e9", "utf16", [(0, 0, 2, 6), (16, 6, 2, 4)], 2),
]


@pytest.mark.parametrize(("src", "units", "value", "dst", "trace", "dst_units"), FUSED_TRACES)
def test_transcoding_realloc_sequence(src: str, units: int, value: str, dst: str, trace: list, dst_units: int) -> None:
    heap = ToyHeap()
    cx = heap.cx(dst, fused=True)
    ptr, got_units = store_string_into_range(cx, _string_ref(value, src, units))
    assert heap.trace == trace
    assert got_units == dst_units
    assert load_string_from_range(heap.cx(dst), heap.memory.view(), ptr, got_units) == value


def test_fused_lift_returns_string_ref() -> None:
    heap = ToyHeap()
    heap.write(64, "hi".encode("utf-16-le"))
    s = load_string_from_range(heap.cx("utf16", fused=True), heap.memory.view(), 64, 2)
    assert isinstance(s, StringRef) and (s.memory, s.ptr, s.units, s.encoding, s.compact) == (heap.memory, 64, 2, "utf16", False)
    assert bytes(s.read()) == "hi".encode("utf-16-le")
    plain = load_string_from_range(heap.cx("utf16"), heap.memory.view(), 64, 2)
    assert type(plain) is str


def test_empty_list_still_allocates() -> None:
    for interpret in (False, True):
        heap = ToyHeap()
        cf = compile_func(FuncType((("l", ListType(U32)),), None), interpret=interpret)
        assert cf.lower_params(heap.cx(), [[]]) == [16, 0]
        assert heap.trace == [(0, 0, 4, 0)]


# --------------------------------------------------------------- traps


def _lift_param(t: ValType, flat: list, *, encoding: str = "utf8", fused: bool = False, heap: ToyHeap | None = None) -> list:
    """Lift ``flat`` as a param of type ``t`` with both paths; both must fail identically."""
    heap = heap or ToyHeap()
    messages = []
    for interpret in (False, True):
        cf = compile_func(FuncType((("p", t),), None), encoding, interpret=interpret)
        with pytest.raises(ComponentTrap) as info:
            cf.lift_params(heap.cx(encoding, fused), flat)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    return messages


LIFT_TRAPS = [
    # (type, flat, encoding, fused, memory bytes at 64, expected message)
    (STRING, [65535, 2], "utf8", False, b"", "string pointer/length out of bounds of memory"),
    (STRING, [65535, 2], "utf8", True, b"", "string content out-of-bounds"),
    (STRING, [65, 1], "utf16", False, b"", "string pointer not aligned to 2"),
    (STRING, [65, 1], "latin1+utf16", True, b"", "unaligned pointer"),
    (STRING, [65534, 2 | TAG], "latin1+utf16", False, b"", "string pointer/length out of bounds of memory"),
    (STRING, [64, 0xFFFFFFFF], "utf16", False, b"", "string pointer/length out of bounds of memory"),
    (STRING, [64, 2], "utf8", False, b"\xff\x00", "invalid utf-8 sequence of 1 bytes from index 0"),
    (STRING, [64, 2], "utf8", False, b"a\xe2", "incomplete utf-8 byte sequence from index 1"),
    (STRING, [64, 3], "utf8", False, b"\xed\xa0\x80", "invalid utf-8 sequence of 1 bytes from index 0"),
    (STRING, [64, 1], "utf16", False, b"\x00\xd8", "unpaired surrogate found: d800"),
    (STRING, [64, 2], "utf16", False, b"\x00\xdca\x00", "unpaired surrogate found: dc00"),
    (ListType(U32), [66, 1], "utf8", False, b"", "list pointer is not aligned"),
    (ListType(U32), [65532, 2], "utf8", False, b"", "list pointer/length out of bounds of memory"),
    (ListType(U32), [65533, 2], "utf8", False, b"", "list pointer/length out of bounds of memory"),
    (ListType(U32), [65533, 2], "utf8", True, b"", "unaligned pointer"),
    (ListType(U32), [65532, 2], "utf8", True, b"", "list content out-of-bounds"),
    (ListType(STRING), [64, 1], "utf8", False, b"\x00\x00\x01\x00\x05\x00\x00\x00", "string pointer/length out of bounds"),
    (CHAR, [0xD800], "utf8", False, b"", "converted integer out of range for `char`"),
    (CHAR, [0x110000], "utf8", True, b"", "invalid `char` bit pattern"),
    (ListType(CHAR), [64, 1], "utf8", False, b"\x00\x00\x11\x00", "converted integer out of range for `char`"),
    (EnumType(("a", "b")), [2], "utf8", False, b"", "discriminant 2 out of range [0..2)"),
    (EnumType(("a", "b")), [-1], "utf8", True, b"", "invalid variant discriminant"),
    (OptionType(U8), [2, 0], "utf8", False, b"", "discriminant 2 out of range [0..2)"),
    (ListType(ResultType(U8, None)), [64, 1], "utf8", False, b"\x02", "discriminant 2 out of range [0..2)"),
    # maps: wasmtime's own host messages, the list ones in a fused adapter
    (MapType(U32, U8), [66, 1], "utf8", False, b"", "map pointer is not aligned"),
    (MapType(U32, U8), [65528, 2], "utf8", False, b"", "map pointer/length out of bounds of memory"),
    (MapType(U32, U8), [65529, 2], "utf8", False, b"", "map pointer/length out of bounds of memory"),
    (MapType(U32, U8), [64, 0x20000000], "utf8", True, b"", "list content out-of-bounds"),
    (MapType(U64, U8), [68, 1], "utf8", True, b"", "unaligned pointer"),
    (MapType(U32, U8), [65528, 2], "utf8", True, b"", "list content out-of-bounds"),
    (MapType(CHAR, U8), [64, 1], "utf8", False, b"\x00\xd8\x00\x00", "converted integer out of range for `char`"),
    (MapType(U8, CHAR), [64, 1], "utf8", True, b"\x00\x00\x00\x00\x00\xd8", "invalid `char` bit pattern"),
    (MapType(STRING, U8), [64, 1], "utf8", False, b"\x00\x00\x01\x00\x05", "string pointer/length out of bounds"),
    (MapType(U8, OptionType(U8)), [64, 1], "utf8", False, b"\x00\x02\x00", "discriminant 2 out of range [0..2)"),
    (OptionType(MapType(U8, U8)), [1, 65535, 1], "utf8", False, b"", "map pointer/length out of bounds"),
]


@pytest.mark.parametrize(("t", "flat", "encoding", "fused", "data", "message"), LIFT_TRAPS)
def test_lift_traps(t: ValType, flat: list, encoding: str, fused: bool, data: bytes, message: str) -> None:
    heap = ToyHeap()
    heap.write(64, data)
    for text in _lift_param(t, flat, encoding=encoding, fused=fused, heap=heap):
        assert text.startswith("wasm trap: ") and message in text


def test_return_and_param_pointer_traps() -> None:
    big = TupleType((U64, U64))
    ft = FuncType(tuple((f"p{i}", U64) for i in range(17)), big)
    for interpret in (False, True):
        cf = compile_func(ft, interpret=interpret)
        for fused, flat, message in [
            (False, [4], "return pointer not aligned"),
            (False, [65536 - 8], "pointer out of bounds of memory"),
            (True, [4], "unaligned pointer"),
            (True, [65536 - 8], "out of bounds memory access"),
        ]:
            with pytest.raises(ComponentTrap, match=message):
                cf.lift_results(ToyHeap().cx(fused=fused), flat)
        for fused, flat, message in [
            (False, [4], "pointer not aligned"),
            (False, [65536 - 8], "pointer out of bounds"),
            (True, [65536 - 8], "out of bounds memory access"),
        ]:
            with pytest.raises(ComponentTrap, match=message):
                cf.lift_params(ToyHeap().cx(fused=fused), flat)
            with pytest.raises(ComponentTrap, match=message):
                cf.lower_results(ToyHeap().cx(fused=fused), (1, 2), [0] * 17 + flat)


REALLOC_TRAPS = [
    # (type, value, realloc result, fused, message)
    (ListType(U32), [1, 2], 2, False, "realloc return: result not aligned"),
    (ListType(U32), [1, 2], 65532, False, "realloc return: beyond end of memory"),
    (ListType(U32), [], 65540, False, "realloc return: beyond end of memory"),
    (ListType(U32), [1, 2], -1, False, "realloc return: result not aligned"),
    (ListType(U32), [1, 2], 2, True, "unaligned pointer"),
    (ListType(U32), [1, 2], 65532, True, "list content out-of-bounds"),
    (STRING, "abc", 65534, False, "realloc return: beyond end of memory"),
    (STRING, "abc", 65534, True, "string content out-of-bounds"),
    (TupleType(tuple([U64] * 17)), tuple(range(17)), 65536, True, "out of bounds memory access"),
    (MapType(U32, U32), {1: 2}, 2, False, "realloc return: result not aligned"),
    (MapType(U32, U32), {1: 2}, 65532, False, "realloc return: beyond end of memory"),
    (MapType(U32, U32), {1: 2}, 2, True, "unaligned pointer"),
    (MapType(U32, U32), {1: 2}, 65532, True, "list content out-of-bounds"),
]


@pytest.mark.parametrize(("t", "value", "result", "fused", "message"), REALLOC_TRAPS)
def test_realloc_traps(t: ValType, value: Any, result: int, fused: bool, message: str) -> None:
    for encoding in ENCODINGS if t == STRING else ("utf8",):
        for interpret in (False, True):
            heap = ToyHeap(override=result)
            cf = compile_func(FuncType((("p", t),), None), encoding, interpret=interpret)
            with pytest.raises(ComponentTrap, match=message):
                cf.lower_params(heap.cx(encoding, fused), [value])
    heap = ToyHeap(override=1)
    with pytest.raises(ComponentTrap, match="string pointer not aligned to 2" if False else "result not aligned"):
        compile_func(FuncType((("p", STRING),), None), "utf16").lower_params(heap.cx("utf16"), ["x"])


def test_flags_extra_bits_ignored() -> None:
    cx = ToyHeap().cx()
    assert lift_flat_values(cx, 16, CoreValueIter([0xFFFFFFFF]), [flags(3)]) == [{"f0", "f1", "f2"}]


# --------------------------------------------------------------- Python values

VALUE_ERRORS: list[tuple[ValType, Any, type, str]] = [
    (BOOL, 1, TypeError, "expected `bool`"),
    (U8, 256, ValueError, "out of range for `u8`"),
    (S8, -129, ValueError, "out of range for `s8`"),
    (U64, -1, ValueError, "out of range for `u64`"),
    (U32, "1", TypeError, "expected `u32` (int), found `str`"),
    (U32, 1.0, TypeError, "expected `u32`"),
    (F32, 1, TypeError, "expected `f32` (float), found `int`"),
    (F64, None, TypeError, "expected `f64`"),
    (CHAR, "ab", TypeError, "single-character"),
    (CHAR, "\ud800", ValueError, "surrogate"),
    (STRING, b"x", TypeError, "expected `string`"),
    (STRING, "a\udc00", ValueError, "surrogate"),
    (ListType(U8), [1, 2], TypeError, "expected `list<u8>` (bytes)"),
    (ListType(U32), "abc", TypeError, "expected `list`"),
    (ListType(U32), [1, "x"], TypeError, "list element 1: expected `u32`"),
    (ListType(F32), [1.0, 2], TypeError, "list element 1: expected `f32`"),
    (ListType(U16), [1, 70000], ValueError, "list element 1: integer 70000 out of range"),
    (ListType(U8, 2), b"abc", ValueError, "length 2"),
    (RecordType((("a", U8),)), Record(b=1), TypeError, "field `a`"),
    (RecordType((("a", U8),)), Record(a=-1), ValueError, "field `a`: integer -1 out of range"),
    (TupleType((U8, U8)), (1,), TypeError, "tuple of length 2"),
    (TupleType((U8, U8)), [1, 2], TypeError, "expected `tuple`"),
    (EnumType(("a",)), "b", ValueError, "enum variant name `b` is not valid"),
    (EnumType(("a",)), 0, TypeError, "expected `enum`"),
    (FlagsType(("a",)), ["a"], TypeError, "expected `flags`"),
    (FlagsType(("a",)), {"z"}, ValueError, "unknown flag: `z`"),
    (OptionType(U32), "x", ValueError, "value not valid for this variant"),
    (ResultType(None, None), None, TypeError, "expected `variant` (Variant)"),
    (ResultType(None, None), Variant("nope"), ValueError, "unknown variant case"),
    (VariantType((("a", U8), ("b", U16))), Variant("b", 70000), ValueError, "case `b`: integer 70000"),
    (MapType(STRING, U32), "ab", TypeError, "expected `map` (Mapping or list of (key, value) tuples), found `str`"),
    (MapType(STRING, U32), {"a", "b"}, TypeError, "expected `map`"),
    (MapType(STRING, U32), [("a", 1), ["b", 2]], TypeError, "map entry 1: expected a (key, value) tuple, found `list`"),
    (MapType(STRING, U32), [("a", 1, 2)], TypeError, "map entry 0: expected a (key, value) tuple, found a tuple of"),
    (MapType(STRING, U32), {"a": 1, 2: 3}, TypeError, "map entry 1 key: expected `string`"),
    (MapType(STRING, U32), {"a": 1, "b": -3}, ValueError, "map entry 1 value: integer -3 out of range for `u32`"),
    (MapType(U8, ListType(U8)), {1: [1]}, TypeError, "map entry 0 value: expected `list<u8>`"),
    (OptionType(MapType(U8, U8)), [(1, 2)], ValueError, "value not valid for this variant"),
]


@pytest.mark.parametrize(("t", "value", "exc", "message"), VALUE_ERRORS)
def test_value_errors(t: ValType, value: Any, exc: type, message: str) -> None:
    texts = []
    for interpret in (False, True):
        cf = compile_func(FuncType((("x", t),), t), interpret=interpret)
        with pytest.raises(exc) as info:
            cf.lower_params(ToyHeap().cx(), [value])
        texts.append(str(info.value))
        assert str(info.value).startswith("parameter `x`: ")
        assert message in str(info.value)
        with pytest.raises(exc) as info:
            cf.lower_results(ToyHeap().cx(), value, [0, 1024])
        assert message in str(info.value) and not str(info.value).startswith("parameter")
    assert texts[0] == texts[1]


def test_accepted_python_values() -> None:
    cx = ToyHeap().cx()
    assert lower_flat_values(cx, 16, [True], [U32]) == [1]  # a bool passes as an int
    cf = compile_func(FuncType((("b", ListType(U8)), ("l", ListType(U16)), ("f", FlagsType(("a", "b")))), None))
    flat = cf.lower_params(cx, [bytearray(b"ab"), (1, 2), frozenset({"b"})])
    assert cf.lift_params(cx, flat) == [b"ab", [1, 2], {"b"}]
    flat = cf.lower_params(cx, [memoryview(b"xy"), [3], set()])
    assert cf.lift_params(cx, flat) == [b"xy", [3], set()]
    rec = RecordType((("a-b", U8),))
    class Obj:
        pass
    obj = Obj()
    setattr(obj, "a-b", 5)
    assert lower_flat_values(cx, 16, [obj], [rec]) == [5]
    assert lower_flat_values(cx, 16, [{"a-b": 6}], [rec]) == [6]


def test_f32_rounding_and_overflow() -> None:
    cx = ToyHeap().cx()
    assert lower_flat_values(cx, 16, [0.1], [F32]) == [struct.unpack("<f", struct.pack("<f", 0.1))[0]]
    assert lower_flat_values(cx, 16, [1e300], [F32]) == [math.inf]
    cf = compile_func(FuncType((("l", ListType(F32)),), None))
    ptr, n = cf.lower_params(cx, [[1e300, -1e300]])
    assert cf.lift_params(cx, [ptr, n]) == [[math.inf, -math.inf]]


def test_nan_is_not_canonicalised() -> None:
    bits = 0x7FA00001  # a signalling-looking f32 NaN payload stays a NaN
    [v] = lift_flat_values(ToyHeap().cx(), 16, CoreValueIter([0, bits]), [ResultType(F32, U32)])
    assert isinstance(v, float) and math.isnan(v)


def test_tagging_rules() -> None:
    assert not is_tagged(OptionType(U32))
    assert is_tagged(OptionType(OptionType(U32)))
    assert not is_tagged(ResultType(U32, STRING))
    assert is_tagged(ResultType(U32, U8))
    assert is_tagged(ResultType(None, None))
    assert not is_tagged(VariantType((("a", BOOL), ("b", U32))))


def test_record_equality_and_repr() -> None:
    assert Record(a=1) == Record(a=1, b=2)  # wasmtime-py: fields of the left side only
    assert Record(a=1) != Record(a=2)
    assert repr(Record(a=1, b="x")) == "Record(a=1, b='x')"
    assert repr(Record(**{"a-b": 1})) == "Record(**{'a-b': 1})"


UNSUPPORTED = [
    (StreamType(U8), [7], "`stream` values is not supported yet"),
    (FutureType(None), [7], "`future` values is not supported yet"),
    (OptionType(PRIMITIVES["error-context"]), [1, 7], "`error-context` values is not supported yet"),
]


@pytest.mark.parametrize(("t", "flat", "message"), UNSUPPORTED)
def test_handle_types_need_the_runtimes_hooks(t: ValType, flat: list[int], message: str) -> None:
    """Without the concurrent runtime's context, streams, futures and error contexts fail when they cross."""
    for interpret in (False, True):
        cf = compile_func(FuncType((("p", t),), None), interpret=interpret)  # compiling is fine
        heap = ToyHeap()
        cx = LiftLowerContext(CanonicalOptions(has_memory=True, has_realloc=True), heap.memory, heap.realloc)
        with pytest.raises(UnsupportedError, match="lifting " + message):
            cf.lift_params(cx, flat)
        # option<error-context> is tagged: the payload's Python class is `object`, as for `none`
        value = object() if isinstance(t, (StreamType, FutureType)) else Variant("some", object())
        with pytest.raises(UnsupportedError, match="lowering " + message):
            cf.lower_params(cx, [value])


def test_resources_go_through_hooks() -> None:
    res = ResourceIdentity("r")
    cf = compile_func(FuncType((("o", OwnType(res)),), None))
    with pytest.raises(UnsupportedError, match="resources are not supported yet"):
        cf.lift_params(ToyHeap().cx(), [1])

    class Hooked(LiftLowerContext):
        def lift_own(self, resource: ResourceIdentity, index: int) -> Any:
            return ("own", resource.name, index)

        def lower_own(self, resource: ResourceIdentity, value: Any) -> int:
            return 7

    heap = ToyHeap()
    cx = Hooked(CanonicalOptions(), heap.memory, heap.realloc)
    assert cf.lift_params(cx, [-1]) == [("own", "r", 0xFFFFFFFF)]
    assert cf.lower_params(cx, [object()]) == [7]


def test_view_never_kept_across_realloc() -> None:
    # ToyHeap relocates storage on every realloc: a stale view would lose writes.
    t = ListType(RecordType((("s", STRING), ("n", U32), ("l", ListType(STRING)))))
    v = [Record(s="a" * i, n=i, l=["x", "y" * i]) for i in range(5)]
    for encoding in ENCODINGS:
        for interpret in (False, True):
            heap = ToyHeap()
            cf = compile_func(FuncType((("p", t),), t), encoding, interpret=interpret)
            cx = heap.cx(encoding)
            assert cf.lift_params(cx, cf.lower_params(cx, [v])) == [v]


# --------------------------------------------------------------- maps


def _both(t: ValType, encoding: str = "utf8") -> list[Any]:
    return [compile_func(FuncType((("p", t),), None), encoding, interpret=i) for i in (False, True)]


def test_map_is_stored_as_list_of_tuples() -> None:
    t = MapType(U8, U64)
    for cf in _both(t):
        heap = ToyHeap()
        ptr, length = cf.lower_params(heap.cx(), [{255: 2**64 - 1, 0: 7}])
        # one realloc for the entries: tuple<u8, u64> is 16 bytes, aligned to 8
        assert heap.trace == [(0, 0, 8, 32)] and (ptr % 8, length) == (0, 2)
        assert heap.read(ptr, 32) == b"\xff" + bytes(7) + b"\xff" * 8 + b"\x00" + bytes(7) + struct.pack("<Q", 7)
        assert cf.lift_params(heap.cx(), [ptr, length]) == [{255: 2**64 - 1, 0: 7}]


def test_map_duplicates_last_wins_for_the_host() -> None:
    t = MapType(STRING, U32)
    pairs = [("k", 1), ("z", 26), ("k", 2), ("a", 0)]
    for cf in _both(t):
        heap = ToyHeap()
        ptr, length = cf.lower_params(heap.cx(), [pairs])
        assert length == 4  # lowering keeps duplicates, in order
        raw = compile_func(FuncType((("p", ListType(TupleType((STRING, U32)))),), None))
        assert raw.lift_params(heap.cx(), [ptr, length]) == [pairs]
        [lifted] = cf.lift_params(heap.cx(), [ptr, length])
        assert lifted == {"k": 2, "z": 26, "a": 0} and list(lifted) == ["k", "z", "a"]


def test_map_accepts_any_mapping_or_pairs() -> None:
    import collections
    import types

    class Pairs(collections.abc.Mapping):  # a minimal read-only Mapping
        def __init__(self, items: list[tuple[Any, Any]]) -> None:
            self.items_ = items

        def __getitem__(self, key: Any) -> Any:
            return dict(self.items_)[key]

        def __iter__(self) -> Any:
            return iter(k for k, _ in self.items_)

        def __len__(self) -> int:
            return len(self.items_)

    expected = {"a": 1, "b": 2}
    values = [
        expected,
        types.MappingProxyType(expected),
        collections.OrderedDict(expected),
        Pairs([("a", 1), ("b", 2)]),
        [("a", 1), ("b", 2)],
        (("a", 1), ("b", 2)),
    ]
    for t in (MapType(STRING, U32), OptionType(MapType(STRING, U32))):
        for cf in _both(t):
            for v in values:
                if isinstance(t, OptionType) and not isinstance(v, collections.abc.Mapping):
                    continue  # in an untagged variant a map payload must be a Mapping
                heap = ToyHeap()
                assert same_value(cf.lift_params(heap.cx(), cf.lower_params(heap.cx(), [v]))[0], expected)


def test_map_size_overflow_is_checked_before_realloc() -> None:
    class Huge(list):  # claims 2**30 entries of 8 bytes: more than 4 GiB
        def __len__(self) -> int:
            return 1 << 30

    for cf in _both(MapType(U32, U32)):
        heap = ToyHeap()
        with pytest.raises(ValueError, match="size overflow copying a map"):
            cf.lower_params(heap.cx(), [Huge()])
        assert heap.trace == []


def test_map_python_classes() -> None:
    from wasmcomponent.types.values import describe_type, python_classes

    assert python_classes(MapType(STRING, U8)) == {dict}
    assert describe_type(MapType(STRING, U8)) == "map"
    assert not is_tagged(ResultType(MapType(U8, U8), ListType(U8)))
    assert is_tagged(VariantType((("a", MapType(U8, U8)), ("b", MapType(U8, STRING)))))
