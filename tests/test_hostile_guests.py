"""Hostile guests: every value a guest hands the host is checked, and a bad one traps.

One case per bullet of issue 4, point 2: pointers out of bounds or
misaligned (returned pointers, string/list pointers in results and in
host-import arguments, spilled parameters, out-pointers given to host
imports), lengths whose byte size overflows 32 bits, invalid UTF-8, unpaired
UTF-16 surrogates, latin1+utf16 tagged lengths, discriminants out of range,
chars out of range or surrogates, lying `realloc` results, and a guest making
the host copy unbounded data.

Every case runs on `wasmtime.component` (the reference) and on
`wasmcomponent`, and asserts wasmtime's wording (`func/typed.rs`,
`func/options.rs`, `func/host.rs`, `values.rs`), then that the trap
*poisons* rather than corrupts: every later call in that store, including one
into another, healthy instance, fails with "cannot enter component instance"
(as wasmtime 50 does), while instances in other stores, and the same guest
instantiated afresh, behave exactly as before.

The builders (`guest`, `data_at`, `instantiate`, `BYSTANDER`) are reused by
`test_hostile_values.py` and `test_limits.py`.  `guest` writes a component
around one core function `run` whose body is hand-written WAT:

* a core module `$libc` owns the memory (`memory_pages` pages), the case's
  data segments and `realloc` (a bump allocator from offset 4096 unless the
  case gives its own body);
* an optional host import `host` is lowered with `$libc`'s memory and realloc;
* a core module `$main` imports that memory (and the import) and exports
  `run`, lifted as the component export `run`.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

import pytest
from wasmtime import Engine, Store, WasmtimeError

BACKENDS = ("wasmtime", "wasmcomponent")

BUMP_REALLOC = """
    (global.set $bump (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get 2))))
    (global.get $bump)
    (global.set $bump (i32.add (global.get $bump) (local.get 3)))"""
"""A bump allocator honouring the requested alignment (never frees)."""

GROWING_REALLOC = """
    (local $new i32)
    (local.set $new (i32.mul (memory.grow (i32.add (i32.shr_u (local.get 3) (i32.const 16)) (i32.const 1)))
                             (i32.const 65536)))
    (memory.copy (local.get $new) (local.get 0)
                 (select (local.get 1) (local.get 3) (i32.lt_u (local.get 1) (local.get 3))))
    (local.get $new)"""
"""Moves every allocation into freshly grown pages (copying the old contents): memory grows on every call."""


def backend(name: str) -> ModuleType:
    """The component API module of backend `name` (see `BACKENDS`)."""
    return importlib.import_module("wasmtime.component" if name == "wasmtime" else "wasmcomponent")


def guest(
    export_type: str = "",
    core_sig: str = "",
    body: str = "",
    *,
    data: str = "",
    encoding: str = "utf8",
    types: str = "",
    import_type: str | None = None,
    import_core_sig: str = "",
    realloc: str = BUMP_REALLOC,
    memory_pages: int = 1,
    memory_max: int | None = None,
    extra_core: str = "",
) -> str:
    """The WAT of a component exporting `run` (see the module docstring).

    `types` is component-level text placed before the lift (for exported
    type definitions: enums, variants); `extra_core` adds core functions to
    `$main`.
    """
    options = f"(memory $mem) (realloc $realloc) string-encoding={encoding}"
    limits = f"{memory_pages}" if memory_max is None else f"{memory_pages} {memory_max}"
    import_decl = lower = core_import = with_host = ""
    if import_type is not None:
        import_decl = f'(import "host" (func $host {import_type}))'
        lower = (f"(core func $host-lowered (canon lower (func $host) {options}))\n"
                 '  (core instance $host-instance (export "f" (func $host-lowered)))')
        core_import = f'(import "host" "f" (func $host {import_core_sig}))'
        with_host = '(with "host" (instance $host-instance))'
    return f"""(component
  {import_decl}
  (core module $libc
    (memory (export "mem") {limits})
    (global $bump (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) {realloc})
    {data})
  (core instance $libc (instantiate $libc))
  (alias core export $libc "mem" (core memory $mem))
  (alias core export $libc "realloc" (core func $realloc))
  {lower}
  (core module $main
    (import "libc" "mem" (memory {limits}))
    {core_import}
    (func (export "run") {core_sig} {body})
    {extra_core})
  (core instance $main (instantiate $main (with "libc" (instance $libc)) {with_host}))
  (alias core export $main "run" (core func $run))
  {types}
  (func (export "run") {export_type} (canon lift (core func $run) {options}))
)"""


def data_at(offset: int, *words: int, raw: bytes = b"") -> str:
    """A data segment at `offset` holding little-endian u32 `words`, then `raw`."""
    blob = b"".join(w.to_bytes(4, "little") for w in words) + raw
    text = "".join(f"\\{b:02x}" for b in blob)
    return f'(data (i32.const {offset}) "{text}")'


def instantiate(
    mod: ModuleType,
    engine: Engine,
    store: Store,
    wat: str,
    host: Callable[..., Any] | None = None,
    component: Any = None,
) -> Any:
    """Instantiate `wat` (or an already compiled `component`) in `store`, with `host` as import `host`."""
    linker = mod.Linker(engine)
    if host is not None:
        with linker.root() as root:
            root.add_func("host", host)
    return linker.instantiate(store, component if component is not None else mod.Component(engine, wat))


BYSTANDER = """(component
  (core module $m (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
  (core instance $i (instantiate $m))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
)"""
"""A well-behaved component: `add(a, b: u32) -> u32`."""


# --------------------------------------------------------------------------
# Cases

RET = "(result i32)"
"""Core signature of a `run` that returns one i32 (a value or a return pointer)."""

OOB_STRING = "string pointer/length out of bounds of memory"
OOB_LIST = "list pointer/length out of bounds of memory"
BAD_CHAR = "converted integer out of range for `char`"


@dataclass(frozen=True)
class Hostile:
    """A hostile guest: calling `run(*args)` must trap with `message`.

    `host` is the implementation of the import `host` (if the guest has
    one); `host_runs` says whether it runs before the trap (a bad out-pointer
    or `realloc` is only seen when its result is lowered).
    """

    id: str
    wat: str
    message: str
    args: tuple[Any, ...] = ()
    host: Callable[..., Any] | None = None
    host_runs: bool = False


def returns(export_type: str, *data: str, value: str = "(i32.const 8)", **options: Any) -> str:
    """A guest whose `run` returns `value` (a pointer to the result in memory, or the flat result)."""
    return guest(export_type, RET, value, data=" ".join(data), **options)


def calls_host(import_type: str, core_sig: str, *args: int, data: str = "", **options: Any) -> str:
    """A guest whose `run` calls the import `host` with the core arguments `args`."""
    call = "(call $host " + " ".join(f"(i32.const {a})" for a in args) + ")"
    return guest("", "", call, data=data, import_type=import_type, import_core_sig=core_sig, **options)


def host_string(_store: Any) -> str:
    return "hello"


def host_words(_store: Any) -> list[int]:
    return [1, 2, 3]


def host_sink(_store: Any, *_args: Any) -> None:
    return None


SPILLED = "(tuple " + " ".join(["u32"] * 17) + ")"
"""A parameter of 17 flat values: a host import receives it through a pointer."""

CASES: tuple[Hostile, ...] = (
    # -- returned pointers (results spilled to memory)
    Hostile("return-pointer-out-of-bounds", returns("(result string)", value="(i32.const 65532)"),
            "pointer out of bounds of memory"),
    Hostile("return-pointer-negative", returns("(result string)", value="(i32.const -8)"),
            "pointer out of bounds of memory"),
    Hostile("return-pointer-misaligned", returns("(result string)", value="(i32.const 2)"),
            "return pointer not aligned"),
    # -- string and list pointers in results
    Hostile("result-string-out-of-bounds", returns("(result string)", data_at(8, 0xFFF0, 0x20)), OOB_STRING),
    Hostile("result-string-pointer-wraps", returns("(result string)", data_at(8, 0xFFFFFFFF, 2)), OOB_STRING),
    Hostile("result-utf16-string-misaligned", returns("(result string)", data_at(8, 17, 1), encoding="utf16"),
            "string pointer not aligned to 2"),
    Hostile("result-list-out-of-bounds", returns("(result (list u32))", data_at(8, 0xFFF0, 8)), OOB_LIST),
    Hostile("result-list-misaligned", returns("(result (list u32))", data_at(8, 2, 1)),
            "list pointer is not aligned"),
    Hostile("result-nested-string-out-of-bounds",
            returns("(result (list string))", data_at(8, 16, 2), data_at(16, 32, 1, 0xFFFF, 2)), OOB_STRING),
    # -- string and list pointers in host-import arguments (the host never runs)
    Hostile("import-string-out-of-bounds", calls_host('(param "s" string)', "(param i32 i32)", 65530, 10),
            OOB_STRING, host=host_sink),
    Hostile("import-list-misaligned", calls_host('(param "l" (list u32))', "(param i32 i32)", 2, 1),
            "list pointer is not aligned", host=host_sink),
    Hostile("import-list-out-of-bounds", calls_host('(param "l" (list u8))', "(param i32 i32)", 65000, 537),
            OOB_LIST, host=host_sink),
    Hostile("import-spilled-params-out-of-bounds",
            calls_host(f'(param "t" {SPILLED})', "(param i32)", 65532), "pointer out of bounds", host=host_sink),
    Hostile("import-spilled-params-misaligned",
            calls_host(f'(param "t" {SPILLED})', "(param i32)", 6), "pointer not aligned", host=host_sink),
    # -- out-pointers given to host imports (checked when the result is stored)
    Hostile("import-out-pointer-out-of-bounds", calls_host("(result string)", "(param i32)", 65532),
            "pointer out of bounds", host=host_string, host_runs=True),
    Hostile("import-out-pointer-misaligned", calls_host("(result string)", "(param i32)", 6),
            "pointer not aligned", host=host_string, host_runs=True),
    # -- lengths whose size in bytes overflows 32 bits (wrapping would make them look small)
    Hostile("result-list-byte-length-overflows", returns("(result (list u64))", data_at(8, 16, 0x20000001)),
            OOB_LIST),
    Hostile("result-utf16-byte-length-overflows",
            returns("(result string)", data_at(8, 16, 0x80000004), encoding="utf16"), OOB_STRING),
    Hostile("import-list-byte-length-overflows",
            calls_host('(param "l" (list u64))', "(param i32 i32)", 16, 0x20000001), OOB_LIST, host=host_sink),
    Hostile("import-record-list-byte-length-overflows",
            calls_host('(param "l" (list (tuple u32 u32 u32 u32)))', "(param i32 i32)", 16, 0x10000001),
            OOB_LIST, host=host_sink),
    # -- invalid UTF-8
    Hostile("utf8-invalid-byte", returns("(result string)", data_at(8, 16, 2, raw=b"a\xff")),
            "invalid utf-8 sequence of 1 bytes from index 1"),
    Hostile("utf8-truncated-sequence", returns("(result string)", data_at(8, 16, 3, raw=b"a\xe2\x82")),
            "incomplete utf-8 byte sequence from index 1"),
    Hostile("utf8-encoded-surrogate", returns("(result string)", data_at(8, 16, 3, raw=b"\xed\xa0\x80")),
            "invalid utf-8 sequence of 1 bytes from index 0"),
    Hostile("utf8-overlong", returns("(result string)", data_at(8, 16, 2, raw=b"\xc0\xaf")),
            "invalid utf-8 sequence of 1 bytes from index 0"),
    Hostile("import-utf8-invalid",
            calls_host('(param "s" string)', "(param i32 i32)", 16, 2, data=data_at(16, raw=b"\x80a")),
            "invalid utf-8 sequence of 1 bytes from index 0", host=host_sink),
    # -- unpaired UTF-16 surrogates
    Hostile("utf16-trailing-high-surrogate",
            returns("(result string)", data_at(8, 16, 2, raw="a".encode("utf-16-le") + b"\x00\xd8"),
                    encoding="utf16"), "unpaired surrogate found: d800"),
    Hostile("utf16-lone-low-surrogate",
            returns("(result string)", data_at(8, 16, 2, raw=b"\x00\xdc" + "a".encode("utf-16-le")),
                    encoding="utf16"), "unpaired surrogate found: dc00"),
    Hostile("utf16-high-surrogate-then-letter",
            returns("(result string)", data_at(8, 16, 2, raw=b"\x3d\xd8" + "a".encode("utf-16-le")),
                    encoding="utf16"), "unpaired surrogate found: d83d"),
    Hostile("import-utf16-lone-surrogate",
            calls_host('(param "s" string)', "(param i32 i32)", 16, 1, data=data_at(16, raw=b"\xff\xdf"),
                       encoding="utf16"), "unpaired surrogate found: dfff", host=host_sink),
    # -- latin1+utf16: the tag bit selects utf16, and the alignment is 2 either way
    Hostile("latin1-utf16-tagged-surrogate",
            returns("(result string)", data_at(8, 16, 0x80000001, raw=b"\x00\xd8"), encoding="latin1+utf16"),
            "unpaired surrogate found: d800"),
    Hostile("latin1-utf16-tagged-length-out-of-bounds",
            returns("(result string)", data_at(8, 16, 0xFFFFFFFF), encoding="latin1+utf16"), OOB_STRING),
    Hostile("latin1-utf16-tag-doubles-length",
            returns("(result string)", data_at(8, 0x8000, 0x80000000 | 0x4001), encoding="latin1+utf16"),
            OOB_STRING),
    Hostile("latin1-utf16-latin1-misaligned",
            returns("(result string)", data_at(8, 17, 1), encoding="latin1+utf16"),
            "string pointer not aligned to 2"),
    # -- discriminants out of range
    Hostile("variant-discriminant", returns(
        "(result $v)", data_at(8, 3, 7),
        types='(type $v0 (variant (case "a" u32) (case "b" u32))) (export $v "v" (type $v0))'),
        "discriminant 3 out of range [0..2)"),
    Hostile("option-discriminant-in-memory", returns("(result (list (option u8)))", data_at(8, 16, 1),
                                                     data_at(16, 2)),
            "discriminant 2 out of range [0..2)"),
    Hostile("result-discriminant-flat", guest('(param "x" u32) (result (result u8 (error u8)))',
                                              "(param i32) (result i32)", "(i32.const 8)",
                                              data=data_at(8, 5)),
            "discriminant 5 out of range [0..2)", args=(1,)),
    Hostile("enum-discriminant", returns(
        "(result $e)", value="(i32.const 3)",
        types='(type $e0 (enum "red" "green" "blue")) (export $e "e" (type $e0))'),
        "discriminant 3 out of range [0..3)"),
    Hostile("enum-discriminant-huge", returns(
        "(result $e)", value="(i32.const -1)",
        types='(type $e0 (enum "red" "green" "blue")) (export $e "e" (type $e0))'),
        "discriminant 4294967295 out of range [0..3)"),
    Hostile("import-variant-discriminant",
            calls_host('(param "o" (option u32))', "(param i32 i32)", 9, 0),
            "discriminant 9 out of range [0..2)", host=host_sink),
    # -- chars out of range or surrogates
    Hostile("char-surrogate", returns("(result char)", value="(i32.const 0xd800)"), BAD_CHAR),
    Hostile("char-past-max", returns("(result char)", value="(i32.const 0x110000)"), BAD_CHAR),
    Hostile("char-negative", returns("(result char)", value="(i32.const -1)"), BAD_CHAR),
    Hostile("char-surrogate-in-memory", returns("(result (list char))", data_at(8, 16, 2), data_at(16, 65, 0xDFFF)),
            BAD_CHAR),
    Hostile("import-char-surrogate", calls_host('(param "c" char)', "(param i32)", 0xDBFF), BAD_CHAR,
            host=host_sink),
    # -- realloc results misaligned or out of bounds
    Hostile("realloc-misaligned", calls_host("(result string)", "(param i32)", 8, realloc="(i32.const 3)",
                                             encoding="utf16"),
            "realloc return: result not aligned", host=host_string, host_runs=True),
    Hostile("realloc-list-misaligned", calls_host("(result (list u32))", "(param i32)", 8, realloc="(i32.const 2)"),
            "realloc return: result not aligned", host=host_words, host_runs=True),
    Hostile("realloc-beyond-memory", calls_host("(result string)", "(param i32)", 8, realloc="(i32.const 65535)"),
            "realloc return: beyond end of memory", host=host_string, host_runs=True),
    Hostile("realloc-negative", calls_host("(result string)", "(param i32)", 8, realloc="(i32.const -1)"),
            "realloc return: beyond end of memory", host=host_string, host_runs=True),
    Hostile("realloc-beyond-memory-for-export-argument",
            guest('(param "s" string)', "(param i32 i32)", "", realloc="(i32.const 65534)"),
            "realloc return: beyond end of memory", args=("hello",)),
)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.fixture(scope="module")
def compiled() -> dict[tuple[str, str], Any]:
    """Components compiled once per (backend, WAT)."""
    return {}


def compile_once(mod: ModuleType, engine: Engine, cache: dict[tuple[str, str], Any], wat: str) -> Any:
    key = (mod.__name__, wat)
    if key not in cache:
        cache[key] = mod.Component(engine, wat)
    return cache[key]


def run_hostile(mod: ModuleType, engine: Engine, store: Store, component: Any, case: Hostile) -> tuple[Any, list]:
    """Instantiate `case` in `store` and call `run`; return (the instance, host calls made)."""
    seen: list[tuple[Any, ...]] = []

    def host(store_context: Any, *args: Any) -> Any:
        assert case.host is not None
        seen.append(args)
        return case.host(store_context, *args)

    instance = instantiate(mod, engine, store, "", host if case.host is not None else None, component)
    return instance, seen


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_guest_traps(backend_name: str, engine: Engine, compiled: dict, case: Hostile) -> None:
    mod = backend(backend_name)
    component = compile_once(mod, engine, compiled, case.wat)
    bystander_component = compile_once(mod, engine, compiled, BYSTANDER)
    store = Store(engine)
    bystander = instantiate(mod, engine, store, "", component=bystander_component)
    add = bystander.get_func(store, "add")
    assert add(store, 2, 3) == 5
    add.post_return(store)

    instance, seen = run_hostile(mod, engine, store, component, case)
    run = instance.get_func(store, "run")
    with pytest.raises(WasmtimeError) as info:
        run(store, *case.args)
    assert case.message in str(info.value), str(info.value)
    if backend_name == "wasmcomponent":
        from wasmcomponent import ComponentTrap

        assert isinstance(info.value, ComponentTrap)
        assert str(info.value).startswith("wasm trap: ")
    assert len(seen) == (1 if case.host_runs else 0)

    # Poisoned, as wasmtime 50: no instance of this store can be entered again.
    for func, args in ((run, case.args), (add, (1, 1))):
        with pytest.raises(WasmtimeError, match="cannot enter component instance"):
            func(store, *args)

    # Not corrupted: another store runs the bystander and the same guest exactly as before.
    other = Store(engine)
    assert instantiate(mod, engine, other, "", component=bystander_component).get_func(other, "add")(other, 4, 5) == 9
    again, _ = run_hostile(mod, engine, other, component, case)
    with pytest.raises(WasmtimeError, match=re.escape(case.message)):
        again.get_func(other, "run")(other, *case.args)


# --------------------------------------------------------------------------
# Hostile-looking but valid: no trap, the same value on both backends


@dataclass(frozen=True)
class Benign:
    """A guest whose `run(*args)` must return `expected` (the spec and wasmtime agree)."""

    id: str
    wat: str
    expected: Any
    args: tuple[Any, ...] = ()
    host: Callable[..., Any] | None = None


ECHO_STRING = "(i32.store (i32.const 8) (local.get 0)) (i32.store (i32.const 12) (local.get 1)) (i32.const 8)"
"""Body of a `run(s: string) -> string` that returns its argument."""

LONG = "\u00e9\u2603" * 40000 + "end"
"""A string longer than the guest's initial page, so `realloc` must grow memory."""

BENIGN: tuple[Benign, ...] = (
    # bool is "non-zero" (spec `convert_int_to_bool`, wasmtime), never a trap.
    Benign("bool-two-is-true", returns("(result bool)", value="(i32.const 2)"), True),
    Benign("bool-byte-ff-is-true", returns("(result (list bool))", data_at(8, 16, 2), data_at(16, raw=b"\xff\x00")),
           [True, False]),
    Benign("latin1-utf16-tagged-empty", returns("(result string)", data_at(8, 16, 0x80000000),
                                                encoding="latin1+utf16"), ""),
    Benign("latin1-utf16-latin1", returns("(result string)", data_at(8, 16, 2, raw=b"\xe9\xff"),
                                          encoding="latin1+utf16"), "\u00e9\u00ff"),
    Benign("latin1-utf16-tagged-utf16", returns("(result string)",
                                                data_at(8, 16, 0x80000002, raw="\u00e9\u2603".encode("utf-16-le")),
                                                encoding="latin1+utf16"), "\u00e9\u2603"),
    Benign("char-max", returns("(result char)", value="(i32.const 0x10ffff)"), "\U0010ffff"),
    # A realloc that grows memory: nothing may use a view taken before it.
    Benign("growing-realloc-for-import-result",
           guest("(result string)", RET, "(call $host (i32.const 8)) (i32.const 8)", import_type="(result string)",
                 import_core_sig="(param i32)", realloc=GROWING_REALLOC), LONG, host=lambda _s: LONG),
    Benign("growing-realloc-for-export-argument",
           guest('(param "s" string) (result string)', "(param i32 i32) (result i32)", ECHO_STRING,
                 realloc=GROWING_REALLOC, encoding="utf16"), LONG, args=(LONG,)),
    Benign("growing-realloc-latin1-utf16",
           guest('(param "s" string) (result string)', "(param i32 i32) (result i32)", ECHO_STRING,
                 realloc=GROWING_REALLOC, encoding="latin1+utf16"), LONG, args=(LONG,)),
)


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("case", BENIGN, ids=[c.id for c in BENIGN])
def test_valid_edge_values_do_not_trap(backend_name: str, engine: Engine, compiled: dict, case: Benign) -> None:
    mod = backend(backend_name)
    store = Store(engine)
    instance = instantiate(mod, engine, store, "", case.host, compile_once(mod, engine, compiled, case.wat))
    run = instance.get_func(store, "run")
    for _ in range(2):  # and the instance stays usable
        assert run(store, *case.args) == case.expected
        run.post_return(store)


# --------------------------------------------------------------------------
# A guest making the host copy unbounded data
#
# Every pointer above is bounded by the guest's memory, but many list
# elements may point at the same bytes: a list of N strings all pointing at
# one 60 000-byte string makes the host copy N * 60 000 bytes out of 128 KiB
# of memory (N up to 16 000 here; up to 2**29 in a 4 GiB memory).  wasmtime
# caps what one lift may copy with "hostcall fuel" (128 MiB by default,
# `Store::set_hostcall_fuel`; a string costs its byte length, a list 48 bytes
# per element), per host call and per export result.

FUEL_EXHAUSTED = ("too much data is being copied between the host and the guest: "
                  "fuel allocated for hostcalls has been exhausted")
DEFAULT_HOSTCALL_FUEL = 128 << 20
SHARED_STRING = 60000


def amplifier_data(count: int) -> str:
    """`count` (ptr, len) pairs at 4096, all naming one string at 65536, and the list header at 8."""
    pairs = [w for _ in range(count) for w in (65536, SHARED_STRING)]
    return f'{data_at(8, 4096, count)} {data_at(4096, *pairs)} (data (i32.const 65536) "{"a" * SHARED_STRING}")'


def amplifier(count: int, into_host: bool = False) -> str:
    """A guest handing `count` copies of the shared string as `list<string>` (result, or host argument)."""
    pages = 2 + (count * 8 + 4096) // 65536
    if into_host:
        return guest("", "", f"(call $host (i32.const 4096) (i32.const {count}))", data=amplifier_data(count),
                     import_type='(param "l" (list string))', import_core_sig="(param i32 i32)",
                     memory_pages=pages)
    return guest("(result (list string))", RET, "(i32.const 8)", data=amplifier_data(count), memory_pages=pages)


def recorder(seen: list[Any]) -> Callable[[Any, Any], None]:
    """A host function recording the length of each value it receives into `seen`."""

    def host(_store: Any, value: Any) -> None:
        seen.append(len(value))

    return host


OVER_DEFAULT = DEFAULT_HOSTCALL_FUEL // SHARED_STRING + 100
"""Just over the default fuel (about 134 MB of copies)."""


def test_wasmtime_caps_unbounded_copies(engine: Engine) -> None:
    """The reference behaviour: wasmtime-py traps once 128 MiB would be copied."""
    mod = backend("wasmtime")
    for into_host in (False, True):
        seen: list[Any] = []
        store = Store(engine)
        instance = instantiate(mod, engine, store, amplifier(OVER_DEFAULT, into_host),
                               recorder(seen) if into_host else None)
        with pytest.raises(WasmtimeError, match=FUEL_EXHAUSTED):
            instance.get_func(store, "run")(store)
        assert seen == []
        with pytest.raises(WasmtimeError, match="cannot enter component instance"):
            instance.get_func(store, "run")(store)
    # Under the cap the same guest works.
    store = Store(engine)
    run = instantiate(mod, engine, store, amplifier(100)).get_func(store, "run")
    assert run(store) == ["a" * SHARED_STRING] * 100


def test_unbounded_copy_is_capped_by_hostcall_fuel(engine: Engine) -> None:
    """Proposed API: `wasmcomponent.hostcall_fuel(store)` / `set_hostcall_fuel(store, n)`, as wasmtime's."""
    import wasmcomponent

    hostcall_fuel: Callable[[Store], int] = wasmcomponent.hostcall_fuel
    set_hostcall_fuel: Callable[[Store, int], None] = wasmcomponent.set_hostcall_fuel
    assert hostcall_fuel(Store(engine)) == DEFAULT_HOSTCALL_FUEL

    # The default cap, in both directions, with wasmtime's message; the host never runs.
    for into_host in (False, True):
        seen: list[Any] = []
        store = Store(engine)
        instance = instantiate(wasmcomponent, engine, store, amplifier(OVER_DEFAULT, into_host),
                               recorder(seen) if into_host else None)
        with pytest.raises(wasmcomponent.ComponentTrap, match=FUEL_EXHAUSTED):
            instance.get_func(store, "run")(store)
        assert seen == []
        with pytest.raises(WasmtimeError, match="cannot enter component instance"):
            instance.get_func(store, "run")(store)

    # A configured cap: 1 MiB lets 10 copies (600 KB) through, on every call, and stops 20.
    component = wasmcomponent.Component(engine, amplifier(10))
    store = Store(engine)
    set_hostcall_fuel(store, 1 << 20)
    assert hostcall_fuel(store) == 1 << 20
    run = instantiate(wasmcomponent, engine, store, "", component=component).get_func(store, "run")
    for _ in range(3):  # fuel is per call, not cumulative
        assert run(store) == ["a" * SHARED_STRING] * 10
        run.post_return(store)
    store = Store(engine)
    set_hostcall_fuel(store, 1 << 20)
    run = instantiate(wasmcomponent, engine, store, amplifier(20)).get_func(store, "run")
    with pytest.raises(wasmcomponent.ComponentTrap, match=FUEL_EXHAUSTED):
        run(store)
