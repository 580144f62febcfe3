"""Spike: how to suspend a guest's wasm stack in the middle of a core call.

Issue #12 point 4 (stackful async lift, sync-lowered calls to blocking
callees, sync stream ops, ``thread.*``) needs a guest stack that can stop
inside a host call and be resumed later by a Python scheduler.  This script
compares the two candidates of ../shared/design/ASYNC.md on one tiny core
module whose export calls an imported host function ``block`` N times:

* ``fibers``:  wasmtime's own fibers through the core C API bundled with
  wasmtime-py 50 (``wasmtime_linker_define_async_func``,
  ``wasmtime_func_call_async``, ``wasmtime_call_future_poll``; all exported
  by ``_libwasmtime.so``, checked with ``nm -D``).  ``block`` is an async host
  function whose continuation answers "not ready" until the scheduler marks
  the guest ready; the fiber then suspends and ``poll`` returns false.
* ``threads``: one Python thread per guest stack, calling the ordinary sync
  ``wasmtime.Func``; ``block`` hands control back to the scheduler with two
  semaphores, so only one OS thread runs wasm in the store at a time.

Every scenario runs in a child process (so a crash is observed, not
suffered, and RSS figures do not leak between scenarios); the parent prints
the table.  Run: ``PYTHONPATH=src python benchmarks/spike_suspend.py``.

Conclusion -- build **fibers** in ``_engine/``.  Figures (this machine, 2
cores shared with other jobs, wasmtime-py 50.0.1, ranges over 3 runs; every
row is a child process; the whole script takes about 30 s):

  ===========================  =============  ===============  ===============
  measure                      fibers         threads,         threads, store
                                              one store        per guest (*)
  ===========================  =============  ===============  ===============
  suspend/resume round trip    2.5-3.8 us     67-98 us         60-99 us
    (median of 20,000)                        (18-39x)         (18-39x)
  1,000 guests suspended       all, 0.02 s    1 (rest trap)    all, 0.4-0.6 s
  RSS per suspended guest      10.5 KiB       --               42 KiB (4x)
  virtual per guest            2 MiB          --               9 MiB
  10,000 guests suspended      all, 0.2-0.4 s 1 (rest trap)    all, 7 s
  10,000 resumed to the end    0.3-0.5 s      --               7.3-13.5 s
  RSS of 10,000 suspended      102 MiB        --               414 MiB
  trap beside 50 suspended     trap; 50 ok    --               trap; 50 ok
  overflow after a suspension  trap; 50 ok    --               trap; 50 ok
  overflow beside 50 suspended trap; 50 ok    SIGSEGV: the     trap; 50 ok
    (older OS thread)                         process dies
  ===========================  =============  ===============  ===============

"--": not measurable, at most one guest can be suspended in the store.
"50 ok": the 50 suspended guests then finish with the right results and the
store still runs new calls.

(*) not a design: a component instance lives in one store.  It only prices
an OS thread per suspended stack once the shared-store fault is removed.

Why threads in one store cannot work: wasmtime sets a sync store's stack
limit only on the *outermost* entry into wasm.  While guest A is suspended on
thread 1 (still inside wasm), guest B entering on thread 2 is checked against
thread 1's stack bounds.  Here thread 2's stack lies below that limit, so
every second guest traps at once with "call stack exhausted" (seen: 1 of
1,000 suspends).  When it lies above (a thread created earlier, scenario
``overflow_beside``), the check never fires, the recursion runs into the
thread's real guard page and the process dies with SIGSEGV.  So it is not
safe, and even with the fault removed an OS thread per stack is 18-39x slower
per switch and 4x heavier per stack.

Fibers: ``block`` is an async host function (``wasmtime_linker_define_async_func``)
whose continuation says "not ready"; ``wasmtime_call_future_poll`` then
returns false and the fiber stays suspended until polled with the guest
ready.  10,000 suspended calls in one store work; the cost is one mmap'd
fiber stack each (``async_stack_size``, 2 MiB virtual by default, ~10 KiB
resident) and two memory mappings (measured: 2.0 per fiber, 4.0 per thread
with its store), against vm.max_map_count (65530 here): about 30,000 live
fibers per process is the ceiling (inferred, not tried) unless stacks are
pooled or the limit raised.
Pitfalls for ``_engine/``: keep every ctypes callback and the call's
args/results/trap/error buffers alive until the future is deleted; use one
continuation callback with the guest key in ``env`` (not a CFUNCTYPE per
suspension); a store that instantiated through the async linker refuses the
*checked* sync ``wasmtime_func_call`` (the unchecked one still works; see
../shared/design/ASYNC.md); ``env`` of NULL reads back as None in Python.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Callable

import wasmtime
from wasmtime import _bindings as B

WAT = r"""
(module
  (import "host" "block" (func $block (param i32)))
  (func $rec (param i32) (result i32)
    local.get 0 i32.const 1 i32.add call $rec)
  ;; run(id, n): suspend n times, return n
  (func (export "run") (param $id i32) (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        local.get $i local.get $n i32.ge_u br_if $done
        local.get $id call $block
        local.get $i i32.const 1 i32.add local.set $i
        br $l))
    local.get $i)
  ;; boom(id, _): suspend once, then trap
  (func (export "boom") (param $id i32) (param i32) (result i32)
    local.get $id call $block unreachable)
  ;; deep(id, _): suspend once, then recurse until the stack overflows
  (func (export "deep") (param $id i32) (param i32) (result i32)
    local.get $id call $block local.get $id call $rec)
  ;; deep_now(id, _): recurse until the stack overflows, without suspending
  (func (export "deep_now") (param $id i32) (param i32) (result i32)
    local.get $id call $rec)
)
"""

_WASMTIME_I32 = 0  # wasmtime_valkind_t, crates/c-api/include/wasmtime/val.h
_FIN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_NULL_FIN = _FIN()  # a NULL function pointer: no finalizer


def _maps() -> int:
    """Number of memory mappings of this process (vm.max_map_count bounds it)."""
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def _rss_kib() -> tuple[int, int]:
    """(VmRSS, VmSize) of this process in KiB, from /proc."""
    rss = size = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmSize:"):
                size = int(line.split()[1])
    return rss, size


def _funcs(exports: Any) -> dict[str, wasmtime.Func]:
    """The three exported functions of WAT, checked to be functions."""
    out = {}
    for name in ("run", "boom", "deep", "deep_now"):
        f = exports[name]
        assert isinstance(f, wasmtime.Func)
        out[name] = f
    return out


def _trap_line(message: str) -> str:
    """The cause line of a wasmtime trap message ("wasm trap: ...")."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


