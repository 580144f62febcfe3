"""Benchmark Component Model async (issue #12) in `wasmcomponent`, in one process.

Three groups, each timed like `bench.py` (round-robin batches, medians per
call, ratios from the same run):

* calls: `noop()` and `add(u32, u32) -> u32` lifted with the callback ABI
  (`canon lift ... async (callback ...)`) and stackful (`async` without a
  callback), called from Python with `func(store, ...)`, against the same
  core functions lifted synchronously, both in the same async-using component
  (where every export runs as a task) and in a component without async (the
  sync fast path); and the floor of any async lift: one core call making one
  call into Python (what `task.return` is).  wasmtime-py 50 cannot call an async-lifted export, so
  there is no wasmtime column; the script records the error it gives.
* streams: 1 MiB through a `stream<u8>` guest to guest (a writer instance
  returns the readable end from an async export, a reader instance copies it
  into its memory with `stream.read` in chunks), within one instance (one
  pending write drained by reads of the same instance) and guest to host (a
  `StreamReader` drained by Python, when the runtime has one), each against
  one plain Python copy of 1 MiB (`bytes(memoryview(bytearray))`); and the
  guest-to-guest call moving 16 bytes (the protocol's cost without the copy).  The guests
  check every chunk's first and last byte against the writer's pattern and
  trap on a mismatch, so a wrong copy cannot be timed.
* subtasks: one guest async-lowers a call to another instance's async export
  10,000 times (each callee yields once before returning, so each call makes
  a real subtask), joins every subtask to one waitable set, then waits for
  all of them and drops each; reported per subtask.  The same 10,000 calls
  to a callee that returns before blocking (no subtask, no wait) separate
  the cost of the call from that of the subtask.

Usage:
  python benchmarks/bench_async.py [--quick] [--only NAME] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import wasmtime

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as BB  # noqa: E402 - shared timing and formatting
import bench_components as B  # noqa: E402

MIB = 1024 * 1024
SUBTASKS = 10_000
PAGES = 40  # 2.5 MiB of guest memory: the stream buffers sit at 64 KiB and 1 MiB + 128 KiB

Thunk = Callable[[], Any]

# --------------------------------------------------------------------------
# Components (WAT).  Codes from CanonicalABI.md: callback EXIT=0 YIELD=1
# WAIT=2 (| set << 4); events SUBTASK=1 STREAM_READ=2 STREAM_WRITE=3; copy
# results (count << 4) | COMPLETED=0 / DROPPED=1; BLOCKED=-1; subtask
# states STARTED=1 RETURNED=2.

CALLS_WAT = """
(component
  (core module $M
    (import "" "task.return0" (func $ret0))
    (import "" "task.return1" (func $ret1 (param i32)))
    (func (export "noop"))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
    (func (export "noop-cb") (result i32) (call $ret0) (i32.const 0))
    (func (export "add-cb") (param i32 i32) (result i32)
      (call $ret1 (i32.add (local.get 0) (local.get 1))) (i32.const 0))
    (func (export "cb") (param i32 i32 i32) (result i32) unreachable)
    (func (export "noop-stackful") (call $ret0))
    (func (export "add-stackful") (param i32 i32) (call $ret1 (i32.add (local.get 0) (local.get 1)))))
  (canon task.return (core func $ret0))
  (canon task.return (result u32) (core func $ret1))
  (core instance $m (instantiate $M (with "" (instance
    (export "task.return0" (func $ret0)) (export "task.return1" (func $ret1))))))
  (func (export "noop") (canon lift (core func $m "noop")))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $m "add")))
  (func (export "noop-async") async
    (canon lift (core func $m "noop-cb") async (callback (core func $m "cb"))))
  (func (export "add-async") async (param "a" u32) (param "b" u32) (result u32)
    (canon lift (core func $m "add-cb") async (callback (core func $m "cb"))))
  (func (export "noop-stackful") async (canon lift (core func $m "noop-stackful") async))
  (func (export "add-stackful") async (param "a" u32) (param "b" u32) (result u32)
    (canon lift (core func $m "add-stackful") async))
)
"""

# The floor of an async lift: one core call that makes one call into Python
# (as the callee's `task.return` does), through the runtime's own core-call
# and host-function machinery, with nothing else around it.
HOST_CALL_FLOOR_WAT = """
(module
  (import "" "ret0" (func $ret0))
  (import "" "ret1" (func $ret1 (param i32)))
  (func (export "noop") (call $ret0))
  (func (export "add") (param i32 i32) (call $ret1 (i32.add (local.get 0) (local.get 1)))))
