"""The direct core implementations of the hot WASI stream methods behave like the generic path.

``wasi/ctx.py`` serves ``wasi:io/streams`` output-stream ``check-write``,
``write``, ``blocking-write-and-flush``, ``flush`` and ``blocking-flush``
through direct core callbacks (``_direct``) that skip generic lifting and
lowering.  A hand-written component calls them with raw core arguments
(handle index, list pointer/length, return pointer) chosen by each test, and
every outcome -- result, bytes on stdout, trap message, poisoning -- is
checked on three backends:

* ``fast``: ``Linker.add_wasip2()`` (direct implementations; the test also
  checks that they were really built);
* ``generic``: the same with ``WASMCOMPONENT_WASI_DIRECT=0`` (generic path);
* ``wasmtime``: ``wasmtime.component`` with its native ``add_wasip2()``, whose
  messages are the reference (left out where wasmtime-py has no equivalent:
  hostcall fuel, ``strict_permits``, failing stdout writers).

Also: ``flush`` only starts a flush while the ``blocking-*`` calls wait for
it (``OutputStream.blocking_flush``), down to TCP sockets.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest
import wasmtime
import wasmtime.component as wt

import wasmcomponent
from wasmcomponent.abi.context import HOSTCALL_FUEL_EXHAUSTED, LIST_ELEMENT_FUEL
from wasmcomponent.runtime.resources import ResourceHost
from wasmcomponent.wasi import WasiConfig, io, set_wasi, wasi_ctx
from wasmcomponent.wasi import ctx as wasi_ctx_module
from wasmcomponent.wasi.ctx import DIRECT_ENV, Res
from wasmcomponent.wasi.sockets.tcp import TcpOutput

# The guest: a core module whose exports take the raw core arguments of each
# import (handle index, list pointer and length, return pointer) as
# parameters, so every case is one call.  The result-returning exports give
# the result's discriminant (``check-write``: the granted size, or -1 for an
# error).  ``cabi_realloc`` calls ``check-write`` on the handle ``set-reenter``
# chose, to reach a host import while ``may_leave`` is false.  Memory: one
# page, ``hello\n`` at offset 16.

GUEST_WAT = r"""
(component $C
  (import "wasi:io/error@0.2.0" (instance $ierr (export "error" (type (sub resource)))))
  (alias export $ierr "error" (type $error))
  (import "wasi:io/poll@0.2.0" (instance $ipoll (export "pollable" (type (sub resource)))))
  (alias export $ipoll "pollable" (type $pollable))
  (import "wasi:io/streams@0.2.0" (instance $streams
    (alias outer $C $error (type $error-outer))
    (export "error" (type $err (eq $error-outer)))
    (alias outer $C $pollable (type $pollable-outer))
    (export "pollable" (type $poll (eq $pollable-outer)))
    (export "input-stream" (type $in (sub resource)))
    (export "output-stream" (type $out (sub resource)))
    (type $stream-error (variant (case "last-operation-failed" (own $err)) (case "closed")))
    (export "stream-error" (type $se (eq $stream-error)))
    (export "[method]input-stream.read"
      (func (param "self" (borrow $in)) (param "len" u64) (result (result (list u8) (error $se)))))
    (export "[method]output-stream.check-write" (func (param "self" (borrow $out)) (result (result u64 (error $se)))))
    (export "[method]output-stream.write"
      (func (param "self" (borrow $out)) (param "contents" (list u8)) (result (result (error $se)))))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" (borrow $out)) (param "contents" (list u8)) (result (result (error $se)))))
    (export "[method]output-stream.flush" (func (param "self" (borrow $out)) (result (result (error $se)))))
    (export "[method]output-stream.blocking-flush" (func (param "self" (borrow $out)) (result (result (error $se)))))
    (export "[method]output-stream.subscribe" (func (param "self" (borrow $out)) (result (own $poll))))
  ))
  (alias export $streams "output-stream" (type $output-stream))
  (alias export $streams "input-stream" (type $input-stream))
  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer $C $output-stream (type $o))
    (export "output-stream" (type $out (eq $o)))
    (export "get-stdout" (func (result (own $out))))))
  (import "wasi:cli/stdin@0.2.0" (instance $stdin
    (alias outer $C $input-stream (type $i))
    (export "input-stream" (type $in (eq $i)))
    (export "get-stdin" (func (result (own $in))))))

  (alias export $stdout "get-stdout" (func $stdout.get-stdout))
  (alias export $stdin "get-stdin" (func $stdin.get-stdin))
  (alias export $streams "[method]output-stream.subscribe" (func $streams.subscribe))
  (alias export $streams "[method]output-stream.check-write" (func $streams.check-write))
  (alias export $streams "[method]output-stream.write" (func $streams.write))
  (alias export $streams "[method]output-stream.blocking-write-and-flush" (func $streams.blocking-write-and-flush))
  (alias export $streams "[method]output-stream.flush" (func $streams.flush))
  (alias export $streams "[method]output-stream.blocking-flush" (func $streams.blocking-flush))
  (alias export $streams "[method]input-stream.read" (func $streams.read))

  ;; Imports that need the main module's memory go through this table (filled in by $fixup).
  (core module $shim
    (type $h2 (func (param i32 i32)))
    (type $h4 (func (param i32 i32 i32 i32)))
    (type $read (func (param i32 i64 i32)))
    (table (export "$imports") 6 6 funcref)
    (func (export "check-write") (param i32 i32) (call_indirect (type $h2) (local.get 0) (local.get 1) (i32.const 0)))
    (func (export "write") (param i32 i32 i32 i32)
      (call_indirect (type $h4) (local.get 0) (local.get 1) (local.get 2) (local.get 3) (i32.const 1)))
    (func (export "bwf") (param i32 i32 i32 i32)
      (call_indirect (type $h4) (local.get 0) (local.get 1) (local.get 2) (local.get 3) (i32.const 2)))
    (func (export "flush") (param i32 i32) (call_indirect (type $h2) (local.get 0) (local.get 1) (i32.const 3)))
    (func (export "bflush") (param i32 i32) (call_indirect (type $h2) (local.get 0) (local.get 1) (i32.const 4)))
    (func (export "read") (param i32 i64 i32) (call_indirect (type $read) (local.get 0) (local.get 1) (local.get 2) (i32.const 5)))
  )
  (core instance $shim (instantiate $shim))

  (core func $get-stdout (canon lower (func $stdout.get-stdout)))
  (core func $get-stdin (canon lower (func $stdin.get-stdin)))
  (core func $subscribe (canon lower (func $streams.subscribe)))
  (core func $drop-out (canon resource.drop $output-stream))
  (core func $drop-poll (canon resource.drop $pollable))

  (core module $main
    (import "shim" "check-write" (func $check-write (param i32 i32)))
    (import "shim" "write" (func $write (param i32 i32 i32 i32)))
    (import "shim" "bwf" (func $bwf (param i32 i32 i32 i32)))
    (import "shim" "flush" (func $flush (param i32 i32)))
    (import "shim" "bflush" (func $bflush (param i32 i32)))
    (import "shim" "read" (func $read (param i32 i64 i32)))
    (import "host" "get-stdout" (func $get-stdout (result i32)))
    (import "host" "get-stdin" (func $get-stdin (result i32)))
    (import "host" "subscribe" (func $subscribe (param i32) (result i32)))
    (import "host" "drop-out" (func $drop-out (param i32)))
    (import "host" "drop-poll" (func $drop-poll (param i32)))
    (memory (export "memory") 1)
    (data (i32.const 16) "hello\n")
    (global $heap (mut i32) (i32.const 4096))
    (global $reenter (mut i32) (i32.const 0))
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (if (global.get $reenter) (then (call $check-write (global.get $reenter) (i32.const 64))))
      (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $heap (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    (func (export "stdout") (result i32) (call $get-stdout))
    (func (export "stdin") (result i32) (call $get-stdin))
    (func (export "subscribe") (param i32) (result i32) (call $subscribe (local.get 0)))
    (func (export "drop-out") (param i32) (call $drop-out (local.get 0)))
    (func (export "drop-poll") (param i32) (call $drop-poll (local.get 0)))
    (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
    (func (export "load32") (param i32) (result i32) (i32.load (local.get 0)))
    (func (export "set-reenter") (param i32) (global.set $reenter (local.get 0)))
    ;; check-write: the granted size, or -1 for an error
    (func (export "check-write") (param i32 i32) (result i64)
      (call $check-write (local.get 0) (local.get 1))
      (if (result i64) (i32.load8_u (local.get 1))
        (then (i64.const -1))
        (else (i64.load offset=8 (local.get 1)))))
    ;; the others: the result's discriminant (0 = ok)
    (func (export "write") (param i32 i32 i32 i32) (result i32)
      (call $write (local.get 0) (local.get 1) (local.get 2) (local.get 3))
      (i32.load8_u (local.get 3)))
    (func (export "bwf") (param i32 i32 i32 i32) (result i32)
      (call $bwf (local.get 0) (local.get 1) (local.get 2) (local.get 3))
      (i32.load8_u (local.get 3)))
    (func (export "flush") (param i32 i32) (result i32)
      (call $flush (local.get 0) (local.get 1))
      (i32.load8_u (local.get 1)))
    (func (export "bflush") (param i32 i32) (result i32)
      (call $bflush (local.get 0) (local.get 1))
      (i32.load8_u (local.get 1)))
    (func (export "read") (param i32 i64 i32) (result i32)
      (call $read (local.get 0) (local.get 1) (local.get 2))
      (i32.load8_u (local.get 2)))
  )
  (core instance $main (instantiate $main
    (with "shim" (instance $shim))
    (with "host" (instance
      (export "get-stdout" (func $get-stdout))
      (export "get-stdin" (func $get-stdin))
      (export "subscribe" (func $subscribe))
      (export "drop-out" (func $drop-out))
      (export "drop-poll" (func $drop-poll))))))

  (alias core export $main "memory" (core memory $mem))
  (alias core export $main "cabi_realloc" (core func $realloc))
  (core func $l-check-write (canon lower (func $streams.check-write) (memory $mem)))
  (core func $l-write (canon lower (func $streams.write) (memory $mem)))
  (core func $l-bwf (canon lower (func $streams.blocking-write-and-flush) (memory $mem)))
  (core func $l-flush (canon lower (func $streams.flush) (memory $mem)))
  (core func $l-bflush (canon lower (func $streams.blocking-flush) (memory $mem)))
  (core func $l-read (canon lower (func $streams.read)
    (memory $mem) (realloc $realloc)))
  (core module $fixup
    (import "" "$imports" (table 6 6 funcref))
    (import "" "0" (func $f0 (param i32 i32)))
    (import "" "1" (func $f1 (param i32 i32 i32 i32)))
    (import "" "2" (func $f2 (param i32 i32 i32 i32)))
    (import "" "3" (func $f3 (param i32 i32)))
    (import "" "4" (func $f4 (param i32 i32)))
    (import "" "5" (func $f5 (param i32 i64 i32)))
    (elem (i32.const 0) func $f0 $f1 $f2 $f3 $f4 $f5))
  (core instance (instantiate $fixup (with "" (instance
    (export "$imports" (table $shim "$imports"))
    (export "0" (func $l-check-write))
    (export "1" (func $l-write))
    (export "2" (func $l-bwf))
    (export "3" (func $l-flush))
    (export "4" (func $l-bflush))
    (export "5" (func $l-read))))))

  (func (export "stdout") (result u32) (canon lift (core func $main "stdout")))
  (func (export "stdin") (result u32) (canon lift (core func $main "stdin")))
  (func (export "subscribe") (param "h" u32) (result u32) (canon lift (core func $main "subscribe")))
  (func (export "drop-out") (param "h" u32) (canon lift (core func $main "drop-out")))
  (func (export "drop-poll") (param "h" u32) (canon lift (core func $main "drop-poll")))
  (func (export "load8") (param "addr" u32) (result u8) (canon lift (core func $main "load8")))
  (func (export "load32") (param "addr" u32) (result u32) (canon lift (core func $main "load32")))
  (func (export "set-reenter") (param "h" u32) (canon lift (core func $main "set-reenter")))
  (func (export "check-write") (param "h" u32) (param "ret" u32) (result u64)
    (canon lift (core func $main "check-write")))
  (func (export "write") (param "h" u32) (param "ptr" u32) (param "len" u32) (param "ret" u32) (result u32)
    (canon lift (core func $main "write")))
  (func (export "bwf") (param "h" u32) (param "ptr" u32) (param "len" u32) (param "ret" u32) (result u32)
    (canon lift (core func $main "bwf")))
  (func (export "flush") (param "h" u32) (param "ret" u32) (result u32) (canon lift (core func $main "flush")))
  (func (export "bflush") (param "h" u32) (param "ret" u32) (result u32) (canon lift (core func $main "bflush")))
  (func (export "read") (param "h" u32) (param "len" u64) (param "ret" u32) (result u32)
    (canon lift (core func $main "read")))
)
"""

BACKENDS = ("fast", "generic", "wasmtime")
OURS = ("fast", "generic")
DIRECT_METHODS = 5  # output-stream methods the guest imports that have a direct implementation
PAGE = 65536
HELLO = (16, 6)  # ptr, len of b"hello\n" in the guest's memory
RET = 64  # a valid return pointer
STDIN = b"abcdef"

UNIT_RESULT_SIZE = 12  # result<_, stream-error>: tag, then stream-error (tag, own<error>) at 4
U64_RESULT_SIZE = 16  # result<u64, stream-error>: tag, then payload at 8


@pytest.fixture(scope="module")
def engine() -> wasmtime.Engine:
    return wasmtime.Engine()


@pytest.fixture(scope="module")
def components(engine: wasmtime.Engine) -> dict[str, Any]:
    ours = wasmcomponent.Component(engine, GUEST_WAT)
    return {"fast": ours, "generic": ours, "wasmtime": wt.Component(engine, GUEST_WAT)}


@dataclass
class Guest:
    """One instance of the guest on one backend."""

    backend: str
    store: wasmtime.Store
    instance: Any
    stdout: bytearray

    def __call__(self, export: str, *args: Any) -> Any:
        func = self.instance.get_func(self.store, export)
        result = func(self.store, *args)
        func.post_return(self.store)
        return result


def instantiate(
    backend: str,
    engine: wasmtime.Engine,
    components: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp: Path,
    configure: Callable[[WasiConfig], None] = lambda cfg: None,
) -> Guest:
    """The guest on ``backend``, stdout captured, stdin holding :data:`STDIN`."""
    store = wasmtime.Store(engine)
    if backend == "wasmtime":
        linker: Any = wt.Linker(engine)
        linker.add_wasip2()
        native = wasmtime.WasiConfig()
        stdout = bytearray()
        native.stdout_custom = stdout.extend
        path = tmp / "stdin"
        path.write_bytes(STDIN)
        native.stdin_file = str(path)
        store.set_wasi(native)
        return Guest(backend, store, linker.instantiate(store, components[backend]), stdout)

    built: list[bool] = []
    real_direct = wasi_ctx_module._direct

    def counting_direct(f: Any) -> Any:
        factory = real_direct(f)

        def counted(env: Any) -> Any:
            direct = factory(env)
            built.append(direct is not None)
            return direct

        return counted

    monkeypatch.setattr(wasi_ctx_module, "_direct", counting_direct)
    if backend == "generic":
        monkeypatch.setenv(DIRECT_ENV, "0")
    else:
        monkeypatch.delenv(DIRECT_ENV, raising=False)
    linker = wasmcomponent.Linker(engine)
    linker.add_wasip2()
    cfg = WasiConfig()
    stdout = cfg.stdout_buffer()
    cfg.stdin_bytes(STDIN)
    configure(cfg)
    set_wasi(store, cfg)
    instance = linker.instantiate(store, components[backend])
    # The fast backend really runs the direct implementations; the generic one never builds them.
    assert built == ([True] * DIRECT_METHODS if backend == "fast" else [])
    return Guest(backend, store, instance, stdout)


@pytest.fixture
def make(
    engine: wasmtime.Engine, components: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Guest]:
    """``make(backend, configure=...)``: a fresh guest."""

    def build(backend: str, configure: Callable[[WasiConfig], None] = lambda cfg: None) -> Guest:
        return instantiate(backend, engine, components, monkeypatch, tmp_path, configure)

    return build


@pytest.fixture(params=BACKENDS)
def guest(request: pytest.FixtureRequest, make: Callable[..., Guest]) -> Guest:
    return make(request.param)


@pytest.fixture(params=OURS)
def ours(request: pytest.FixtureRequest, make: Callable[..., Guest]) -> Guest:
    return make(request.param)


def expect_trap(guest: Guest, message: str, export: str, *args: Any) -> None:
    """``export(*args)`` traps with ``message`` (as the whole reason), and the store is poisoned then."""
    error = wasmtime.WasmtimeError if guest.backend == "wasmtime" else wasmcomponent.ComponentTrap
    with pytest.raises(error) as info:
        guest(export, *args)
    assert re.search(rf"(^|\n|wasm trap: )\s*{re.escape(message)}\s*($|\n)", str(info.value)), str(info.value)
    if guest.backend != "wasmtime":
        assert isinstance(info.value, wasmcomponent.ComponentTrap)
    with pytest.raises(error, match="cannot enter component instance"):
        guest("stdout")


WRONG_TYPE = (
    "handle index 2 used with the wrong type, "
    "expected guest-defined resource but found a different guest-defined resource"
)


# ------------------------------------------------------------------ valid calls


def test_valid_calls_write_to_stdout_and_restore_lends(guest: Guest) -> None:
    out = guest("stdout")
    assert out == 1
    granted = guest("check-write", out, RET)
    # wasmtime 50 grants 64 KiB on a stdio stream, 8 KiB on its stdout_custom callback (used here)
    assert granted == (io.CALLBACK_PERMIT if guest.backend == "wasmtime" else io.STREAM_PERMIT)
    assert guest("load8", RET) == 0 and guest("load32", RET + 8) == granted & 0xFFFFFFFF
    assert guest("write", out, *HELLO, RET) == 0
    assert guest("flush", out, RET) == 0
    assert guest("bwf", out, *HELLO, RET) == 0
    assert guest("bflush", out, RET) == 0
    assert bytes(guest.stdout) == b"hello\nhello\n"
    # The own handle was lent for each call only: the guest can drop it now.
    guest("drop-out", out)
    expect_trap(guest, "unknown handle index 1", "flush", out, RET)


def test_return_pointers_at_the_end_of_memory(guest: Guest) -> None:
    out = guest("stdout")
    assert guest("check-write", out, PAGE - U64_RESULT_SIZE) > 0
    assert guest("write", out, *HELLO, PAGE - UNIT_RESULT_SIZE) == 0
    assert guest("bflush", out, PAGE - UNIT_RESULT_SIZE) == 0
    assert guest("bwf", out, 16, 0, PAGE - UNIT_RESULT_SIZE) == 0  # empty list
    assert guest("bwf", out, PAGE, 0, RET) == 0  # empty list right at the end of memory
    assert guest("bwf", out, PAGE - 2, 2, RET) == 0  # last two bytes of memory
    assert bytes(guest.stdout) == b"hello\n\x00\x00"


# ------------------------------------------------------------------ traps (same message on every backend)

# (description, calls made first, the trapping call, its message)
TRAPS: list[tuple[str, list[tuple[Any, ...]], tuple[Any, ...], str]] = [
    ("unknown handle", [], ("check-write", 5, RET), "unknown handle index 5"),
    ("unknown handle, list", [("stdout",)], ("write", 5, *HELLO, RET), "unknown handle index 5"),
    ("handle 0", [("stdout",)], ("bflush", 0, RET), "unknown handle index 0"),
    ("largest handle", [("stdout",)], ("bwf", 0xFFFFFFFF, *HELLO, RET), "unknown handle index 4294967295"),
    ("dropped handle", [("stdout",), ("drop-out", 1)], ("flush", 1, RET), "unknown handle index 1"),
    ("input-stream handle", [("stdout",), ("stdin",)], ("check-write", 2, RET), WRONG_TYPE),
    ("input-stream handle, list", [("stdout",), ("stdin",)], ("write", 2, *HELLO, RET), WRONG_TYPE),
    ("pollable handle", [("stdout",), ("subscribe", 1)], ("bflush", 2, RET), WRONG_TYPE),
    ("pollable handle, list", [("stdout",), ("subscribe", 1)], ("bwf", 2, *HELLO, RET), WRONG_TYPE),
    ("u64 result out of bounds", [("stdout",)], ("check-write", 1, PAGE - 8), "pointer out of bounds"),
    ("u64 result far out", [("stdout",)], ("check-write", 1, 0xFFFFFFF8), "pointer out of bounds"),
    ("u64 result misaligned", [("stdout",)], ("check-write", 1, RET + 4), "pointer not aligned"),
    ("unit result out of bounds", [("stdout",)], ("flush", 1, PAGE - 8), "pointer out of bounds"),
    ("unit result misaligned", [("stdout",)], ("bflush", 1, RET + 2), "pointer not aligned"),
    ("list result out of bounds", [("stdout",)], ("bwf", 1, *HELLO, PAGE), "pointer out of bounds"),
    ("list result misaligned", [("stdout",)], ("bwf", 1, *HELLO, RET + 1), "pointer not aligned"),
    ("list out of bounds", [("stdout",), ("check-write", 1, RET)], ("write", 1, PAGE - 6, 7, RET),
     "list pointer/length out of bounds of memory"),
    ("empty list past the end", [("stdout",)], ("bwf", 1, PAGE + 1, 0, RET),
     "list pointer/length out of bounds of memory"),
    ("list wrapping around", [("stdout",)], ("bwf", 1, 0xFFFFFFFF, 2, RET),
     "list pointer/length out of bounds of memory"),
    # order: the handle before the list, the list before the return pointer
    ("unknown handle and bad list", [("stdout",)], ("write", 7, PAGE - 6, 7, RET), "unknown handle index 7"),
    ("bad list and bad result", [("stdout",)], ("bwf", 1, PAGE - 6, 7, PAGE),
     "list pointer/length out of bounds of memory"),
    ("wrong type and bad result", [("stdout",), ("stdin",)], ("flush", 2, PAGE), WRONG_TYPE),
    ("blocking write too large", [("stdout",)], ("bwf", 1, 0, 4097, RET),
     "Buffer too large for blocking-write-and-flush (expected at most 4096)"),
    # ``cabi_realloc`` (lowering input-stream.read's bytes, so may_leave is false) calls check-write
    ("may_leave false", [("stdout",), ("stdin",), ("set-reenter", 1)], ("read", 2, 4, RET),
     "cannot leave component instance"),
]


# The return pointer is checked when the result is stored, after the host function ran.
WRITTEN_BEFORE_THE_TRAP = {"list result out of bounds": b"hello\n", "list result misaligned": b"hello\n"}


@pytest.mark.parametrize(("name", "before", "call", "message"), TRAPS, ids=[t[0] for t in TRAPS])
def test_traps(guest: Guest, name: str, before: list[tuple[Any, ...]], call: tuple[Any, ...], message: str) -> None:
    for step in before:
        guest(*step)
    expect_trap(guest, message, *call)
    assert bytes(guest.stdout) == WRITTEN_BEFORE_THE_TRAP.get(name, b"")


def test_may_leave_is_only_false_while_lowering(guest: Guest) -> None:
    out, inp = guest("stdout"), guest("stdin")
    assert guest("read", inp, 4, RET) == 0  # cabi_realloc ran, without calling out
    assert guest("bwf", out, *HELLO, RET) == 0
    assert bytes(guest.stdout) == b"hello\n"


# ------------------------------------------------------------------ our host only


@pytest.mark.parametrize("extra", [0, 1])
def test_hostcall_fuel(ours: Guest, extra: int) -> None:
    length = HELLO[1]
    wasmcomponent.set_hostcall_fuel(ours.store, length * LIST_ELEMENT_FUEL - extra)
    out = ours("stdout")
    assert ours("check-write", out, RET) > 0
    if extra == 0:  # exactly enough
        assert ours("write", out, *HELLO, RET) == 0
        assert ours("bwf", out, *HELLO, RET) == 0
        assert bytes(ours.stdout) == b"hello\nhello\n"
    else:
        expect_trap(ours, HOSTCALL_FUEL_EXHAUSTED, "write", out, *HELLO, RET)
        assert bytes(ours.stdout) == b""


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (("bwf", 1, PAGE - 6, 7, RET), "list pointer/length out of bounds of memory"),  # bounds before fuel
        (("bwf", 3, *HELLO, RET), "unknown handle index 3"),  # handle before fuel
        (("bwf", 1, *HELLO, PAGE), HOSTCALL_FUEL_EXHAUSTED),  # fuel before the return pointer
    ],
)
def test_hostcall_fuel_order(ours: Guest, call: tuple[Any, ...], message: str) -> None:
    wasmcomponent.set_hostcall_fuel(ours.store, 10)
    ours("stdout")
    expect_trap(ours, message, *call)


def test_strict_permits(ours: Guest) -> None:
    out = ours("stdout")
    expect_trap(ours, "write of 6 bytes exceeds the 0 bytes permitted by check-write", "write", out, *HELLO, RET)
    assert bytes(ours.stdout) == b""


@pytest.mark.parametrize("backend", OURS)
def test_buffer_capacity(make: Callable[..., Guest], backend: str) -> None:
    """A ``stdout_buffer()`` at ``max_buffer_bytes``: the same answers on both paths (see io.SinkOutput)."""

    def limit(cfg: WasiConfig) -> None:
        cfg.max_buffer_bytes = 8

    guest = make(backend, limit)
    out = guest("stdout")
    assert guest("check-write", out, RET) == 8  # only the room left
    assert guest("write", out, *HELLO, RET) == 0
    assert guest("check-write", out, RET) == 2
    assert guest("bwf", out, *HELLO, RET) == 1  # what fits, then closed
    assert guest("load8", RET + 4) == 1
    assert bytes(guest.stdout) == b"hello\nhe"
    assert guest("check-write", out, RET) == 0xFFFFFFFFFFFFFFFF  # closed: full for good
    assert guest("load8", RET + 8) == 1
    assert guest("flush", out, RET) == 0
    expect_trap(guest, "write beyond capacity of the stdout buffer (max_buffer_bytes)", "write", out, *HELLO, RET)


class FailingWriter:
    """A stdout whose writes (or flushes) fail."""

    def __init__(self, fail_write: bool) -> None:
        self.fail_write = fail_write

    def write(self, data: bytes) -> int:
        if self.fail_write:
            raise OSError(5, "disk on fire")
        return len(data)

    def flush(self) -> None:
        raise OSError(5, "disk on fire")


@pytest.mark.parametrize("backend", OURS)
def test_error_results_lower_an_error_resource(make: Callable[..., Guest], backend: str) -> None:
    guest = make(backend, lambda cfg: cfg.stdout_writer(FailingWriter(fail_write=True)))
    out = guest("stdout")
    assert guest("check-write", out, RET) > 0
    for call, index in ((("write", out, *HELLO, RET), 2), (("bwf", out, *HELLO, RET), 3),
                        (("flush", out, RET), 4), (("bflush", out, RET), 5)):
        guest("set-reenter", 0)
        assert guest(*call) == 1  # err
        assert guest("load8", RET + 4) == 0  # stream-error::last-operation-failed
        assert guest("load32", RET + 8) == index  # a fresh own<error> handle in the guest's table
    guest("drop-out", out)  # lends restored on the error path too


def test_check_write_error_result(ours: Guest) -> None:
    class Closed(io.OutputStream):
        def check_write(self) -> int:
            raise io.StreamFailed(io.IoError("gone"))

    # Replace the stdout stream behind handle 1 with one whose check-write fails.
    out = ours("stdout")
    ctx = wasi_ctx(ours.store)
    (rep,) = [rep for rep, obj in ctx.table.items() if isinstance(obj, io.OutputStream)]
    ctx.table[rep] = Closed()
    assert ours("check-write", out, RET) == 0xFFFFFFFFFFFFFFFF  # err
    assert ours("load8", RET + 8) == 0
    assert ours("load32", RET + 12) == 2
    ours("drop-out", out)


def test_environment_switch_is_read_when_linking(
    engine: wasmtime.Engine, components: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Any] = []
    real_direct = wasi_ctx_module._direct

    def counting_direct(f: Any) -> Any:
        built.append(f)
        return real_direct(f)

    monkeypatch.setattr(wasi_ctx_module, "_direct", counting_direct)
    monkeypatch.setenv(DIRECT_ENV, "0")
    wasmcomponent.Linker(engine).add_wasip2()
    assert built == []
    monkeypatch.setenv(DIRECT_ENV, "1")
    wasmcomponent.Linker(engine).add_wasip2()
    assert len(built) == 5
    wasi_ctx_module.add_to_linker(wasmcomponent.Linker(engine), direct=False)
    assert len(built) == 5


# ------------------------------------------------------------------ flush vs blocking-flush


class RecordingOutput(io.OutputStream):
    """Remembers which flush each WIT call used."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def emit(self, data: bytes) -> None:
        self.calls.append("emit")

    def flush(self) -> None:
        self.calls.append("flush")

    def blocking_flush(self) -> None:
        self.calls.append("blocking_flush")


def test_only_blocking_calls_wait_for_the_flush() -> None:
    store = wasmtime.Store()
    set_wasi(store, WasiConfig())
    ctx = wasi_ctx(store)
    stream = RecordingOutput()
    handle = ResourceHost._new(ctx.push(stream), int(Res.OUTPUT_STREAM), False)
    assert io.output_flush(ctx, handle) == io.OK_UNIT
    assert stream.calls == ["flush"]
    for call in (
        lambda: io.output_blocking_flush(ctx, handle),
        lambda: io.output_blocking_write_and_flush(ctx, handle, b"x"),
        lambda: io.output_blocking_write_zeroes_and_flush(ctx, handle, 3),
    ):
        stream.calls.clear()
        assert call() == io.OK_UNIT
        assert stream.calls[-1] == "blocking_flush" and "flush" not in stream.calls


def test_default_blocking_flush_is_flush() -> None:
    flushed: list[bool] = []

    class Sink(io.OutputStream):
        def flush(self) -> None:
            flushed.append(True)

    Sink().blocking_flush()
    assert flushed == [True]


def _full_tcp_output() -> tuple[TcpOutput, socket.socket, socket.socket]:
    """A ``TcpOutput`` over a socket pair whose send buffer is full: some bytes stay pending."""
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    a.setblocking(False)
    out = TcpOutput(SimpleNamespace(sock=a), True)  # type: ignore[arg-type]
    out.emit(b"x" * (1 << 20))
    assert out.pending
    return out, a, b


def test_tcp_flush_does_not_wait() -> None:
    out, a, b = _full_tcp_output()
    try:
        start = time.monotonic()
        out.flush()
        assert time.monotonic() - start < 0.5
        assert out.pending and not out.ready()
        assert out.check_write() == 0  # no new permits until the flush completed
    finally:
        a.close()
        b.close()


def test_tcp_blocking_flush_waits_until_sent() -> None:
    out, a, b = _full_tcp_output()
    received = bytearray()

    def drain() -> None:
        while len(received) < 1 << 20:
            chunk = b.recv(1 << 16)
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        out.blocking_flush()
        assert not out.pending and out.ready()
        reader.join(10)
        assert len(received) == 1 << 20
    finally:
        a.close()
        b.close()
        reader.join(10)


# ------------------------------------------------------------------ per-store state of bound functions


@pytest.mark.parametrize("direct", [True, False])
def test_one_linker_many_stores(engine: wasmtime.Engine, components: dict[str, Any], direct: bool) -> None:
    """Bound WASI functions remember the last store's state: interleaved stores still get their own."""
    import gc
    import weakref

    linker = wasmcomponent.Linker(engine)
    wasi_ctx_module.add_to_linker(linker, direct=direct)
    guests = []
    for _ in range(3):
        store = wasmtime.Store(engine)
        cfg = WasiConfig()
        set_wasi(store, cfg)
        instance = linker.instantiate(store, components["fast"])
        guests.append(Guest("fast" if direct else "generic", store, instance, cfg.stdout_buffer()))
    for round_ in range(3):
        for i, guest in enumerate(guests):
            if round_ == 0 and i == 1:
                # A configuration attached after WASI calls (with no WASI handle left) replaces the context.
                guest("drop-out", guest("stdout"))
                cfg = WasiConfig()
                set_wasi(guest.store, cfg)
                guest.stdout = cfg.stdout_buffer()
            out = guest("stdout")
            guest("check-write", out, RET)
            guest("bwf", out, 16, 1 + i, RET)
            guest("drop-out", out)
    for i, guest in enumerate(guests):
        assert bytes(guest.stdout) == b"hello\n"[: 1 + i] * 3
    # A dropped store's WASI state is not kept alive by the bound functions.
    ctx = weakref.ref(wasi_ctx(guests[-1].store))
    del guest, guests, store, instance
    gc.collect()
    assert ctx() is None


def test_stores_in_threads_keep_their_own_state(engine: wasmtime.Engine, components: dict[str, Any]) -> None:
    """Two threads, two stores, one linker (generic path): every write lands in its own store's stdout."""
    import sys

    linker = wasmcomponent.Linker(engine)
    wasi_ctx_module.add_to_linker(linker, direct=False)
    guests = []
    for _ in range(2):
        store = wasmtime.Store(engine)
        cfg = WasiConfig()
        set_wasi(store, cfg)
        guests.append(Guest("generic", store, linker.instantiate(store, components["generic"]), cfg.stdout_buffer()))
    errors: list[BaseException] = []

    def run(guest: Guest, length: int) -> None:
        try:
            for _ in range(300):
                out = guest("stdout")
                guest("check-write", out, RET)
                guest("bwf", out, 16, length, RET)
                guest("drop-out", out)
        except BaseException as err:  # reported below
            errors.append(err)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=run, args=(g, 1 + i)) for i, g in enumerate(guests)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert [bytes(g.stdout) for g in guests] == [b"h" * 300, b"he" * 300]