class Outcome:
    """How one guest call ended: a result, or a trap/error message."""

    def __init__(self, result: int | None = None, error: str | None = None):
        self.result, self.error = result, error


class FiberBackend:
    """Guests as wasmtime fibers, driven by ``wasmtime_call_future_poll``."""

    name = "fibers"

    def __init__(self) -> None:
        self.engine = wasmtime.Engine()
        self.store = wasmtime.Store(self.engine)
        self.ready: dict[int, bool] = {}
        self.calls: dict[int, dict[str, Any]] = {}
        # One continuation callback for all guests: the guest id travels in
        # `env`.  A CFUNCTYPE per suspension would cost more than the switch.
        self._cont = B.wasmtime_func_async_continuation_callback_t(self._poll_ready)
        self._host = B.wasmtime_func_async_callback_t(self._host_block)
        linker = wasmtime.Linker(self.engine)
        ty = wasmtime.FuncType([wasmtime.ValType.i32()], [])
        err = B.wasmtime_linker_define_async_func(
            linker.ptr(), b"host", 4, b"block", 5, ty.ptr(), self._host, None, _NULL_FIN)
        if err:
            raise wasmtime.WasmtimeError._from_ptr(err)
        module = wasmtime.Module(self.engine, WAT)
        raw = B.wasmtime_instance_t()
        trap = ctypes.POINTER(B.wasm_trap_t)()
        error = ctypes.POINTER(B.wasmtime_error_t)()
        fut = B.wasmtime_linker_instantiate_async(
            linker.ptr(), self.store._context(), module.ptr(), ctypes.byref(raw),
            ctypes.byref(trap), ctypes.byref(error))
        while not B.wasmtime_call_future_poll(fut):
            pass
        B.wasmtime_call_future_delete(fut)
        if trap or error:
            raise RuntimeError("async instantiation failed")
        exports = wasmtime.Instance._from_raw(raw).exports(self.store)
        self.funcs = _funcs(exports)

    def _poll_ready(self, env: int | None) -> bool:
        return self.ready[(env or 0) - 1]

    def _host_block(self, env: Any, caller: Any, args: Any, nargs: int, results: Any,
                    nresults: int, trap_ret: Any, cont: Any) -> None:
        gid = args[0].of.i32
        self.ready[gid] = False
        cont.contents.callback = self._cont
        cont.contents.env = gid + 1  # never NULL
        cont.contents.finalizer = _NULL_FIN

    def reserve(self) -> None:
        """Fibers need no OS thread: nothing to reserve."""
        return None

    def start(self, gid: int, func: str, n: int, runner: Any = None) -> bool:
        """Begin guest `gid`; run it to its first suspension; True if it finished."""
        args = (B.wasmtime_val_t * 2)()
        for i, v in enumerate((gid, n)):
            args[i].kind = _WASMTIME_I32  # type: ignore[assignment]
            args[i].of.i32 = v
        results = (B.wasmtime_val_t * 1)()
        trap = ctypes.POINTER(B.wasm_trap_t)()
        error = ctypes.POINTER(B.wasmtime_error_t)()
        fut = B.wasmtime_func_call_async(
            self.store._context(), ctypes.byref(self.funcs[func]._func), args, 2,
            results, 1, ctypes.byref(trap), ctypes.byref(error))
        # args/results/trap/error must outlive the future: keep them here.
        self.calls[gid] = dict(fut=fut, args=args, results=results, trap=trap, error=error)
        self.ready[gid] = False
        return self._poll(gid)

    def _poll(self, gid: int) -> bool:
        c = self.calls[gid]
        done = bool(B.wasmtime_call_future_poll(c["fut"]))
        if done:
            B.wasmtime_call_future_delete(c["fut"])
            if c["trap"]:
                c["outcome"] = Outcome(
                    error=_trap_line(wasmtime.Trap._from_ptr(c["trap"]).message))
            elif c["error"]:
                c["outcome"] = Outcome(error=str(wasmtime.WasmtimeError._from_ptr(c["error"])))
            else:
                c["outcome"] = Outcome(result=c["results"][0].of.i32)
        return done

    def resume(self, gid: int) -> bool:
        """Let guest `gid` run until it suspends again; True if it finished."""
        self.ready[gid] = True
        return self._poll(gid)

    def outcome(self, gid: int) -> Outcome:
        return self.calls.pop(gid)["outcome"]


