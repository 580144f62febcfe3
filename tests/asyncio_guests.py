"""WAT guests for the asyncio tests (``test_asyncio.py``).

``SLEEPER`` exports ``work: async func(x: u32) -> u32`` (callback ABI): it
calls the imported ``sleep: async func(ms: u32) -> u32`` with ``x``
(async-lowered, so other tasks run meanwhile) and returns ``x + sleep(x)``.
Per-task state lives in the task's context slots (slot 0: ``x``, slot 1: a
pointer to 8 bytes holding the import's result and the subtask index), so
concurrent tasks do not mix.  When the task is cancelled while it waits, it
cancels its subtask, drops it, calls ``task.cancel`` and counts the
cancellation; ``cancelled: func() -> u32`` reports the count.

``SYNC_SLEEPER`` has no async at all: ``work: func(x: u32) -> u32`` calls the
sync import ``sleep: func(ms: u32) -> u32`` and returns ``x + sleep(x)``.
"""

SLEEPER = r"""
(component
  (import "sleep" (func $sleep async (param "ms" u32) (result u32)))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (core func $sleep' (canon lower (func $sleep) async (memory (core memory $mem "mem"))))
  (core func $task.return (canon task.return (result u32)))
  (core func $task.cancel (canon task.cancel))
  (core func $ws.new (canon waitable-set.new))
  (core func $join (canon waitable.join))
  (core func $subtask.drop (canon subtask.drop))
  (core func $subtask.cancel (canon subtask.cancel async))
  (core func $ctx.get0 (canon context.get i32 0))
  (core func $ctx.set0 (canon context.set i32 0))
  (core func $ctx.get1 (canon context.get i32 1))
  (core func $ctx.set1 (canon context.set i32 1))
  (core module $M
    (import "" "mem" (memory 1))
    (import "" "sleep" (func $sleep (param i32 i32) (result i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "task.cancel" (func $task.cancel))
    (import "" "ws.new" (func $ws.new (result i32)))
    (import "" "join" (func $join (param i32 i32)))
    (import "" "subtask.drop" (func $subtask.drop (param i32)))
    (import "" "subtask.cancel" (func $subtask.cancel (param i32) (result i32)))
    (import "" "get0" (func $get0 (result i32)))
    (import "" "set0" (func $set0 (param i32)))
    (import "" "get1" (func $get1 (result i32)))
    (import "" "set1" (func $set1 (param i32)))
    (global $next (mut i32) (i32.const 16))
    (global $cancelled (mut i32) (i32.const 0))
    (func (export "work") (param $x i32) (result i32) (local $status i32) (local $ptr i32) (local $ws i32)
      (local.set $ptr (global.get $next))
      (global.set $next (i32.add (global.get $next) (i32.const 8)))
      (if (i32.ge_u (global.get $next) (i32.const 65000)) (then (global.set $next (i32.const 16))))
      (call $set0 (local.get $x))
      (call $set1 (local.get $ptr))
      (local.set $status (call $sleep (local.get $x) (local.get $ptr)))
      (if (i32.eq (i32.and (local.get $status) (i32.const 0xf)) (i32.const 2))
        (then (call $task.return (i32.add (local.get $x) (i32.load (local.get $ptr)))) (return (i32.const 0))))
      (i32.store offset=4 (local.get $ptr) (i32.shr_u (local.get $status) (i32.const 4)))
      (local.set $ws (call $ws.new))
      (call $join (i32.shr_u (local.get $status) (i32.const 4)) (local.get $ws))
      (i32.or (i32.const 2) (i32.shl (local.get $ws) (i32.const 4))))
    (func (export "cb") (param $event i32) (param $index i32) (param $payload i32) (result i32)
      (local $subtask i32)
      (if (i32.eq (local.get $event) (i32.const 6))  ;; TASK_CANCELLED
        (then
          (local.set $subtask (i32.load offset=4 (call $get1)))
          (drop (call $subtask.cancel (local.get $subtask)))
          (call $subtask.drop (local.get $subtask))
          (call $task.cancel)
          (global.set $cancelled (i32.add (global.get $cancelled) (i32.const 1)))
          (return (i32.const 0))))
      (if (i32.ne (local.get $event) (i32.const 1)) (then unreachable))
      (if (i32.ne (local.get $payload) (i32.const 2)) (then unreachable))
      (call $subtask.drop (local.get $index))
      (call $task.return (i32.add (call $get0) (i32.load (call $get1))))
      (i32.const 0))
    (func (export "cancelled") (result i32) (global.get $cancelled)))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $mem "mem"))
    (export "sleep" (func $sleep'))
    (export "task.return" (func $task.return))
    (export "task.cancel" (func $task.cancel))
    (export "ws.new" (func $ws.new))
    (export "join" (func $join))
    (export "subtask.drop" (func $subtask.drop))
    (export "subtask.cancel" (func $subtask.cancel))
    (export "get0" (func $ctx.get0)) (export "set0" (func $ctx.set0))
    (export "get1" (func $ctx.get1)) (export "set1" (func $ctx.set1))))))
  (func (export "work") async (param "x" u32) (result u32)
    (canon lift (core func $m "work") async (callback (core func $m "cb"))))
  (func (export "cancelled") (result u32) (canon lift (core func $m "cancelled")))
)
"""

