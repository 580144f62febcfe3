"""Hostile async guests (issue #12, acceptance "Hostile async guests").

Each case is a hand-written WAT component that misbehaves with the Component
Model async built-ins: stream buffers out of bounds or misaligned (within one
instance and across two), event pointers of ``waitable-set.wait``/``poll``
out of bounds or misaligned, ``task.return`` twice or with the wrong type or
options, blocking in a synchronously typed task, dropping a busy stream end,
dropped and wrong-kind handles, counts above the maximum, invalid callback
codes, exiting without ``task.return``, deadlock, cancelling and dropping
subtasks in the wrong state, and unbounded spawning of subtasks and threads.

For each the test asserts

* (a) wasmtime's wording: wasmtime-py 50 cannot run async-lifted exports
  ("cannot synchronously call an async-lifted export"), so the expected
  substrings come from wasmtime's sources (the H5 catalogue: ``trap_encoding.rs``,
  ``concurrent.rs``, ``futures_and_streams.rs``, ``handle_table.rs``,
  ``func/host.rs``).  Where wasmcomponent's wording differs today the case
  records wasmtime's text in ``wasmtime`` and leaves ``message`` empty, so only
  (b) and (c) are checked (see ``WORDING_DIFFERS``);
* (b) that the error is a :class:`wasmcomponent.ComponentTrap`: anything else
  (IndexError, KeyError, struct.error, AssertionError, ...) escapes
  ``pytest.raises`` and fails the test;
* (c) that nothing else is harmed: the trapping store is poisoned (a healthy
  instance in it then fails with "cannot enter component instance", as in
  wasmtime), while a store created before the trap and a fresh store both run
  a healthy async component, and the hostile guest traps the same way again.

Every guest is built by :func:`guest`: one core module ``$m`` whose ``run``
body is the case, with every built-in it may need imported from ``"b"``
(``BUILTINS``), a memory and a function table from ``$libc``, and, for the
guest-to-guest cases, a sibling component ``$callee`` (``CALLEE``) whose
exports are lowered ``async`` (siblings, since a parent may not call into its
own child: "cannot enter component instance").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
import wasmtime

import wasmcomponent
from wasmcomponent import Component, ComponentTrap, Linker

BUILTINS: dict[str, tuple[str, str]] = {
    "task-return": ("(canon task.return)", ""),
    "task-return-u32": ("(canon task.return (result u32))", "(param i32)"),
    "task-return-u32-utf16": ("(canon task.return (result u32) string-encoding=utf16)", "(param i32)"),
    "ws-new": ("(canon waitable-set.new)", "(result i32)"),
    "ws-wait": ("(canon waitable-set.wait (memory $mem))", "(param i32 i32) (result i32)"),
    "ws-poll": ("(canon waitable-set.poll (memory $mem))", "(param i32 i32) (result i32)"),
    "join": ("(canon waitable.join)", "(param i32 i32)"),
    "s-new": ("(canon stream.new $s)", "(result i64)"),
    "s-read": ("(canon stream.read $s (memory $mem))", "(param i32 i32 i32) (result i32)"),
    "s-read-async": ("(canon stream.read $s async (memory $mem))", "(param i32 i32 i32) (result i32)"),
    "s-write-async": ("(canon stream.write $s async (memory $mem))", "(param i32 i32 i32) (result i32)"),
    "s-drop-r": ("(canon stream.drop-readable $s)", "(param i32)"),
    "s-drop-w": ("(canon stream.drop-writable $s)", "(param i32)"),
    "s8-new": ("(canon stream.new $s8)", "(result i64)"),
    "f-new": ("(canon future.new $f)", "(result i64)"),
    "f-write-async": ("(canon future.write $f async (memory $mem))", "(param i32 i32) (result i32)"),
    "f-drop-w": ("(canon future.drop-writable $f)", "(param i32)"),
    "f-read-async": ("(canon future.read $f async (memory $mem))", "(param i32 i32) (result i32)"),
    "subtask-cancel": ("(canon subtask.cancel async)", "(param i32) (result i32)"),
    "subtask-drop": ("(canon subtask.drop)", "(param i32)"),
    "thread-new": ("(canon thread.new-indirect $start (core table $tbl))", "(param i32 i32) (result i32)"),
    "thread-resume-later": ("(canon thread.resume-later)", "(param i32)"),
    "thread-index": ("(canon thread.index)", "(result i32)"),
    "task-cancel": ("(canon task.cancel)", ""),
    "bp-inc": ("(canon backpressure.inc)", ""),
    "bp-dec": ("(canon backpressure.dec)", ""),
    "s-cancel-read": ("(canon stream.cancel-read $s async)", "(param i32) (result i32)"),
    "s-cancel-write": ("(canon stream.cancel-write $s async)", "(param i32) (result i32)"),
    "ec-new": ("(canon error-context.new (memory $mem))", "(param i32 i32) (result i32)"),
    "ec-debug": ("(canon error-context.debug-message (memory $mem) (realloc $realloc))", "(param i32 i32)"),
    "ws-drop": ("(canon waitable-set.drop)", "(param i32)"),
}
"""Every built-in a case may call: core func name -> (canon definition, core signature)."""

CALLEE = """(component $callee
  (type $s (stream u32))
  (core module $libc (memory (export "mem") 1))
  (core instance $libc (instantiate $libc))
  (alias core export $libc "mem" (core memory $mem))
  (core func $tr (canon task.return))
  (core func $tr-s (canon task.return (result $s)))
  (core func $s-new (canon stream.new $s))
  (core func $s-write (canon stream.write $s async (memory $mem)))
  (core module $m
    (import "libc" "mem" (memory 1))
    (import "" "tr" (func $tr))
    (import "" "tr-s" (func $tr-s (param i32)))
    (import "" "s-new" (func $s-new (result i64)))
    (import "" "s-write" (func $s-write (param i32 i32 i32) (result i32)))
    ;; yields once; its callback returns (so the caller sees STARTED, then RETURNED)
    (func (export "slow") (result i32) (i32.const 1))
    (func (export "cb") (param i32 i32 i32) (result i32) (call $tr) (i32.const 0))
    ;; a stream<u32> whose writer has 2 elements at `ptr` pending, returned at once
    (func $source (param $ptr i32) (result i32) (local $rw i64)
      (local.set $rw (call $s-new))
      (drop (call $s-write (i32.wrap_i64 (i64.shr_u (local.get $rw) (i64.const 32))) (local.get $ptr) (i32.const 2)))
      (call $tr-s (i32.wrap_i64 (local.get $rw)))
      (i32.const 0))
    (func (export "source") (result i32) (call $source (i32.const 16)))
    (func (export "source-misaligned") (result i32) (call $source (i32.const 18)))
    (func (export "source-oob") (result i32) (call $source (i32.const 65532))))
  (core instance $i (instantiate $m (with "libc" (instance $libc)) (with "" (instance
    (export "tr" (func $tr)) (export "tr-s" (func $tr-s)) (export "s-new" (func $s-new))
    (export "s-write" (func $s-write))))))
  (func (export "slow") async (canon lift (core func $i "slow") async (callback (core func $i "cb"))))
  (func (export "source") async (result $s)
    (canon lift (core func $i "source") async (callback (core func $i "cb"))))
  (func (export "source-misaligned") async (result $s)
    (canon lift (core func $i "source-misaligned") async (callback (core func $i "cb"))))
  (func (export "source-oob") async (result $s)
    (canon lift (core func $i "source-oob") async (callback (core func $i "cb"))))
)"""
"""A well-behaved sibling (``slow``) and stream sources (the last two misbehave as writers)."""

CALLEE_TYPE = """(instance
    (type $s (stream u32))
    (export "slow" (func async))
    (export "source" (func async (result $s)))
    (export "source-misaligned" (func async (result $s)))
    (export "source-oob" (func async (result $s))))"""

CALLEE_LOWERS = {
    # name -> core signature (async lowers: status; results through an out-pointer)
    "slow": "(result i32)",
    "source": "(param i32) (result i32)",
    "source-misaligned": "(param i32) (result i32)",
    "source-oob": "(param i32) (result i32)",
}


def guest(body: str, *, lift: str = "callback", export_type: str = "async", core_sig: str = "(result i32)",
          callback: str = "unreachable", funcs: str = "", callee: bool = False) -> str:
    """The WAT of a component exporting ``run`` whose core body is ``body`` (see the module docstring).

    ``lift`` is ``callback`` (async, with the core ``cb`` as callback), ``stackful``
    (async, no callback) or ``sync``.
    """
    decls = "\n  ".join(f"(core func ${n} {c})" for n, (c, _) in BUILTINS.items())
    exports = " ".join(f'(export "{n}" (func ${n}))' for n in BUILTINS)
    imports = "\n    ".join(f'(import "b" "{n}" (func ${n} {s}))' for n, (_, s) in BUILTINS.items())
    callee_import = callee_lowers = callee_core = callee_with = ""
    if callee:
        callee_import = f'(import "c" {CALLEE_TYPE.replace("(instance", "(instance $c", 1)})'
        callee_lowers = "\n  ".join(f'(core func $c-{n} (canon lower (func $c "{n}") async (memory $mem)))'
                                    for n in CALLEE_LOWERS)
        callee_lowers += '\n  (core func $c-slow-sync (canon lower (func $c "slow")))'
        callee_core = "\n    ".join(f'(import "c" "{n}" (func $c-{n} {s}))' for n, s in CALLEE_LOWERS.items())
        callee_core += '\n    (import "c" "slow-sync" (func $c-slow-sync))'
        callee_with = ('(with "c" (instance '
                       + " ".join(f'(export "{n}" (func $c-{n}))' for n in CALLEE_LOWERS)
                       + ' (export "slow-sync" (func $c-slow-sync))))')
    options = {"callback": 'async (callback (core func $main "cb"))', "stackful": "async", "sync": ""}[lift]
    caller = f"""(component $caller
  {callee_import}
  (type $s (stream u32))
  (type $s8 (stream u8))
  (type $f (future u32))
  (core module $libc (memory (export "mem") 1) (table (export "tbl") 4 funcref)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024)))
  (core instance $libc (instantiate $libc))
  (alias core export $libc "mem" (core memory $mem))
  (alias core export $libc "tbl" (core table $tbl))
  (alias core export $libc "realloc" (core func $realloc))
  (core type $start (func (param i32)))
  {decls}
  {callee_lowers}
  (core module $m
    (import "libc" "mem" (memory 1))
    (import "libc" "tbl" (table $tbl 4 funcref))
    {imports}
    {callee_core}
    (func (export "run") {core_sig} {body})
    (func (export "cb") (param i32 i32 i32) (result i32) {callback})
    {funcs})
  (core instance $main (instantiate $m (with "libc" (instance $libc)) (with "b" (instance {exports})) {callee_with}))
  (func (export "run") {export_type} (canon lift (core func $main "run") {options}))
)"""
    if not callee:
        return caller
    return f"""(component
  {CALLEE}
  (instance $ce (instantiate $callee))
  {caller}
  (instance $cr (instantiate $caller (with "c" (instance $ce))))
  (alias export $cr "run" (func $run))
  (export "run" (func $run))
)"""


GOOD = """(component
  (core module $m
    (import "" "task.return" (func $tr (param i32)))
    (global $sum (mut i32) (i32.const 0))
    ;; yields once, so the scheduler has to come back through the callback
    (func (export "add") (param i32 i32) (result i32)
      (global.set $sum (i32.add (local.get 0) (local.get 1))) (i32.const 1))
    (func (export "cb") (param i32 i32 i32) (result i32) (call $tr (global.get $sum)) (i32.const 0)))
  (core func $tr (canon task.return (result u32)))
  (core instance $i (instantiate $m (with "" (instance (export "task.return" (func $tr))))))
  (func (export "add") async (param "a" u32) (param "b" u32) (result u32)
    (canon lift (core func $i "add") async (callback (core func $i "cb"))))
)"""
"""A well-behaved async component: ``add(a, b) -> a + b`` after one yield."""

# Locals and the stream every stream case starts with: $r its readable end, $w its writable end.
LOCALS = "(local $rw i64) (local $r i32) (local $w i32) (local $x i32) (local $ws i32) (local $i i32)"
NEW_STREAM = ("(local.set $rw (call $s-new)) (local.set $r (i32.wrap_i64 (local.get $rw)))"
              " (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $rw) (i64.const 32))))")
NEW_FUTURE = NEW_STREAM.replace("$s-new", "$f-new")
DONE = "(call $task-return) (i32.const 0)"  # return, then EXIT


def with_stream(body: str, **options: Any) -> str:
    """A callback-lifted guest that creates a stream<u32>, runs ``body`` and returns."""
    return guest(LOCALS + NEW_STREAM + body + DONE, **options)


def read(end: str, ptr: int, n: int, op: str = "s-read-async") -> str:
    return f"(drop (call ${op} {end} (i32.const {ptr}) (i32.const {n})))"


def write(end: str, ptr: int, n: int) -> str:
    return f"(drop (call $s-write-async {end} (i32.const {ptr}) (i32.const {n})))"


R, W = "(local.get $r)", "(local.get $w)"

# The writer's event becomes ready: a pending write, completed by a read, in set $ws.
EVENT_READY = ("(local.set $ws (call $ws-new))" + write(W, 16, 2) + read(R, 32, 1)
               + "(call $join (local.get $w) (local.get $ws))")

# The caller reads the stream `source*` returned (its handle lands at 64), with buffer `ptr`.
def read_from(source: str, ptr: int) -> str:
    # RETURNED (2) at once, so the handle is at 64 (a source whose write traps never gets here)
    return guest(LOCALS + f"(if (i32.ne (call $c-{source} (i32.const 64)) (i32.const 2)) (then unreachable))"
                 + read("(i32.load (i32.const 64))", ptr, 2) + DONE, callee=True)


# A started subtask of `slow` in $x (status STARTED, checked), then: wait until RETURNED is delivered.
SUBTASK = ("(local.set $x (call $c-slow)) (if (i32.ne (i32.and (local.get $x) (i32.const 0xf)) (i32.const 1))"
           " (then unreachable)) (local.set $x (i32.shr_u (local.get $x) (i32.const 4)))")
RESOLVED = ("(local.set $ws (call $ws-new)) (call $join (local.get $x) (local.get $ws))"
            " (if (i32.ne (call $ws-wait (local.get $ws) (i32.const 128)) (i32.const 1)) (then unreachable))"
            " (if (i32.ne (i32.load (i32.const 132)) (i32.const 2)) (then unreachable))"
            " (call $join (local.get $x) (i32.const 0))")

THREAD_START = "(func $start (param i32)) (elem (table $tbl) (i32.const 0) func $start)"
COUNT_TOO_LARGE = "stream read/write count too large"
CANNOT_BLOCK = "cannot block a synchronous task before returning"


@dataclass(frozen=True)
class Hostile:
    """A hostile guest: ``run()`` must raise ComponentTrap containing ``message``.

    ``message`` is wasmtime's wording; it is empty where wasmcomponent's
    wording differs today, and ``wasmtime`` then records wasmtime's text.
    """

    id: str
    wat: str
    message: str
    wasmtime: str = ""
    ours: str = ""

    def reason(self) -> str:
        """A pattern that today's trap must match when ``message`` is empty: wasmtime's
        text, or wasmcomponent's current wording for the same reason (``ours``, or by kind)."""
        ours = (self.ours if self.ours
                else "unaligned pointer" if "aligned" in self.wasmtime
                else "out of bounds" if "out of bounds" in self.wasmtime
                else r"handle index \d+ used with the wrong type")
        return f"{re.escape(self.wasmtime)}|{ours}"