class _Guest:
    def __init__(self) -> None:
        self.resume = threading.Semaphore(0)
        self.yielded = threading.Semaphore(0)
        self.done = False
        self.outcome = Outcome()


class ThreadBackend:
    """Guests as Python threads inside sync wasm calls, one running at a time."""

    name = "threads"

    def __init__(self) -> None:
        self.engine = wasmtime.Engine()
        self.store = wasmtime.Store(self.engine)
        self.guests: dict[int, _Guest] = {}
        linker = wasmtime.Linker(self.engine)
        ty = wasmtime.FuncType([wasmtime.ValType.i32()], [])
        linker.define_func("host", "block", ty, self._block)
        inst = linker.instantiate(self.store, wasmtime.Module(self.engine, WAT))
        exports = inst.exports(self.store)
        self.funcs = _funcs(exports)

    def _block(self, gid: int) -> None:
        g = self.guests[gid]
        g.yielded.release()  # back to the scheduler
        g.resume.acquire()   # until the scheduler picks this guest again

    def _body(self, g: _Guest, func: Callable[..., Any], gid: int, n: int,
              store: wasmtime.Store | None = None) -> None:
        try:
            g.outcome = Outcome(result=func(store or self.store, gid, n))
        except Exception as e:  # a trap ends the guest, as on a fiber
            g.outcome = Outcome(error=_trap_line(str(e)))
        g.done = True
        g.yielded.release()

    def reserve(self) -> Callable[[Callable[[], None]], None]:
        """An OS thread created now, idle until handed one job.  Its stack is
        mapped above those of threads created later."""
        jobs: list[Callable[[], None]] = []
        go = threading.Semaphore(0)

        def worker() -> None:
            go.acquire()
            jobs[0]()

        threading.Thread(target=worker, daemon=True).start()

        def submit(job: Callable[[], None]) -> None:
            jobs.append(job)
            go.release()
        return submit

    def start(self, gid: int, func: str, n: int, runner: Any = None) -> bool:
        g = self.guests[gid] = _Guest()
        f = self.funcs[func]
        if runner is not None:
            runner(lambda: self._body(g, f, gid, n))
        else:
            threading.Thread(target=self._body, args=(g, f, gid, n), daemon=True).start()
        g.yielded.acquire()
        return g.done

    def resume(self, gid: int) -> bool:
        g = self.guests[gid]
        if g.done:  # it ended while starting (e.g. a trap on entry)
            return True
        g.resume.release()
        g.yielded.acquire()
        return g.done

    def outcome(self, gid: int) -> Outcome:
        return self.guests.pop(gid).outcome


