"""Fused-adapter strings and lists: lazy references, wasmtime's realloc sequences and limits.

Values are lifted from a source heap with ``fused=True`` (giving
``StringRef``/``ListRef``) and lowered into a destination heap, through both
the interpreters and the compiled code.  Giant strings use an anonymous
4 GiB ``mmap`` (never touched, so it costs nothing) to check that sizes are
validated and ``realloc`` is called before any byte of the source is read.
"""

from __future__ import annotations

import mmap
import time
from typing import Any, Iterator

import pytest

from test_abi import ENCODINGS, TAG, ToyHeap
from wasmcomponent.abi.compile import compile_func
from wasmcomponent.abi.context import CanonicalOptions, LiftLowerContext
from wasmcomponent.abi.refs import FusedCase, ListRef, Snapshot, StringRef
from wasmcomponent.abi.strings import load_string_from_range, store_string_into_range
from wasmcomponent.errors import ComponentTrap
from wasmcomponent.types.abi import alignment, elem_size, map_entry_type
from wasmcomponent.types.model import (
    BOOL,
    CHAR,
    F32,
    STRING,
    U8,
    U32,
    U64,
    FuncType,
    ListType,
    MapType,
    OptionType,
    ResultType,
    TupleType,
    ValType,
    VariantType,
)

SAMPLES = ["", "abc", "caf\u00e9", "\u00ff\u00e9", "a\u2603b", "\U0001f600x", "x" * 40 + "\u0100"]