CASES: tuple[Hostile, ...] = (
    # -- stream buffers within one instance (wasmtime checks bounds at the call:
    #    "read pointer out of bounds of memory" for reads and writes alike)
    Hostile("read-buffer-out-of-bounds", with_stream(read(R, 65532, 2)), "out of bounds"),
    Hostile("write-buffer-out-of-bounds", with_stream(write(W, 65532, 2)), "out of bounds"),
    Hostile("read-buffer-wraps", with_stream(read(R, -4, 2)), "out of bounds"),
    Hostile("read-buffer-past-end-by-one-element", with_stream(read(R, 65528, 3)), "out of bounds"),
    # misaligned: the spec traps at the call; wasmtime only when the copy happens
    # ("read pointer not aligned" / "write pointer not aligned"), so give the copy a peer
    Hostile("intra-read-buffer-misaligned", with_stream(write(W, 16, 2) + read(R, 34, 2)), "",
            wasmtime="read pointer not aligned"),
    Hostile("intra-write-buffer-misaligned", with_stream(read(R, 16, 2) + write(W, 34, 2)), "",
            wasmtime="write pointer not aligned"),
    Hostile("intra-read-buffer-out-of-bounds-with-writer", with_stream(write(W, 16, 2) + read(R, 65532, 2)),
            "out of bounds"),
    # -- stream buffers guest to guest (the callee wrote 2 elements, pending)
    Hostile("cross-read-buffer-out-of-bounds", read_from("source", 65532), "out of bounds"),
    Hostile("cross-read-buffer-misaligned", read_from("source", 66), "", wasmtime="read pointer not aligned"),
    Hostile("cross-write-buffer-misaligned", read_from("source-misaligned", 128), "",
            wasmtime="write pointer not aligned"),
    Hostile("cross-write-buffer-out-of-bounds", read_from("source-oob", 128), "out of bounds"),
    # -- lengths above the maximum (2**28 - 1), before any other check
    Hostile("read-count-too-large", with_stream(read(R, 0, 1 << 28)), COUNT_TOO_LARGE),
    Hostile("write-count-too-large", with_stream(write(W, 0, -1)), COUNT_TOO_LARGE),
    # -- event pointers (wasmtime, func/host.rs validate_inbounds_dynamic: "pointer not
    #    aligned" / "pointer out of bounds")
    Hostile("poll-event-pointer-out-of-bounds",
            with_stream(EVENT_READY + "(drop (call $ws-poll (local.get $ws) (i32.const 65532)))"), "",
            wasmtime="pointer out of bounds"),
    Hostile("poll-event-pointer-misaligned",
            with_stream(EVENT_READY + "(drop (call $ws-poll (local.get $ws) (i32.const 66)))"), "",
            wasmtime="pointer not aligned"),
    Hostile("poll-empty-set-event-pointer-out-of-bounds",
            with_stream("(drop (call $ws-poll (call $ws-new) (i32.const 65536)))"), "",
            wasmtime="pointer out of bounds"),
    Hostile("wait-event-pointer-out-of-bounds",
            guest(LOCALS + NEW_STREAM + EVENT_READY + "(drop (call $ws-wait (local.get $ws) (i32.const 65532)))"
                  "(call $task-return)", lift="stackful", core_sig=""), "", wasmtime="pointer out of bounds"),
    Hostile("wait-event-pointer-misaligned",
            guest(LOCALS + NEW_STREAM + EVENT_READY + "(drop (call $ws-wait (local.get $ws) (i32.const 6)))"
                  "(call $task-return)", lift="stackful", core_sig=""), "", wasmtime="pointer not aligned"),
    # -- task.return
    Hostile("task-return-twice", guest("(call $task-return) (call $task-return) (i32.const 0)"),
            "`task.return` or `task.cancel` called more than once for current task"),
    Hostile("task-return-wrong-type", guest("(call $task-return-u32 (i32.const 7)) (i32.const 0)"),
            "invalid `task.return` signature and/or options for current task"),
    Hostile("task-return-wrong-options",
            guest("(call $task-return-u32-utf16 (i32.const 7)) (i32.const 0)", export_type="async (result u32)"),
            "invalid `task.return` signature and/or options for current task"),
    Hostile("exit-without-task-return", guest("(i32.const 0)"), "async-lifted export failed to produce a result"),
    Hostile("stackful-exit-without-task-return", guest("", lift="stackful", core_sig=""),
            "async-lifted export failed to produce a result"),
    Hostile("callback-exit-without-task-return", guest("(i32.const 1)", callback="(i32.const 0)"),
            "async-lifted export failed to produce a result"),
    # -- callback codes: 3..15 are invalid
    Hostile("invalid-callback-code-from-entry", guest("(i32.const 5)"), "unsupported callback code"),
    Hostile("invalid-callback-code-from-callback", guest("(i32.const 1)", callback="(i32.const 0x7f)"),
            "unsupported callback code"),
    # -- blocking in a synchronously typed task
    Hostile("wait-in-sync-task",
            guest("(drop (call $ws-wait (call $ws-new) (i32.const 0)))", lift="sync", export_type="",
                  core_sig=""), CANNOT_BLOCK),
    Hostile("sync-stream-read-in-sync-task",
            guest(LOCALS + NEW_STREAM + read(R, 16, 1, op="s-read"), lift="sync", export_type="", core_sig=""),
            CANNOT_BLOCK),
    Hostile("sync-call-of-async-callee-in-sync-task",
            guest("(call $c-slow-sync)", lift="sync", export_type="", core_sig="", callee=True), CANNOT_BLOCK),
    # -- deadlock: waiting on an empty set, nothing else to run
    Hostile("callback-waits-on-empty-set", guest("(i32.or (i32.shl (call $ws-new) (i32.const 4)) (i32.const 2))"),
            "deadlock detected"),
    Hostile("stackful-waits-on-empty-set",
            guest("(drop (call $ws-wait (call $ws-new) (i32.const 0)))", lift="stackful", core_sig=""),
            "deadlock detected"),
    # -- busy and dropped handles
    Hostile("drop-writable-end-with-write-pending", with_stream(write(W, 16, 2) + "(call $s-drop-w (local.get $w))"),
            "cannot drop busy stream"),
    Hostile("drop-readable-end-with-read-pending", with_stream(read(R, 16, 2) + "(call $s-drop-r (local.get $r))"),
            "cannot remove busy stream"),
    Hostile("read-dropped-end", with_stream("(call $s-drop-r (local.get $r))" + read(R, 16, 2)),
            "unknown handle index 1"),
    Hostile("read-handle-zero", with_stream(read("(i32.const 0)", 16, 1)), "unknown handle index 0"),
    Hostile("wait-on-unknown-set", with_stream("(drop (call $ws-poll (i32.const 77) (i32.const 16)))"),
            "unknown handle index 77"),
    # -- wrong handle kinds
    Hostile("read-on-writable-end", with_stream(read(W, 16, 2)), "",
            wasmtime="cannot have concurrent operations active on a future/stream"),
    Hostile("read-on-waitable-set", with_stream(read("(call $ws-new)", 16, 2)), "", wasmtime="handle is not a stream"),
    Hostile("read-stream-of-other-type",
            with_stream(read("(i32.wrap_i64 (call $s8-new))", 16, 1)), "",
            wasmtime="handle is a stream of a different type"),
    Hostile("future-read-on-stream", with_stream("(drop (call $f-read-async (local.get $r) (i32.const 16)))"), "",
            wasmtime="handle is not a future"),
    Hostile("drop-writable-on-readable-end", with_stream("(call $s-drop-w (local.get $r))"), "",
            wasmtime="passed read end to `stream.drop-writable`"),
    Hostile("drop-readable-on-writable-end", with_stream("(call $s-drop-r (local.get $w))"), "",
            wasmtime="handle is not a readable end of a stream"),
    Hostile("poll-on-stream", with_stream("(drop (call $ws-poll (local.get $r) (i32.const 16)))"), "",
            wasmtime="handle is not an waitable-set"),
    Hostile("join-set-into-set", with_stream("(call $join (call $ws-new) (call $ws-new))"), "",
            wasmtime="handle is not a waitable"),
    Hostile("subtask-cancel-on-stream", with_stream("(drop (call $subtask-cancel (local.get $r)))"), "",
            wasmtime="handle is not a subtask"),
    Hostile("subtask-drop-on-stream", with_stream("(call $subtask-drop (local.get $r))"), "",
            wasmtime="handle is not a subtask"),
    Hostile("cancel-read-on-writable-end", with_stream("(drop (call $s-cancel-read (local.get $w)))"), "",
            wasmtime="passed write end to `{stream|future}.cancel-read`"),
    # -- copies and cancels in the wrong state
    Hostile("write-after-readable-end-dropped",
            with_stream("(call $s-drop-r (local.get $r))" + write(W, 16, 1) + write(W, 16, 1)),
            # wasmtime: "cannot write after being notified ..."; the spec and wasmcomponent:
            # "cannot write to stream after being notified ..."
            "after being notified that the readable end dropped"),
    Hostile("cancel-read-without-pending-read", with_stream("(drop (call $s-cancel-read (local.get $r)))"), "",
            wasmtime="stream or future read cancelled when no read is pending",
            ours="`cancel` called without a pending copy"),
    Hostile("cancel-write-without-pending-write", with_stream("(drop (call $s-cancel-write (local.get $w)))"), "",
            wasmtime="stream or future write cancelled when no write is pending",
            ours="`cancel` called without a pending copy"),
    Hostile("future-read-after-read-succeeded",
            guest(LOCALS + NEW_FUTURE + "(drop (call $f-write-async (local.get $w) (i32.const 16)))"
                  "(drop (call $f-read-async (local.get $r) (i32.const 32)))"
                  "(drop (call $f-read-async (local.get $r) (i32.const 32)))" + DONE),
            "cannot read from future after previous read succeeded"),
    Hostile("future-write-after-write-succeeded",
            guest(LOCALS + NEW_FUTURE + "(drop (call $f-read-async (local.get $r) (i32.const 32)))"
                  "(drop (call $f-write-async (local.get $w) (i32.const 16)))"
                  "(drop (call $f-write-async (local.get $w) (i32.const 16)))" + DONE),
            "cannot write to future after previous write succeeded"),
    Hostile("future-drop-writable-without-write", guest(LOCALS + NEW_FUTURE + "(call $f-drop-w (local.get $w))" + DONE),
            "cannot drop future write end without first writing a value"),
    # -- task.cancel, backpressure, error contexts
    Hostile("task-cancel-when-not-cancelled", guest("(call $task-cancel) (i32.const 0)"),
            "`task.cancel` called by task which has not been cancelled"),
    Hostile("backpressure-below-zero", guest("(call $bp-dec)" + DONE), "backpressure counter overflow"),
    Hostile("backpressure-overflow",
            guest(LOCALS + "(loop $l (call $bp-inc) (local.set $i (i32.add (local.get $i) (i32.const 1)))"
                  " (br_if $l (i32.le_u (local.get $i) (i32.const 0x10000))))" + DONE),
            "backpressure counter overflow"),
    Hostile("error-context-message-out-of-bounds", guest("(drop (call $ec-new (i32.const 65530) (i32.const 10)))" + DONE),
            "string pointer/length out of bounds of memory"),
    Hostile("error-context-debug-message-pointer-out-of-bounds",
            guest("(call $ec-debug (call $ec-new (i32.const 0) (i32.const 1)) (i32.const 65532))" + DONE),
            "invalid debug message pointer: out of bounds"),
    # -- threads
    Hostile("thread-start-index-out-of-table", guest("(drop (call $thread-new (i32.const 9) (i32.const 0)))" + DONE,
                                                     funcs=THREAD_START), "",
            wasmtime="undefined element: out of bounds table access", ours="table index out of bounds"),
    Hostile("thread-start-uninitialized", guest("(drop (call $thread-new (i32.const 1) (i32.const 0)))" + DONE,
                                                funcs=THREAD_START), "",
            wasmtime="the start function index points to an uninitialized function",
            ours="uninitialized table element"),
    Hostile("thread-start-wrong-type",
            guest("(drop (call $thread-new (i32.const 0) (i32.const 0)))" + DONE,
                  funcs="(func $start (param i64)) (elem (table $tbl) (i32.const 0) func $start)"), "",
            wasmtime="start function does not match expected type", ours="indirect call type mismatch"),
    Hostile("resume-running-thread", guest("(call $thread-resume-later (call $thread-index))" + DONE),
            "cannot resume thread which is not suspended"),
    Hostile("resume-thread-twice",
            guest(LOCALS + "(local.set $x (call $thread-new (i32.const 0) (i32.const 0)))"
                  "(call $thread-resume-later (local.get $x)) (call $thread-resume-later (local.get $x))" + DONE,
                  funcs=THREAD_START), "cannot resume thread which is not suspended"),
    Hostile("resume-unknown-thread", guest("(call $thread-resume-later (i32.const 55))" + DONE),
            "unknown handle index 55"),
    # -- subtasks in the wrong state
    Hostile("drop-unresolved-subtask", guest(LOCALS + SUBTASK + "(call $subtask-drop (local.get $x))" + DONE,
                                             callee=True), "cannot drop a subtask which has not yet resolved"),
    Hostile("cancel-subtask-after-terminal-status",
            guest(LOCALS + SUBTASK + RESOLVED + "(drop (call $subtask-cancel (local.get $x)))(call $task-return)",
                  lift="stackful", core_sig="", callee=True),
            "`subtask.cancel` called after terminal status delivered"),
    Hostile("cancel-dropped-subtask",
            guest(LOCALS + SUBTASK + RESOLVED + "(call $subtask-drop (local.get $x))"
                  "(drop (call $subtask-cancel (local.get $x))) (call $task-return)",
                  lift="stackful", core_sig="", callee=True), "unknown handle index 1"),
)