class ThreadStorePerGuestBackend(ThreadBackend):
    """Threads again, but each guest in its own store: not a design (a
    component instance lives in one store), only a way to measure what an OS
    thread per suspended stack costs once the shared-store fault is removed."""

    name = "threads/store-per-guest"

    def __init__(self) -> None:
        super().__init__()
        self.module = wasmtime.Module(self.engine, WAT)
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_func("host", "block", wasmtime.FuncType(
            [wasmtime.ValType.i32()], []), self._block)

    def start(self, gid: int, func: str, n: int, runner: Any = None) -> bool:
        store = wasmtime.Store(self.engine)
        f = _funcs(self.linker.instantiate(store, self.module).exports(store))[func]
        g = self.guests[gid] = _Guest()
        threading.Thread(target=lambda: self._body(g, f, gid, n, store),
                         daemon=True).start()
        g.yielded.acquire()
        return g.done


BACKENDS = {"fibers": FiberBackend, "threads": ThreadBackend,
            "threads/store-per-guest": ThreadStorePerGuestBackend}


# ---- scenarios (each runs in a child process and returns a JSON dict) ----

def sc_roundtrip(be: Any) -> dict[str, Any]:
    """Median time of one resume -> suspend round trip of one guest."""
    n = 20000
    be.start(0, "run", n)
    times = []
    for _ in range(n):
        t = time.perf_counter_ns()
        be.resume(0)
        times.append(time.perf_counter_ns() - t)
    out = be.outcome(0)
    assert out.result == n, out.error
    times.sort()
    return {"median_us": statistics.median(times) / 1e3,
            "p90_us": times[int(len(times) * 0.9)] / 1e3}


def sc_scale(be: Any, k: int) -> dict[str, Any]:
    """k guests suspended at once, then resumed in random interleaving."""
    n = 3
    rss0, vm0 = _rss_kib()
    maps0 = _maps()
    t0 = time.perf_counter()
    live, first_error = [], ""
    for gid in range(k):
        if be.start(gid, "run", n):
            # a guest that could not even reach its first suspension
            first_error = first_error or (be.outcome(gid).error or "")
        else:
            live.append(gid)
    suspended = len(live)
    t_start = time.perf_counter() - t0
    rss1, vm1 = _rss_kib()
    maps1 = _maps()
    rnd = random.Random(k)
    t0 = time.perf_counter()
    ok = 0
    while live:
        i = rnd.randrange(len(live))
        gid = live[i]
        if be.resume(gid):
            live[i] = live[-1]
            live.pop()
            ok += be.outcome(gid).result == n
    t_resume = time.perf_counter() - t0
    return {"suspended": suspended, "ok": ok, "first_error": first_error[:40],
            "k": k, "start_s": t_start, "resume_s": t_resume,
            "rss_kib_per_guest": (rss1 - rss0) / k, "vm_kib_per_guest": (vm1 - vm0) / k,
            "rss_mib_total": (rss1 - rss0) / 1024,
            "maps_per_guest": (maps1 - maps0) / k}


def _others_then(be: Any, victim: str, runner: Any = None) -> dict[str, Any]:
    """Suspend 50 guests, let a `victim` guest fail, then finish the 50."""
    for gid in range(50):
        be.start(gid, "run", 2)
    if not be.start(1000, victim, 0, runner):
        be.resume(1000)  # fails now (trap or stack overflow)
    err = be.outcome(1000).error
    ok = 0
    for gid in range(50):
        while not be.resume(gid):
            pass
        ok += be.outcome(gid).result == 2
    # the store stays usable afterwards, with nothing suspended
    if not be.start(2000, "run", 1):
        be.resume(2000)
    after = be.outcome(2000).result
    return {"victim_error": (err or "")[:60], "others_ok": ok, "after": after}