"""

# The byte at stream position i is (i * 7 + 3) & 0xff.
PATTERN_FILL = """
      (func $fill (local $i i32)
        (loop $l
          (i32.store8 (i32.add (i32.const 0x10000) (local.get $i))
                      (i32.add (i32.mul (local.get $i) (i32.const 7)) (i32.const 3)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 0x100000)))))
"""

# Traps unless the chunk of $count bytes at $buf, read at stream position
# $pos, starts and ends with the pattern's bytes.
CHECK_CHUNK = """
      (func $check (param $buf i32) (param $pos i32) (param $count i32)
        (if (i32.eqz (local.get $count)) (then (return)))
        (if (i32.ne (i32.load8_u (local.get $buf))
                    (i32.and (i32.add (i32.mul (local.get $pos) (i32.const 7)) (i32.const 3)) (i32.const 0xff)))
          (then unreachable))
        (local.set $pos (i32.sub (i32.add (local.get $pos) (local.get $count)) (i32.const 1)))
        (if (i32.ne (i32.load8_u (i32.sub (i32.add (local.get $buf) (local.get $count)) (i32.const 1)))
                    (i32.and (i32.add (i32.mul (local.get $pos) (i32.const 7)) (i32.const 3)) (i32.const 0xff)))
          (then unreachable)))