WORDING_DIFFERS = tuple(case.id for case in CASES if not case.message)
"""Cases whose trap wasmcomponent raises with wording other than wasmtime's (reported)."""


@pytest.fixture(scope="module")
def engine() -> wasmtime.Engine:
    return wasmtime.Engine()


@pytest.fixture(scope="module")
def good(engine: wasmtime.Engine) -> Component:
    return Component(engine, GOOD)


def add(engine: wasmtime.Engine, store: wasmtime.Store, good: Component) -> Any:
    """The ``add`` export of a new instance of the healthy component in ``store``."""
    return Linker(engine).instantiate(store, good).get_func(store, "add")


def run_hostile(engine: wasmtime.Engine, store: wasmtime.Store, component: Component) -> ComponentTrap:
    """Instantiate ``component`` in ``store``, call ``run`` and return the trap it must raise."""
    run = Linker(engine).instantiate(store, component).get_func(store, "run")
    with pytest.raises(ComponentTrap) as info:
        run(store)
    return info.value


def assert_unharmed(engine: wasmtime.Engine, good: Component, bystander: wasmtime.Store,
                    bystander_add: Any, poisoned: wasmtime.Store, poisoned_add: Any) -> None:
    """(c): the trapping store is poisoned; other stores, old and new, still work."""
    with pytest.raises(ComponentTrap, match="cannot enter component instance"):
        poisoned_add(poisoned, 1, 2)
    assert bystander_add(bystander, 40, 2) == 42
    assert add(engine, bystander, good)(bystander, 5, 6) == 11
    fresh = wasmtime.Store(engine)
    assert add(engine, fresh, good)(fresh, 0xFFFF_FFFF, 3) == 2


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_async_guest_traps(engine: wasmtime.Engine, good: Component, case: Hostile) -> None:
    component = Component(engine, case.wat)
    bystander = wasmtime.Store(engine)
    bystander_add = add(engine, bystander, good)
    assert bystander_add(bystander, 1, 1) == 2
    store = wasmtime.Store(engine)
    healthy = add(engine, store, good)
    assert healthy(store, 2, 3) == 5

    trap = run_hostile(engine, store, component)
    assert case.message in str(trap)
    if not case.message:
        assert re.search(case.reason(), str(trap)), str(trap)
    assert str(trap).startswith("wasm trap: ")

    assert_unharmed(engine, good, bystander, bystander_add, store, healthy)
    # Deterministic: the same guest afresh traps the same way.
    again = run_hostile(engine, wasmtime.Store(engine), component)
    assert str(again) == str(trap)