def sc_trap(be: Any) -> dict[str, Any]:
    return _others_then(be, "boom")


def sc_overflow(be: Any) -> dict[str, Any]:
    return _others_then(be, "deep")


def sc_overflow_beside(be: Any) -> dict[str, Any]:
    """A guest overflows without suspending while 50 others are suspended,
    entered on an OS thread older than theirs (threads; fibers ignore it)."""
    return _others_then(be, "deep_now", be.reserve())


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "roundtrip": sc_roundtrip, "scale": sc_scale, "trap": sc_trap, "overflow": sc_overflow,
    "overflow_beside": sc_overflow_beside}


def _child(backend: str, scenario: str, *extra: str) -> None:
    be = BACKENDS[backend]()
    res = SCENARIOS[scenario](be, *map(int, extra))
    print(json.dumps(res), flush=True)
    os._exit(0)  # threads parked in host calls must not be joined


def _run(backend: str, scenario: str, *extra: str, timeout: float = 25) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", backend, scenario, *extra]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"crash": f"timeout after {timeout:.0f}s"}
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        if p.returncode < 0:  # killed by a signal: the process did not survive
            why = f"killed by signal {-p.returncode}"
        else:
            why = f"exit {p.returncode}: " + (p.stderr.strip().splitlines() or ["?"])[-1][:70]
        return {"crash": why, "wall_s": wall}
    res: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    return res


def _fmt(res: dict[str, Any], keys: list[str]) -> str:
    if "crash" in res:
        return "CRASH " + res["crash"]
    parts = []
    for k in keys:
        v = res.get(k)
        parts.append(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)


def main() -> None:
    from importlib.metadata import version
    print(f"wasmtime-py {version('wasmtime')}, {os.cpu_count()} cpus;"
          " every row is a separate child process\n")
    rows: list[tuple[str, str, str]] = []
    figures: dict[tuple[str, str], dict[str, Any]] = {}
    plan: list[tuple[str, tuple[str, ...], list[str]]] = [
        ("roundtrip", (), ["median_us", "p90_us"]),
        ("scale", ("1000",), ["suspended", "ok", "first_error", "start_s", "resume_s", "rss_kib_per_guest",
                              "vm_kib_per_guest", "maps_per_guest"]),
        ("scale", ("10000",), ["suspended", "ok", "start_s", "resume_s", "rss_mib_total",
                               "rss_kib_per_guest"]),
        ("trap", (), ["victim_error", "others_ok", "after"]),
        ("overflow", (), ["victim_error", "others_ok", "after"]),
        ("overflow_beside", (), ["victim_error", "others_ok", "after"]),
    ]
    for scenario, extra, keys in plan:
        label = scenario + (" " + extra[0] if extra else "")
        for backend in BACKENDS:
            res = _run(backend, scenario, *extra)
            figures[(label, backend)] = res
            rows.append((label, backend, _fmt(res, keys)))
            print(f"{label:<15} {backend:<23} {rows[-1][2]}", flush=True)
    print("\nratios thread variant / fibers (> 1: fibers better):")
    for label, key in [("roundtrip", "median_us"), ("scale 1000", "start_s"),
                       ("scale 1000", "rss_kib_per_guest"), ("scale 10000", "start_s"),
                       ("scale 10000", "resume_s"), ("scale 10000", "rss_kib_per_guest")]:
        f = figures[(label, "fibers")].get(key)
        for backend in list(BACKENDS)[1:]:
            res = figures[(label, backend)]
            t = res.get(key)
            if res.get("suspended", 1) <= 1 and label.startswith("scale"):
                t = None  # nothing interleaved: the figure means nothing
            if isinstance(f, float) and isinstance(t, float) and f > 0:
                print(f"  {label:<12} {key:<18} {backend:<23} fibers={f:9.2f}"
                      f" threads={t:9.2f} ratio={t / f:6.1f}")
            else:
                fs = f"{f:9.2f}" if isinstance(f, float) else str(f)
                print(f"  {label:<12} {key:<18} {backend:<23} fibers={fs}"
                      " threads=n/a (at most one guest could suspend)")

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:])
    else:
        main()