def _source_units(value: str, encoding: str) -> tuple[bytes, int]:
    """How a guest using ``encoding`` would pass ``value`` (bytes, tagged units)."""
    if encoding == "utf8":
        data = value.encode("utf-8")
        return data, len(data)
    if encoding == "utf16":
        data = value.encode("utf-16-le")
        return data, len(data) // 2
    try:
        data = value.encode("latin-1")
        return data, len(data)
    except UnicodeEncodeError:
        data = value.encode("utf-16-le")
        return data, (len(data) // 2) | TAG


def _fused_pass(t: ValType, value: Any, src: str, dst: str, interpret: bool) -> tuple[Any, list, Any]:
    """Host-lower ``value`` into a source heap, pass it through a fused lift/lower, host-lift it back."""
    ft = FuncType((("p", t),), None)
    cf_src = compile_func(ft, src, interpret=interpret)
    source, dest = ToyHeap(), ToyHeap(start=32)
    flat = cf_src.lower_params(source.cx(src), [value])
    lifted = cf_src.lift_params(source.cx(src, fused=True), flat)
    cf_dst = compile_func(ft, dst, interpret=interpret)
    out = cf_dst.lower_params(dest.cx(dst, fused=True), lifted)
    back = cf_dst.lift_params(dest.cx(dst), out)
    return back[0], dest.trace, out


@pytest.mark.parametrize("src", ENCODINGS)
@pytest.mark.parametrize("dst", ENCODINGS)
def test_strings_cross_all_encoding_pairs(src: str, dst: str) -> None:
    for value in SAMPLES:
        results = [_fused_pass(STRING, value, src, dst, interpret) for interpret in (False, True)]
        assert results[0] == results[1]
        assert results[0][0] == value


def _heap_with(encoding: str, value: str, *, start: int = 16) -> tuple[ToyHeap, StringRef]:
    source = ToyHeap()
    data, units = _source_units(value, encoding)
    source.write(64, data)
    ref = load_string_from_range(source.cx(encoding, fused=True), source.memory.view(), 64, units)
    assert isinstance(ref, StringRef)
    return source, ref


# (src encoding, value, dst encoding, realloc trace, returned tagged units) per wasmtime's adapters
SEQUENCES = [
    ("utf8", "a\u00e9", "utf8", [(0, 0, 1, 3)], 3),
    ("utf8", "a\u00e9", "latin1+utf16", [(0, 0, 2, 3), (16, 3, 2, 2)], 2),
    ("utf8", "ab", "latin1+utf16", [(0, 0, 2, 2)], 2),
    ("utf8", "\u00e9\u2603", "latin1+utf16", [(0, 0, 2, 5), (16, 5, 2, 10), (22, 10, 2, 4)], 2 | TAG),
    ("utf16", "ab", "utf16", [(0, 0, 2, 4)], 2),
    ("utf16", "a\u00e9", "latin1+utf16", [(0, 0, 2, 2)], 2),
    ("utf16", "\U0001f600", "utf8", [(0, 0, 1, 2), (16, 2, 1, 6), (18, 6, 1, 4)], 4),
    ("latin1+utf16", "ab", "utf8", [(0, 0, 1, 2)], 2),
    ("latin1+utf16", "\u2603a", "latin1+utf16", [(0, 0, 2, 4)], 2 | TAG),
    ("latin1+utf16", "\u2603a", "utf16", [(0, 0, 2, 4)], 2),
]


@pytest.mark.parametrize(("src", "value", "dst", "trace", "units"), SEQUENCES)
def test_wasmtime_realloc_sequences(src: str, value: str, dst: str, trace: list, units: int) -> None:
    _, ref = _heap_with(src, value)
    dest = ToyHeap()
    ptr, got = store_string_into_range(dest.cx(dst, fused=True), ref)
    assert (dest.trace, got) == (trace, units)
    assert load_string_from_range(dest.cx(dst), dest.memory.view(), ptr, got) == value


def test_utf16_to_latin1_shrink_is_aligned_to_two() -> None:
    # wasmtime/strings.wast:173: a tagged utf16 "AA" becomes latin1; the shrink
    # passes alignment 2 (the spec's `store_probably_utf16_to_latin1_or_utf16`
    # passes 1), and a misaligned result traps "unaligned pointer".
    source = ToyHeap()
    source.write(64, "AA".encode("utf-16-le"))
    ref = load_string_from_range(source.cx("latin1+utf16", fused=True), source.memory.view(), 64, 2 | TAG)
    calls: list[tuple[int, int, int, int]] = []

    def realloc(old: int, old_size: int, align: int, new: int) -> int:
        calls.append((old, old_size, align, new))
        return 2 if old == 0 else 3

    dest = ToyHeap()
    cx = LiftLowerContext(CanonicalOptions("latin1+utf16"), dest.memory, realloc, fused=True)
    with pytest.raises(ComponentTrap, match="unaligned pointer"):
        store_string_into_range(cx, ref)
    assert calls == [(0, 0, 2, 4), (2, 4, 2, 2)]


INVALID = [
    # (src encoding, bytes, tagged units, dst encoding, trace before the trap, message)
    ("utf8", b"\xff", 1, "utf8", [(0, 0, 1, 1)], "invalid utf8 encoding"),
    ("utf8", b"a\xc3", 2, "utf16", [(0, 0, 2, 4)], "invalid utf8 encoding"),
    ("utf8", b"\xe2\x98", 2, "latin1+utf16", [(0, 0, 2, 2), (16, 2, 2, 4)], "invalid utf8 encoding"),
    ("utf16", b"\x00\xd8", 1, "utf16", [(0, 0, 2, 2)], "invalid utf16 encoding"),
    ("utf16", b"a\x00\x00\xdc", 2, "utf8", [(0, 0, 1, 2)], "invalid utf16 encoding"),
    ("utf16", b"\xe9\x00\x00\xdc", 2, "utf8", [(0, 0, 1, 2), (16, 2, 1, 6)], "invalid utf16 encoding"),
    ("latin1+utf16", b"\x00\xd8", 1 | TAG, "latin1+utf16", [(0, 0, 2, 2)], "invalid utf16 encoding"),
]


@pytest.mark.parametrize(("src", "data", "units", "dst", "trace", "message"), INVALID)
def test_invalid_encodings_trap_after_allocation(
    src: str, data: bytes, units: int, dst: str, trace: list, message: str
) -> None:
    source = ToyHeap()
    source.write(64, data)
    for interpret in (False, True):
        cf_src = compile_func(FuncType((("p", STRING),), None), src, interpret=interpret)
        (ref,) = cf_src.lift_params(source.cx(src, fused=True), [64, units])
        dest = ToyHeap()
        cf_dst = compile_func(FuncType((("p", STRING),), None), dst, interpret=interpret)
        with pytest.raises(ComponentTrap, match=message):
            cf_dst.lower_params(dest.cx(dst, fused=True), [ref])
        assert dest.trace == trace


def test_source_read_after_realloc_in_shared_memory() -> None:
    # Caller and callee share one memory; the callee's realloc overwrites the
    # source: like wasmtime, the copy reads the source after realloc.
    heap = ToyHeap()
    heap.write(64, b"abcd")
    ref = load_string_from_range(heap.cx("utf8", fused=True), heap.memory.view(), 64, 4)

    def realloc(old: int, old_size: int, align: int, new: int) -> int:
        heap.memory.relocate()
        heap.write(64, b"wxyz")
        return 128

    cx = LiftLowerContext(CanonicalOptions("utf8"), heap.memory, realloc, fused=True)
    assert store_string_into_range(cx, ref) == (128, 4)
    assert heap.read(128, 4) == b"wxyz"


# ----------------------------------------------------------- giant strings


class HugeMemory:
    """A ~4 GiB anonymous mapping (untouched pages cost nothing) that counts views."""

    def __init__(self, size: int) -> None:
        self.map = mmap.mmap(-1, size)
        self.views = 0

    def view(self) -> memoryview:
        self.views += 1
        return memoryview(self.map)

    def size(self) -> int:
        return len(self.map)


class Unreachable(Exception):
    pass


@pytest.fixture(scope="module")
def huge() -> Iterator[HugeMemory]:
    try:
        memory = HugeMemory(65531 * 65536)
    except (OSError, OverflowError, MemoryError):
        pytest.skip("cannot map 4 GiB of address space")
    yield memory
    memory.map.close()


# (src encoding, tagged units, bytes at 0, allowed reallocs, expected failure) from big-strings.wast
GIANT = [
    ("utf8", 0x7FFF_FFFF, b"", "utf8", 0, "realloc"),
    ("utf8", 0x8000_0000, b"", "utf8", 0, "string content out-of-bounds"),
    ("utf8", 0x3FFF_FFFF, b"", "utf16", 0, "realloc"),
    ("utf8", 0x4000_0000, b"", "utf16", 0, "string content out-of-bounds"),
    ("utf8", 0x7FFF_FFFF, b"", "latin1+utf16", 0, "realloc"),
    ("utf8", 0x3FFF_FFFF, b"\xc4\x80", "latin1+utf16", 1, "realloc"),
    ("utf8", 0x4000_0000, b"\xc4\x80", "latin1+utf16", 1, "string content out-of-bounds"),
    ("utf16", 0x3FFF_FFFF, b"", "utf8", 0, "realloc"),
    ("utf16", 0x4000_0000, b"", "utf8", 0, "string content out-of-bounds"),
    ("utf16", 715827882, b"\xff\x00", "utf8", 1, "realloc"),
    ("utf16", 715827883, b"\xff\x00", "utf8", 1, "string content out-of-bounds"),
    ("utf16", 0x3FFF_FFFF, b"\x00\x01", "latin1+utf16", 1, "realloc"),
    ("latin1+utf16", 0x3FFF_FFFF, b"\xff", "utf8", 1, "realloc"),
    ("latin1+utf16", 0x4000_0000, b"\xff", "utf8", 1, "string content out-of-bounds"),
    ("latin1+utf16", 0xAAAA_AAAA, b"\xff\x00", "utf8", 1, "realloc"),
    ("latin1+utf16", 0xAAAA_AAAB, b"\xff\x00", "utf8", 1, "string content out-of-bounds"),
    ("latin1+utf16", 0xBFFF_FFFF, b"", "utf16", 0, "realloc"),
    ("latin1+utf16", 0xC000_0000, b"", "latin1+utf16", 0, "string content out-of-bounds"),
    ("latin1+utf16", 0x7FFF_FFFF, b"", "latin1+utf16", 0, "realloc"),
]


@pytest.mark.parametrize(("src", "units", "data", "dst", "allowed", "failure"), GIANT)
def test_giant_strings_fail_fast(
    huge: HugeMemory, src: str, units: int, data: bytes, dst: str, allowed: int, failure: str
) -> None:
    huge.map[0:4] = b"\x00" * 4
    huge.map[0 : len(data)] = data
    for interpret in (False, True):
        calls: list[tuple[int, int, int, int]] = []

        def realloc(old: int, old_size: int, align: int, new: int, calls: list = calls) -> int:
            calls.append((old, old_size, align, new))
            if len(calls) > allowed:
                raise Unreachable
            return 0

        began = time.perf_counter()
        cf = compile_func(FuncType((("p", STRING),), None), src, interpret=interpret)
        options = CanonicalOptions(src, has_memory=True)  # type: ignore[arg-type]
        (ref,) = cf.lift_params(LiftLowerContext(options, huge, None, fused=True), [0, units])
        dest_options = CanonicalOptions(dst, has_memory=True, has_realloc=True)  # type: ignore[arg-type]
        cx = LiftLowerContext(dest_options, huge, realloc, fused=True)
        expected: type[Exception] = Unreachable if failure == "realloc" else ComponentTrap
        with pytest.raises(expected) as info:
            compile_func(FuncType((("p", STRING),), None), dst, interpret=interpret).lower_params(cx, [ref])
        if expected is ComponentTrap:
            assert failure in str(info.value)
        assert len(calls) == (allowed + 1 if failure == "realloc" else allowed)
        assert time.perf_counter() - began < 2.0


def test_giant_source_out_of_bounds_traps_at_lift(huge: HugeMemory) -> None:
    options = CanonicalOptions("utf8", has_memory=True)
    cx = LiftLowerContext(options, huge, None, fused=True)
    with pytest.raises(ComponentTrap, match="string content out-of-bounds"):
        load_string_from_range(cx, huge.view(), huge.size() - 1, 2)


# ------------------------------------------------------------------ lists


@pytest.mark.parametrize("elem", [U8, U32, U64, F32, BOOL, CHAR])
def test_lists_of_scalars_pass_as_references(elem: ValType) -> None:
    samples: dict[Any, Any] = {
        U8: b"\x01\x02\xff",
        U32: [1, 2, 0xFFFFFFFF],
        U64: [5, 1 << 63],
        F32: [1.5, -0.0],
        BOOL: [True, False, True],
        CHAR: ["a", "\u2603", "\U0001f600"],
    }
    values = samples[elem]
    for interpret in (False, True):
        ft = FuncType((("p", ListType(elem)),), None)
        cf = compile_func(ft, interpret=interpret)
        source, dest = ToyHeap(), ToyHeap(start=40)
        flat = cf.lower_params(source.cx(), [values])
        (ref,) = cf.lift_params(source.cx(fused=True), flat)
        assert isinstance(ref, ListRef) and (ref.ptr, ref.length) == (flat[0], len(values))
        out = cf.lower_params(dest.cx(fused=True), [ref])
        assert dest.trace == [(0, 0, ref.align, ref.size * len(values))]
        assert cf.lift_params(dest.cx(), out) == [values]


def test_list_bools_are_normalised_and_bad_chars_trap_after_realloc() -> None:
    source = ToyHeap()
    source.write(64, b"\x00\x07\x01")
    for interpret in (False, True):
        cf = compile_func(FuncType((("p", ListType(BOOL)),), None), interpret=interpret)
        (ref,) = cf.lift_params(source.cx(fused=True), [64, 3])
        dest = ToyHeap()
        ptr, _ = cf.lower_params(dest.cx(fused=True), [ref])
        assert dest.read(ptr, 3) == b"\x00\x01\x01"
    source.write(64, (0x41).to_bytes(4, "little") + (0xD800).to_bytes(4, "little"))
    for interpret in (False, True):
        cf = compile_func(FuncType((("p", ListType(CHAR)),), None), interpret=interpret)
        (ref,) = cf.lift_params(source.cx(fused=True), [64, 2])
        dest = ToyHeap()
        with pytest.raises(ComponentTrap, match="invalid `char` bit pattern"):
            cf.lower_params(dest.cx(fused=True), [ref])
        assert dest.trace == [(0, 0, 4, 8)] and dest.read(16, 4) == b"A\x00\x00\x00"


@pytest.mark.parametrize(
    ("flat", "message"),
    [
        ([66, 0x4000_0000], "list content out-of-bounds"),  # byte length overflows 32 bits: before alignment
        ([66, 1], "unaligned pointer"),
        ([65532, 2], "list content out-of-bounds"),
    ],
)
def test_fused_list_range_checks(flat: list, message: str) -> None:
    for interpret in (False, True):
        cf = compile_func(FuncType((("p", ListType(U32)),), None), interpret=interpret)
        with pytest.raises(ComponentTrap, match=message):
            cf.lift_params(ToyHeap().cx(fused=True), flat)


def test_lists_of_strings_hold_string_references() -> None:
    for interpret in (False, True):
        back, trace, _ = _fused_pass(ListType(STRING), ["a\u00e9", "\u2603"], "utf8", "utf16", interpret)
        assert back == ["a\u00e9", "\u2603"]
        # list first, then each element: allocate worst case, shrink (wasmtime's order)
        assert trace == [(0, 0, 4, 16), (0, 0, 2, 6), (48, 6, 2, 4), (0, 0, 2, 6), (58, 6, 2, 2)]


# ---------------------------------------------------------------- variants and maps


def _pairs_type(t: ValType) -> ValType:
    """``t`` with every map despecialised to ``list<tuple<k, v>>`` (same ABI, lifted without a dict)."""
    if isinstance(t, MapType):
        return ListType(TupleType((_pairs_type(t.key), _pairs_type(t.value))))
    return t


@pytest.mark.parametrize("interpret", [False, True])
@pytest.mark.parametrize(
    ("t", "value"),
    [
        (OptionType(STRING), "h\u00e9"),
        (OptionType(ListType(U32)), [1, 2]),
        (ResultType(STRING, ListType(U32)), [1, 2]),
        (ResultType(STRING, ListType(U32)), "s"),
        (VariantType((("a", ListType(U8)), ("b", STRING))), "x"),
        (OptionType(MapType(STRING, U32)), {"k": 1}),
        (ResultType(MapType(U8, U8), ListType(TupleType((U8, U8)))), {1: 2}),
        (ResultType(MapType(U8, U8), ListType(TupleType((U8, U8)))), [(1, 2)]),
    ],
)
def test_fused_variants_keep_their_case(interpret: bool, t: ValType, value: Any) -> None:
    # A payload lifted as a reference (or a map as pairs) no longer has the
    # Python class that selects an untagged case: the case index is carried.
    for src, dst in [("utf8", "utf16"), ("latin1+utf16", "utf8")]:
        back, _, _ = _fused_pass(t, value, src, dst, interpret)
        assert back == value and type(back) is type(value)
    cf = compile_func(FuncType((("p", t),), None), interpret=interpret)
    source = ToyHeap()
    (lifted,) = cf.lift_params(source.cx(fused=True), cf.lower_params(source.cx(), [value]))
    assert isinstance(lifted, FusedCase)


MAP_SAMPLES: list[tuple[ValType, list[Any]]] = [
    (MapType(STRING, U32), [("z", 26), ("k", 1), ("k", 2), ("a\u00e9", 0)]),
    (MapType(U32, STRING), [(10, "x"), (10, "\u2603"), (20, "")]),
    (MapType(CHAR, BOOL), [("A", True), ("z", False), ("A", False)]),
    (MapType(U8, U64), [(255, 2**64 - 1), (0, 7)]),
    (MapType(STRING, ListType(U32)), [("p", [1, 2]), ("q", []), ("p", [3])]),
    (
        MapType(STRING, MapType(STRING, ListType(U8))),
        [("k", [("d", b"\x00")]), ("k", [("d", b"\x07\x08"), ("d", b"\x09")]), ("b", [])],
    ),
]


@pytest.mark.parametrize("interpret", [False, True])
@pytest.mark.parametrize(("t", "pairs"), MAP_SAMPLES)
def test_fused_maps_carry_pairs_exactly(interpret: bool, t: ValType, pairs: list) -> None:
    ft = FuncType((("p", t),), None)
    raw = compile_func(FuncType((("p", _pairs_type(t)),), None), interpret=interpret)
    for src, dst in [("utf8", "utf8"), ("utf8", "utf16"), ("latin1+utf16", "utf8")]:
        cf_src = compile_func(ft, src, interpret=interpret)
        cf_dst = compile_func(ft, dst, interpret=interpret)
        source, dest = ToyHeap(), ToyHeap(start=32)
        flat = cf_src.lower_params(source.cx(src), [pairs])
        (lifted,) = cf_src.lift_params(source.cx(src, fused=True), flat)
        assert type(lifted) is list and len(lifted) == len(pairs)  # no dict: duplicates kept
        assert all(type(entry) is tuple and len(entry) == 2 for entry in lifted)
        out = cf_dst.lower_params(dest.cx(dst, fused=True), [lifted])
        entry = map_entry_type(t)  # type: ignore[arg-type]
        assert dest.trace[0] == (0, 0, alignment(entry), len(pairs) * elem_size(entry))
        assert raw.lift_params(dest.cx(dst), out) == [pairs]  # the exact pairs, in order
        assert cf_dst.lift_params(dest.cx(dst), out) == [_as_dict(t, pairs)]


def _as_dict(t: ValType, pairs: list) -> Any:
    """What the host sees: nested dicts, last duplicate wins."""
    if isinstance(t, MapType):
        return {k: _as_dict(t.value, v) for k, v in pairs}
    return pairs


def test_fused_map_keys_are_string_references() -> None:
    t = MapType(STRING, U32)
    for interpret in (False, True):
        cf = compile_func(FuncType((("p", t),), None), interpret=interpret)
        source = ToyHeap()
        (lifted,) = cf.lift_params(source.cx(fused=True), cf.lower_params(source.cx(), [[("a", 1), ("a", 2)]]))
        assert [type(k) for k, _ in lifted] == [StringRef, StringRef] and [v for _, v in lifted] == [1, 2]


def test_fused_map_realloc_sequence_and_traps() -> None:
    # entries first (one realloc: size n * 12, align 4), then each key string
    t = MapType(STRING, U32)
    for interpret in (False, True):
        back, trace, _ = _fused_pass(t, [("ab", 1), ("c", 2)], "utf8", "utf8", interpret)
        assert back == {"ab": 1, "c": 2}
        assert trace == [(0, 0, 4, 24), (0, 0, 1, 2), (0, 0, 1, 1)]
        cf = compile_func(FuncType((("p", t),), None), interpret=interpret)
        for flat, message in [([66, 1], "unaligned pointer"), ([65532, 1], "list content out-of-bounds")]:
            with pytest.raises(ComponentTrap, match=message):
                cf.lift_params(ToyHeap().cx(fused=True), flat)
        with pytest.raises(ComponentTrap, match="list content out-of-bounds"):
            cf.lower_params(ToyHeap(override=65532).cx(fused=True), [[("a", 1), ("b", 2)]])
        assert cf.lift_params(ToyHeap().cx(fused=True), [64, 0]) == [[]]


# ---------------------------------------------------------------- results


@pytest.mark.parametrize("interpret", [False, True])
@pytest.mark.parametrize("t", [STRING, ListType(U32), ListType(ListType(U8))])
def test_results_are_detached_when_post_return_may_run_first(interpret: bool, t: ValType) -> None:
    samples: dict[Any, Any] = {STRING: "h\u00e9", ListType(U32): [7, 8], ListType(ListType(U8)): [b"xy"]}
    value = samples[t]
    cf = compile_func(FuncType((), t), interpret=interpret)
    assert cf.results_spill
    heap = ToyHeap()
    cf.lower_results(heap.cx(), value, [1024])
    for lazy, post_return, detached in [(False, True, True), (True, True, False), (False, False, False)]:
        options = CanonicalOptions("utf8", has_memory=True, has_realloc=True, has_post_return=post_return)
        cx = LiftLowerContext(options, heap.memory, heap.realloc, fused=True)
        cx.lazy_results = lazy
        result = cf.lift_results(cx, [1024])
        assert not cx.detach_refs
        ref = result[0] if isinstance(result, list) else result
        assert isinstance(ref, (StringRef, ListRef))
        assert isinstance(ref.memory, Snapshot) is detached
        heap.memory.data[:] = bytes(len(heap.memory.data))  # "post-return" wipes the memory
        dest = ToyHeap()
        cf.lower_results(dest.cx(fused=True), result, [1024])
        assert (cf.lift_results(dest.cx(), [1024]) == value) is detached
        cf.lower_results(heap.cx(), value, [1024])