SYNC_SLEEPER = r"""
(component
  (import "sleep" (func $sleep (param "ms" u32) (result u32)))
  (core func $sleep' (canon lower (func $sleep)))
  (core module $M
    (import "" "sleep" (func $sleep (param i32) (result i32)))
    (func (export "work") (param $x i32) (result i32)
      (i32.add (local.get $x) (call $sleep (local.get $x)))))
  (core instance $m (instantiate $M (with "" (instance (export "sleep" (func $sleep'))))))
  (func (export "work") (param "x" u32) (result u32) (canon lift (core func $m "work")))
)
"""

# ``digits: async func(n: u32) -> stream<u8>`` (n at most 256): a stream of the
# bytes 0, 1, ..., n-1 written in one write, then the writable end is dropped;
# ``double: async func(x: u32) -> u32``.  For the CLI test (``run --invoke``).
DIGITS = r"""
(component
  (type $S (stream u8))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (core func $stream.new (canon stream.new $S))
  (core func $stream.write (canon stream.write $S async (memory (core memory $mem "mem"))))
  (core func $drop-w (canon stream.drop-writable $S))
  (core func $return-stream (canon task.return (result $S)))
  (core func $return-u32 (canon task.return (result u32)))
  (core func $ws.new (canon waitable-set.new))
  (core func $join (canon waitable.join))
  (core module $M
    (import "" "mem" (memory 1))
    (import "" "stream.new" (func $stream.new (result i64)))
    (import "" "stream.write" (func $stream.write (param i32 i32 i32) (result i32)))
    (import "" "drop-w" (func $drop-w (param i32)))
    (import "" "return-stream" (func $return-stream (param i32)))
    (import "" "return-u32" (func $return-u32 (param i32)))
    (import "" "ws.new" (func $ws.new (result i32)))
    (import "" "join" (func $join (param i32 i32)))
    (global $w (mut i32) (i32.const 0))
    (func (export "digits") (param $n i32) (result i32) (local $rw i64) (local $ws i32) (local $i i32)
      (if (i32.gt_u (local.get $n) (i32.const 256)) (then unreachable))
      (block $done (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (local.get $i) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
      (local.set $rw (call $stream.new))
      (global.set $w (i32.wrap_i64 (i64.shr_u (local.get $rw) (i64.const 32))))
      (call $return-stream (i32.wrap_i64 (local.get $rw)))
      (if (i32.ne (call $stream.write (global.get $w) (i32.const 0) (local.get $n)) (i32.const -1))
        (then (call $drop-w (global.get $w)) (return (i32.const 0))))
      (local.set $ws (call $ws.new))
      (call $join (global.get $w) (local.get $ws))
      (i32.or (i32.const 2) (i32.shl (local.get $ws) (i32.const 4))))
    (func (export "digits-cb") (param i32 i32 i32) (result i32)
      (call $join (global.get $w) (i32.const 0))
      (call $drop-w (global.get $w))
      (i32.const 0))
    (func (export "double") (param $x i32) (result i32)
      (call $return-u32 (i32.mul (local.get $x) (i32.const 2)))
      (i32.const 0))
    (func (export "double-cb") (param i32 i32 i32) (result i32) unreachable))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $mem "mem"))
    (export "stream.new" (func $stream.new))
    (export "stream.write" (func $stream.write))
    (export "drop-w" (func $drop-w))
    (export "return-stream" (func $return-stream))
    (export "return-u32" (func $return-u32))
    (export "ws.new" (func $ws.new))
    (export "join" (func $join))))))
  (func (export "digits") async (param "n" u32) (result (stream u8))
    (canon lift (core func $m "digits") async (callback (core func $m "digits-cb"))))
  (func (export "double") async (param "x" u32) (result u32)
    (canon lift (core func $m "double") async (callback (core func $m "double-cb"))))
)
"""