"""

STREAM_WAT = f"""
(component
  (component $W
    (core module $Memory (memory (export "mem") {PAGES}))
    (core instance $memory (instantiate $Memory))
    (core module $WM
      (import "" "mem" (memory {PAGES}))
      (import "" "task.return" (func $task.return (param i32)))
      (import "" "waitable.join" (func $join (param i32 i32)))
      (import "" "waitable-set.new" (func $ws.new (result i32)))
      (import "" "stream.new" (func $stream.new (result i64)))
      (import "" "stream.write" (func $stream.write (param i32 i32 i32) (result i32)))
      (import "" "stream.drop-writable" (func $drop-writable (param i32)))
      (import "" "waitable-set.drop" (func $ws.drop (param i32)))
      (global $w (mut i32) (i32.const 0))
      (global $n (mut i32) (i32.const 0))
      (global $done (mut i32) (i32.const 0))
      (global $ws (mut i32) (i32.const 0))
      {PATTERN_FILL}
      (start $fill)
      (func $finish (result i32)
        (call $drop-writable (global.get $w))
        (call $ws.drop (global.get $ws))
        (i32.const 0))
      ;; write the rest of the n bytes until a write blocks (-> WAIT) or all are written (-> EXIT)
      (func $write-rest (result i32) (local $ret i32)
        (loop $l
          (if (i32.ge_u (global.get $done) (global.get $n))
            (then (return (call $finish))))
          (local.set $ret (call $stream.write (global.get $w)
            (i32.add (i32.const 0x10000) (global.get $done))
            (i32.sub (global.get $n) (global.get $done))))
          (if (i32.eq (local.get $ret) (i32.const -1))
            (then (return (i32.or (i32.const 2) (i32.shl (global.get $ws) (i32.const 4))))))
          (if (i32.and (local.get $ret) (i32.const 0xf))  ;; dropped by the reader
            (then (return (call $finish))))
          (global.set $done (i32.add (global.get $done) (i32.shr_u (local.get $ret) (i32.const 4))))
          (br $l))
        unreachable)
      (func (export "produce") (param $n i32) (result i32) (local $rw i64)
        (if (i32.gt_u (local.get $n) (i32.const 0x100000)) (then unreachable))
        (local.set $rw (call $stream.new))
        (global.set $w (i32.wrap_i64 (i64.shr_u (local.get $rw) (i64.const 32))))
        (global.set $n (local.get $n))
        (global.set $done (i32.const 0))
        (global.set $ws (call $ws.new))
        (call $join (global.get $w) (global.get $ws))
        (call $task.return (i32.wrap_i64 (local.get $rw)))
        (call $write-rest))
      (func (export "produce-cb") (param $event i32) (param $index i32) (param $payload i32) (result i32)
        (if (i32.ne (local.get $event) (i32.const 3)) (then unreachable))
        (if (i32.and (local.get $payload) (i32.const 0xf))
          (then (return (call $finish))))
        (global.set $done (i32.add (global.get $done) (i32.shr_u (local.get $payload) (i32.const 4))))
        (call $write-rest)))
    (type $ST (stream u8))
    (canon task.return (result $ST) (core func $task.return))
    (canon waitable.join (core func $join))
    (canon waitable-set.new (core func $ws.new))
    (canon stream.new $ST (core func $stream.new))
    (canon stream.write $ST async (memory (core memory $memory "mem")) (core func $stream.write))
    (canon stream.drop-writable $ST (core func $drop-writable))
    (canon waitable-set.drop (core func $ws.drop))
    (core instance $wm (instantiate $WM (with "" (instance
      (export "mem" (memory $memory "mem"))
      (export "task.return" (func $task.return))
      (export "waitable.join" (func $join))
      (export "waitable-set.new" (func $ws.new))
      (export "stream.new" (func $stream.new))
      (export "stream.write" (func $stream.write))
      (export "stream.drop-writable" (func $drop-writable))
      (export "waitable-set.drop" (func $ws.drop))))))
    (func (export "produce") async (param "n" u32) (result (stream u8))
      (canon lift (core func $wm "produce") async (callback (core func $wm "produce-cb"))))
  )

  (component $R
    (import "produce" (func $produce async (param "n" u32) (result (stream u8))))
    (core module $Memory (memory (export "mem") {PAGES}))
    (core instance $memory (instantiate $Memory))
    (core module $RM
      (import "" "mem" (memory {PAGES}))
      (import "" "produce" (func $produce (param i32 i32) (result i32)))
      (import "" "waitable.join" (func $join (param i32 i32)))
      (import "" "waitable-set.new" (func $ws.new (result i32)))
      (import "" "waitable-set.wait" (func $ws.wait (param i32 i32) (result i32)))
      (import "" "waitable-set.drop" (func $ws.drop (param i32)))
      (import "" "stream.new" (func $stream.new (result i64)))
      (import "" "stream.read" (func $stream.read (param i32 i32 i32) (result i32)))
      (import "" "stream.write" (func $stream.write (param i32 i32 i32) (result i32)))
      (import "" "stream.drop-readable" (func $drop-readable (param i32)))
      (import "" "stream.drop-writable" (func $drop-writable (param i32)))
      {PATTERN_FILL}
      {CHECK_CHUNK}
      (start $fill)
      ;; read everything from $r into 0x120000 in chunks; returns the byte count
      (func $drain (param $r i32) (param $chunk i32) (result i32)
        (local $ws i32) (local $ret i32) (local $total i32)
        (local.set $ws (call $ws.new))
        (call $join (local.get $r) (local.get $ws))
        (loop $l
          (local.set $ret (call $stream.read (local.get $r) (i32.const 0x120000) (local.get $chunk)))
          (if (i32.eq (local.get $ret) (i32.const -1))
            (then
              (if (i32.ne (call $ws.wait (local.get $ws) (i32.const 0)) (i32.const 2)) (then unreachable))
              (local.set $ret (i32.load (i32.const 4)))))
          (call $check (i32.const 0x120000) (local.get $total) (i32.shr_u (local.get $ret) (i32.const 4)))
          (local.set $total (i32.add (local.get $total) (i32.shr_u (local.get $ret) (i32.const 4))))
          (br_if $l (i32.eqz (i32.and (local.get $ret) (i32.const 0xf)))))
        (call $drop-readable (local.get $r))
        (call $ws.drop (local.get $ws))
        (local.get $total))
      (func (export "consume") (param $n i32) (param $chunk i32) (result i32) (local $ret i32)
        (local.set $ret (call $produce (local.get $n) (i32.const 16)))
        (if (i32.ne (local.get $ret) (i32.const 2)) (then unreachable))  ;; RETURNED, no subtask
        (call $drain (i32.load (i32.const 16)) (local.get $chunk)))
      ;; one write of n bytes from 0x10000, drained by reads of the same instance
      (func (export "self-copy") (param $n i32) (param $chunk i32) (result i32)
        (local $rw i64) (local $r i32) (local $w i32) (local $ws i32) (local $ret i32) (local $total i32)
        (local.set $rw (call $stream.new))
        (local.set $r (i32.wrap_i64 (local.get $rw)))
        (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $rw) (i64.const 32))))
        (if (i32.ne (call $stream.write (local.get $w) (i32.const 0x10000) (local.get $n)) (i32.const -1))
          (then unreachable))
        (loop $l
          (local.set $ret (call $stream.read (local.get $r) (i32.const 0x120000)
            (select (local.get $chunk) (i32.sub (local.get $n) (local.get $total))
              (i32.lt_u (local.get $chunk) (i32.sub (local.get $n) (local.get $total))))))
          (if (i32.and (local.get $ret) (i32.const 0xf)) (then unreachable))  ;; blocked or dropped
          (call $check (i32.const 0x120000) (local.get $total) (i32.shr_u (local.get $ret) (i32.const 4)))
          (local.set $total (i32.add (local.get $total) (i32.shr_u (local.get $ret) (i32.const 4))))
          (br_if $l (i32.lt_u (local.get $total) (local.get $n))))
        ;; collect the write's completion, then drop both ends
        (local.set $ws (call $ws.new))
        (call $join (local.get $w) (local.get $ws))
        (if (i32.ne (call $ws.wait (local.get $ws) (i32.const 0)) (i32.const 3)) (then unreachable))
        (call $join (local.get $w) (i32.const 0))
        (call $ws.drop (local.get $ws))
        (call $drop-readable (local.get $r))
        (call $drop-writable (local.get $w))
        (local.get $total)))
    (type $ST (stream u8))
    (canon waitable.join (core func $join))
    (canon waitable-set.new (core func $ws.new))
    (canon waitable-set.wait (memory (core memory $memory "mem")) (core func $ws.wait))
    (canon waitable-set.drop (core func $ws.drop))
    (canon stream.new $ST (core func $stream.new))
    (canon stream.read $ST async (memory (core memory $memory "mem")) (core func $stream.read))
    (canon stream.write $ST async (memory (core memory $memory "mem")) (core func $stream.write))
    (canon stream.drop-readable $ST (core func $drop-readable))
    (canon stream.drop-writable $ST (core func $drop-writable))
    (canon lower (func $produce) async (memory (core memory $memory "mem")) (core func $produce'))
    (core instance $rm (instantiate $RM (with "" (instance
      (export "mem" (memory $memory "mem"))
      (export "produce" (func $produce'))
      (export "waitable.join" (func $join))
      (export "waitable-set.new" (func $ws.new))
      (export "waitable-set.wait" (func $ws.wait))
      (export "waitable-set.drop" (func $ws.drop))
      (export "stream.new" (func $stream.new))
      (export "stream.read" (func $stream.read))
      (export "stream.write" (func $stream.write))
      (export "stream.drop-readable" (func $drop-readable))
      (export "stream.drop-writable" (func $drop-writable))))))
    (func (export "consume") async (param "n" u32) (param "chunk" u32) (result u32)
      (canon lift (core func $rm "consume")))
    (func (export "self-copy") async (param "n" u32) (param "chunk" u32) (result u32)
      (canon lift (core func $rm "self-copy")))
  )

  (instance $w (instantiate $W))
  (instance $r (instantiate $R (with "produce" (func $w "produce"))))
  (func (export "consume") (alias export $r "consume"))
  (func (export "self-copy") (alias export $r "self-copy"))
  (func (export "produce") (alias export $w "produce"))
)
"""

SUBTASKS_WAT = """
(component
  (component $Callee
    (core module $CM
      (import "" "task.return" (func $ret))
      (func (export "work") (result i32) (i32.const 1))  ;; YIELD before returning
      (func (export "work-now") (result i32) (call $ret) (i32.const 0))  ;; returns at once
      (func (export "work-cb") (param i32 i32 i32) (result i32) (call $ret) (i32.const 0)))
    (canon task.return (core func $ret))
    (core instance $cm (instantiate $CM (with "" (instance (export "task.return" (func $ret))))))
    (func (export "work") async (canon lift (core func $cm "work") async (callback (core func $cm "work-cb"))))
    (func (export "work-now") async
      (canon lift (core func $cm "work-now") async (callback (core func $cm "work-cb"))))
  )
  (component $Caller
    (import "work" (func $work async))
    (import "work-now" (func $work-now async))
    (core module $Memory (memory (export "mem") 1))
    (core instance $memory (instantiate $Memory))
    (core module $DM
      (import "" "mem" (memory 1))
      (import "" "work" (func $work (result i32)))
      (import "" "work-now" (func $work-now (result i32)))
      (import "" "waitable.join" (func $join (param i32 i32)))
      (import "" "waitable-set.new" (func $ws.new (result i32)))
      (import "" "waitable-set.wait" (func $ws.wait (param i32 i32) (result i32)))
      (import "" "waitable-set.drop" (func $ws.drop (param i32)))
      (import "" "subtask.drop" (func $subtask.drop (param i32)))
      ;; $now = 0: each callee yields once, so each call makes a subtask; 1: each returns at once
      (func (export "run") (param $n i32) (param $now i32) (result i32)
        (local $i i32) (local $ret i32) (local $ws i32) (local $done i32)
        (local.set $ws (call $ws.new))
        (block $started (loop $l
          (br_if $started (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $ret (if (result i32) (local.get $now) (then (call $work-now)) (else (call $work))))
          (if (i32.eq (i32.and (local.get $ret) (i32.const 0xf)) (i32.const 1))  ;; STARTED
            (then (call $join (i32.shr_u (local.get $ret) (i32.const 4)) (local.get $ws)))
            (else (if (i32.eq (local.get $ret) (i32.const 2))  ;; RETURNED at once: no subtask
              (then (local.set $done (i32.add (local.get $done) (i32.const 1))))
              (else unreachable))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l)))
        (block $joined (loop $l
          (br_if $joined (i32.ge_u (local.get $done) (local.get $n)))
          (if (i32.ne (call $ws.wait (local.get $ws) (i32.const 0)) (i32.const 1)) (then unreachable))
          (if (i32.ne (i32.load (i32.const 4)) (i32.const 2)) (then unreachable))
          (call $subtask.drop (i32.load (i32.const 0)))
          (local.set $done (i32.add (local.get $done) (i32.const 1)))
          (br $l)))
        (call $ws.drop (local.get $ws))
        (local.get $done)))
    (canon waitable.join (core func $join))
    (canon waitable-set.new (core func $ws.new))
    (canon waitable-set.wait (memory (core memory $memory "mem")) (core func $ws.wait))
    (canon waitable-set.drop (core func $ws.drop))
    (canon subtask.drop (core func $subtask.drop))
    (canon lower (func $work) async (core func $work'))
    (canon lower (func $work-now) async (core func $work-now'))
    (core instance $dm (instantiate $DM (with "" (instance
      (export "mem" (memory $memory "mem"))
      (export "work" (func $work'))
      (export "work-now" (func $work-now'))
      (export "waitable.join" (func $join))
      (export "waitable-set.new" (func $ws.new))
      (export "waitable-set.wait" (func $ws.wait))
      (export "waitable-set.drop" (func $ws.drop))
      (export "subtask.drop" (func $subtask.drop))))))
    (func (export "run") async (param "n" u32) (param "now" u32) (result u32) (canon lift (core func $dm "run")))
  )
  (instance $callee (instantiate $Callee))
  (instance $caller (instantiate $Caller
    (with "work" (func $callee "work")) (with "work-now" (func $callee "work-now"))))
  (func (export "run") (alias export $caller "run"))
)
"""


# --------------------------------------------------------------------------
# Contenders


@dataclass
class Loaded:
    """An instantiated `wasmcomponent` component and its store."""

    store: wasmtime.Store
    instance: Any

    @classmethod
    def create(cls, engine: wasmtime.Engine, wat: str) -> Loaded:
        """Compile and instantiate `wat` with an empty linker (no host imports)."""
        import wasmcomponent

        component = wasmcomponent.Component(engine, wat)
        store = wasmtime.Store(engine)
        return cls(store, wasmcomponent.Linker(engine).instantiate(store, component))

    def thunk(self, export: str, *args: Any) -> Thunk:
        """One call of `export` from Python (`func(store, *args)`)."""
        func = self.instance.get_func(self.store, export)
        store = self.store
        return lambda: func(store, *args)


def wasmtime_refusal() -> str:
    """What wasmtime-py gives for a call of an async-lifted export (the reason it has no column).

    Uses its own engine with the component-model async features turned on.
    """
    try:
        from wasmtime import _ffi as ffi
        from wasmtime import component as wc

        # wasmtime-py has no setters for these; without them it cannot even parse the component
        config = wasmtime.Config()
        ffi.wasmtime_config_wasm_component_model_async_set(config.ptr(), True)
        ffi.wasmtime_config_wasm_component_model_async_stackful_set(config.ptr(), True)
        engine = wasmtime.Engine(config)
        component = wc.Component(engine, CALLS_WAT)
        store = wasmtime.Store(engine)
        instance = wc.Linker(engine).instantiate(store, component)
        func = instance.get_func(store, "noop-async")
        if func is None:
            return "wasmtime-py found no export `noop-async`"
        func(store)
    except Exception as exc:  # any refusal is the figure we report
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}".replace("`", "'")
    return "no error (wasmtime-py ran it: add a column)"


def host_call_floor(engine: wasmtime.Engine) -> dict[str, Thunk]:
    """`noop`/`add` as one core call making one host call (`RawFunc` + `make_host_func`).

    What an async-lifted call cannot go below in this runtime: entering wasm
    once and being called back once with the result (`task.return`).
    """
    from wasmcomponent._engine import RawFunc, make_host_func

    store = wasmtime.Store(engine)
    box = [None]

    def ret1(value: int) -> None:
        box[0] = value

    imports = [make_host_func(store, (), (), lambda: None), make_host_func(store, ("i32",), (), ret1)]
    exports = wasmtime.Instance(store, wasmtime.Module(engine, HOST_CALL_FLOOR_WAT), imports).exports(store)
    noop = RawFunc(store, exports["noop"]).call
    add = RawFunc(store, exports["add"]).call

    def noop_thunk() -> Any:
        return noop() if store else None  # the thunks keep the store alive

    def add_thunk() -> Any:
        add(2, 3)
        return box[0] if store else None

    return {"noop": noop_thunk, "add": add_thunk}


def pattern(n: int) -> bytes:
    """The first `n` bytes the writer guest produces ((i * 7 + 3) & 0xff)."""
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def host_drain(loaded: Loaded, chunk: int) -> Thunk | None:
    """Python reading the 1 MiB stream an export returns, or None if the runtime gives no reader."""
    produce = loaded.instance.get_func(loaded.store, "produce")
    store = loaded.store

    async def drain(reader: Any) -> bytes:
        parts: list[bytes] = []
        while True:
            data = await reader.read(chunk)
            if not data:
                return b"".join(parts)
            parts.append(data)

    # One event loop for every call: on the main thread, asyncio.run (CPython 3.11) restores
    # the SIGINT handler through signal._int_to_enum, whose failed enum lookup formats the
    # old handler, a partial holding the finished task, and so repr()s the whole 1 MiB
    # result (about 3 ms, more than the copy itself).
    loop = asyncio.new_event_loop()

    def run() -> bytes:
        return loop.run_until_complete(drain(produce(store, MIB)))

    try:
        probe = produce(store, 16)
        if hasattr(probe, "read"):
            loop.run_until_complete(drain(probe))
            return run
    except Exception:  # noqa: S110 - a runtime without host stream reading gets an n/a row
        pass
    loop.close()
    return None


def py_copy(size: int) -> Thunk:
    """Floor: one copy of `size` bytes into a new `bytes` (what any reader must do at least once)."""
    source = bytearray(pattern(256) * (size // 256))
    view = memoryview(source)
    return lambda: bytes(view)


# --------------------------------------------------------------------------
# Groups


def settings_of(args: argparse.Namespace, slow: bool = False) -> BB.Settings:
    """Timing knobs as in bench.py (`slow`: an operation of a second or more per call)."""
    budget = args.budget if args.budget is not None else (0.5 if args.quick else 3.0)
    if slow and args.budget is None:
        budget = 2.0 if args.quick else 8.0
    return BB.Settings(budget=budget, batch_target=0.005 if args.quick else 0.02,
                       min_samples=args.min_samples, max_samples=15 if args.quick else 41)


def checked(thunks: dict[str, Thunk], checks: dict[str, Callable[[Any], bool]], errors: list[str]) -> dict[str, Thunk]:
    """The thunks whose first result passes their check (failures go to `errors`, not timed)."""
    good = {}
    for name, thunk in thunks.items():
        try:
            ok = checks.get(name, lambda _r: True)(thunk())
        except Exception as exc:  # a broken contender must not stop the others
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if ok:
            good[name] = thunk
        else:
            errors.append(f"{name}: wrong result")
    return good


def calls_table(engine: wasmtime.Engine, args: argparse.Namespace, errors: list[str]) -> str:
    """noop/add: async lifts against sync lifts and the raw core call."""
    built = B.bench_component()
    backend = BB.load_backend(BB.CANDIDATE, engine, built.wat)  # bench.py's component, `host-fn` linked
    assert backend is not None
    plain = Loaded(backend.store, backend.instance)
    mixed = Loaded.create(engine, CALLS_WAT)
    floor = BB.CoreFloor.create(engine, built.core_wat)
    refusal = wasmtime_refusal()
    lines = [
        "| call | sync lift, component without async | sync lift, async component "
        "| async lift (callback) | async ÷ sync | stackful async lift | stackful ÷ sync "
        "| raw core call | core call + 1 host call (async floor) | floor ÷ sync | wasmtime.component |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    floors = host_call_floor(engine)
    selected = [(name, call_args, expected) for name, call_args, expected in (("noop", (), None), ("add", (2, 3), 5))
                if not args.only or any(n in name for n in args.only)]
    if not selected:
        return ""
    for name, call_args, expected in selected:
        print(f"... {name}", file=sys.stderr, flush=True)
        thunks = {
            "plain": plain.thunk(name, *call_args),
            "mixed": mixed.thunk(name, *call_args),
            "callback": mixed.thunk(f"{name}-async", *call_args),
            "stackful": mixed.thunk(f"{name}-stackful", *call_args),
        }
        def same(result: Any, want: Any = expected) -> bool:
            return bool(result == want)

        good = checked(thunks, dict.fromkeys(thunks, same), errors)
        good["core"] = floor.unchecked_thunk(name, call_args)
        good["host-floor"] = floors[name]
        m = BB.measure(good, settings_of(args))
        sync = m.get("plain")
        lines.append(
            f"| `{name}` | {BB.fmt_time(sync)} | {BB.fmt_time(m.get('mixed'))} "
            f"| {BB.fmt_time(m.get('callback'))} | {BB.fmt_ratio(m.get('callback'), sync)} "
            f"| {BB.fmt_time(m.get('stackful'))} | {BB.fmt_ratio(m.get('stackful'), sync)} "
            f"| {BB.fmt_time(m['core'])} | {BB.fmt_time(m['host-floor'])} "
            f"| {BB.fmt_ratio(m['host-floor'], sync)} | n/a¹ |")
    lines.append("")
    lines.append("÷ sync = ÷ the sync lift in the component without async (the sync fast path). "
                 "Raw core call: `wasmtime_func_call_unchecked` of the core `noop`/`add` (bench.py's floor). "
                 "Async floor: a core function that calls one Python host function with its result, as "
                 "`task.return` does, entered with the runtime's `RawFunc` (no task, no lowering, no checks): "
                 "no async lift can be cheaper, so the 2x target holds only if the floor is under 2x the sync lift.")
    lines.append("")
    lines.append(f"¹ wasmtime-py 50 cannot call an async-lifted export: `{refusal}`; "
                 "there is no anchor for any async figure.")
    return "\n".join(lines) + "\n"


def streams_table(engine: wasmtime.Engine, args: argparse.Namespace, errors: list[str]) -> str:
    """1 MiB through a stream<u8>: guest to guest, within one instance, guest to host."""
    loaded = Loaded.create(engine, STREAM_WAT)
    ops: list[tuple[str, str, Thunk | None, Callable[[Any], bool]]] = [
        ("guest-to-guest-64k", "guest to guest, reads of 64 KiB (16 reads)",
         loaded.thunk("consume", MIB, 64 * 1024), lambda r: r == MIB),
        ("guest-to-guest-4k", "guest to guest, reads of 4 KiB (256 reads)",
         loaded.thunk("consume", MIB, 4 * 1024), lambda r: r == MIB),
        ("guest-to-guest-1m", "guest to guest, one read of 1 MiB",
         loaded.thunk("consume", MIB, MIB), lambda r: r == MIB),
        ("one-instance-64k", "within one instance: one write, reads of 64 KiB",
         loaded.thunk("self-copy", MIB, 64 * 1024), lambda r: r == MIB),
        ("guest-to-host-64k", "guest to host: `await reader.read(65536)` until empty",
         host_drain(loaded, 64 * 1024), lambda r: r == pattern(MIB)),
    ]
    ops = [op for op in ops if not args.only or any(n in op[0] for n in args.only)]
    if not ops:
        return ""
    thunks = {name: thunk for name, _d, thunk, _c in ops if thunk is not None}
    good = checked(thunks, {name: check for name, _d, _t, check in ops}, errors)
    good["py"] = py_copy(MIB)
    # The same guest-to-guest call moving 16 bytes: what the protocol costs without the copy.
    good["fixed"] = loaded.thunk("consume", 16, 16)
    print("... streams", file=sys.stderr, flush=True)
    m = BB.measure(good, settings_of(args))
    lines = ["| 1 MiB through `stream<u8>` | wasmcomponent | MiB/s | py copy of 1 MiB | ratio to py copy |",
             "|---|---:|---:|---:|---:|"]
    for name, description, thunk, _check in ops:
        value = m.get(name)
        if thunk is None:
            lines.append(f"| {description} | n/a (this runtime gives the host no stream reader) | | | |")
            continue
        rate = f"{1 / value:,.0f}" if value else "n/a"
        lines.append(f"| {description} | {BB.fmt_time(value)} | {rate} | {BB.fmt_time(m['py'])} "
                     f"| {BB.fmt_ratio(value, m['py'])} |")
    lines.append("")
    lines.append("py copy = `bytes(memoryview(bytearray))` of 1 MiB (one copy, as the stream makes). "
                 "Each guest call includes the export call, the task, stream.new/drop and the "
                 "writer's callback turns; wasmtime.component: n/a (see above).")
    lines.append("")
    lines.append(f"Floor of the guest-to-guest rows: the same call moving 16 bytes costs {BB.fmt_time(m['fixed'])} "
                 f"({BB.fmt_ratio(m['fixed'], m['py'])} the py copy of 1 MiB): the export call, both tasks, "
                 "a guest-to-guest call, 14 built-in calls and one fiber suspension, and no copy to speak of.")
    return "\n".join(lines) + "\n"


def subtasks_table(engine: wasmtime.Engine, args: argparse.Namespace, errors: list[str]) -> str:
    """10,000 async-lowered calls from one guest: real subtasks, and calls that return at once."""
    if args.only and not any(n in "subtasks" for n in args.only):
        return ""
    loaded = Loaded.create(engine, SUBTASKS_WAT)
    thunks = checked({"subtasks": loaded.thunk("run", SUBTASKS, 0), "at-once": loaded.thunk("run", SUBTASKS, 1)},
                     {"subtasks": lambda r: r == SUBTASKS, "at-once": lambda r: r == SUBTASKS}, errors)
    print("... subtasks", file=sys.stderr, flush=True)
    m = BB.measure(thunks, settings_of(args, slow=True))
    rows = (("subtasks", f"`run({SUBTASKS}, 0)`: {SUBTASKS:,} async-lowered calls, each callee yields once "
                         "(STARTED: a subtask), each subtask joined to one waitable set; then "
                         f"{SUBTASKS:,} `waitable-set.wait` + `subtask.drop`"),
            ("at-once", f"`run({SUBTASKS}, 1)`: the same calls, each callee returns before blocking "
                        "(RETURNED at once: no subtask, no wait)"))
    lines = ["| operation | per call | per async call |", "|---|---:|---:|"]
    for name, description in rows:
        value = m.get(name)
        lines.append(f"| {description} | {BB.fmt_time(value)} "
                     f"| {BB.fmt_time(value / SUBTASKS if value is not None else None)} |")
    lines.append("")
    lines.append("wasmtime.component: n/a (see above).")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Entry point


def main(argv: list[str] | None = None) -> int:
    """Run the selected groups and print the Markdown tables."""
    parser = BB.common_options(__doc__.split("\n\n")[0], "default 3, quick 0.5; subtasks 8 / 2", 3)
    args = parser.parse_args(argv)
    if args.list or args.update_readme:
        print("groups: noop, add, guest-to-guest-64k, guest-to-guest-4k, guest-to-guest-1m, "
              "one-instance-64k, guest-to-host-64k, subtasks" if args.list
              else "--update-readme is not supported: paste the tables", file=sys.stderr)
        return 0 if args.list else 2
    engine = wasmtime.Engine()
    errors: list[str] = []
    parts = [BB.environment_line(), calls_table(engine, args, errors),
             streams_table(engine, args, errors), subtasks_table(engine, args, errors)]
    if errors:
        parts.append("Errors (not timed):\n" + "\n".join(f"- {e}" for e in errors) + "\n")
    text = "\n".join(part for part in parts if part)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
