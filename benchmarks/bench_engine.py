"""Micro-benchmark of the raw core call path against ``wasmtime.Func.__call__``.

Run: ``PYTHONPATH=src python benchmarks/bench_engine.py [--number N]``.
Prints microseconds per call for each variant; the "floor" row is the bare
ctypes call of ``wasmtime_func_call_unchecked`` with pre-built arguments, the
least any Python-level caller can pay.
"""

from __future__ import annotations

import argparse
import ctypes
import timeit
from typing import Callable

import wasmtime

from wasmcomponent._engine import core
from wasmcomponent._engine.core import RawFunc, make_host_func
from wasmcomponent._engine.memory import GuestMemory

WAT = """(module
  (import "host" "add" (func $host_add (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "nop"))
  (func (export "call_host") (param i32 i32) (result i32) local.get 0 local.get 1 call $host_add))
"""


def measure(label: str, fn: Callable[[], object], number: int) -> float:
    best = min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6
    print(f"{label:55s} {best:8.3f} us")
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--number", type=int, default=100_000)
    number = parser.parse_args().number

    store = wasmtime.Store()
    module = wasmtime.Module(store.engine, WAT)

    def py_add(a: int, b: int) -> int:
        return a + b

    # Two instances: one importing a wasmtime.Func, one our unchecked host func.
    wt_host = wasmtime.Func(
        store, wasmtime.FuncType([wasmtime.ValType.i32()] * 2, [wasmtime.ValType.i32()]), py_add
    )
    raw_host = make_host_func(store, ["i32", "i32"], ["i32"], py_add)
    wt_exports = wasmtime.Instance(store, module, [wt_host]).exports(store)
    raw_exports = wasmtime.Instance(store, module, [raw_host]).exports(store)

    wt_add = wt_exports["add"]
    assert isinstance(wt_add, wasmtime.Func)
    raw_add = RawFunc(store, wt_add)
    call = raw_add.call

    print("add(i32, i32) -> i32")
    floor_args = (
        core._record(store).ctx_arg,
        ctypes.c_void_p(ctypes.addressof(raw_add._func)),
        ctypes.c_void_p(ctypes.addressof(raw_add._buffer)),
        ctypes.c_size_t(2),
        ctypes.c_void_p(ctypes.addressof(raw_add._buffer) + 2 * 16),
    )
    unchecked = core._call_unchecked
    t_wt = measure("wasmtime.Func.__call__(store, 1, 2)", lambda: wt_add(store, 1, 2), number)
    t_floor = measure(
        "floor: bare ctypes wasmtime_func_call_unchecked", lambda: unchecked(*floor_args), number
    )
    measure("RawFunc.__call__(1, 2)", lambda: raw_add(1, 2), number)
    t_call = measure("RawFunc.call(1, 2)  (bound generated function)", lambda: call(1, 2), number)
    print(
        f"  RawFunc.call / floor = {t_call / t_floor:.2f}x;  wasmtime / RawFunc.call = {t_wt / t_call:.1f}x"
    )

    print("wasm -> host add(i32, i32) -> i32, entered through RawFunc")
    wt_via = RawFunc(store, wt_exports["call_host"])  # type: ignore[arg-type]
    raw_via = RawFunc(store, raw_exports["call_host"])  # type: ignore[arg-type]
    wt_via_call, raw_via_call = wt_via.call, raw_via.call
    t_wt_host = measure("host func made by wasmtime.Func", lambda: wt_via_call(1, 2), number)
    t_raw_host = measure("host func made by make_host_func", lambda: raw_via_call(1, 2), number)
    print(
        f"  host call overhead beyond the raw call: wasmtime {t_wt_host - t_call:.3f} us, ours {t_raw_host - t_call:.3f} us"
    )

    print("memory")
    memory_extern = raw_exports["memory"]
    assert isinstance(memory_extern, wasmtime.Memory)
    memory = GuestMemory(store, memory_extern)
    measure("GuestMemory.view()", memory.view, number)
    measure("GuestMemory.size()", memory.size, number)
    measure("GuestMemory.read(100, 16)", lambda: memory.read(100, 16), number)
    measure(
        "GuestMemory.write(100, 16 bytes)", lambda: memory.write(100, b"0123456789abcdef"), number
    )
    measure(
        "wasmtime.Memory.read(store, 100, 116)", lambda: memory_extern.read(store, 100, 116), number
    )


if __name__ == "__main__":
    main()