SPAWNERS = {
    # an async-lowered call of `slow` per iteration, never waited for: subtasks pile up
    "subtasks": guest("(loop $l (drop (call $c-slow)) (br $l)) (i32.const 0)", callee=True),
    # a new thread per iteration, scheduled but never run (the loop never yields)
    "threads": guest("(loop $l (call $thread-resume-later (call $thread-new (i32.const 0) (i32.const 0))) (br $l))"
                     " (i32.const 0)", funcs=THREAD_START),
    # handles without a task or thread behind them
    "waitable-sets": guest("(loop $l (drop (call $ws-new)) (br $l)) (i32.const 0)"),
    "streams": guest("(loop $l (drop (call $s-new)) (br $l)) (i32.const 0)"),
}


@pytest.mark.parametrize("kind", sorted(SPAWNERS))
def test_unbounded_spawning_hits_the_concurrency_limit(engine: wasmtime.Engine, good: Component, kind: str) -> None:
    """A guest spawning without bound traps at the store's limit instead of exhausting memory."""
    component = Component(engine, SPAWNERS[kind])
    bystander = wasmtime.Store(engine)
    bystander_add = add(engine, bystander, good)
    store = wasmtime.Store(engine)
    wasmcomponent.set_concurrency_limit(store, 64)
    healthy = add(engine, store, good)
    trap = run_hostile(engine, store, component)
    assert "resource table has no free keys" in str(trap)
    assert_unharmed(engine, good, bystander, bystander_add, store, healthy)


def test_default_concurrency_limit_is_bounded() -> None:
    """Without a setting, the limit is finite (100,000 async objects per instance table)."""
    limit = wasmcomponent.concurrency_limit(wasmtime.Store())
    assert 0 < limit <= 1_000_000


def test_wasmtime_py_cannot_run_async_lifted_exports(engine: wasmtime.Engine) -> None:
    """Why (a) relies on wasmtime's sources: wasmtime-py 50 refuses to call an async-lifted export."""
    import wasmtime.component as wtc

    store = wasmtime.Store(engine)
    func = wtc.Linker(engine).instantiate(store, wtc.Component(engine, GOOD)).get_func(store, "add")
    assert func is not None
    with pytest.raises(wasmtime.WasmtimeError, match="cannot synchronously call an async-lifted export"):
        func(store, 1, 2)
