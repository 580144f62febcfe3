"""Suspendable core functions: how a blocking built-in stops its fiber.

A blocking built-in (``waitable-set.wait``, a sync ``stream.read``, a
sync-lowered call that must wait, ``thread.suspend``, ...) is a small
generated core function, one module per core signature, that calls three
plain host functions and one async one::

    (func (export "f") (param ...) (result ...)
      (if (call $begin (local.get 0) ...)          ;; 1: the built-in must block
        (then (loop $again
          (call $suspend)                           ;; the fiber stops here
          (br_if $again (call $step)))))            ;; 1: blocked again
      (call $finish))                               ;; the results

Only ``$suspend`` is an async host function (``fibers.blocking_func``), and
wasm reaches it only when ``begin`` decided to block *and* the caller runs on
a fiber whose poll frame lies directly below (``called_from_poll``).  An
async host function reached outside a fiber aborts the process inside
wasmtime before any Python code runs; with this shape that cannot happen:
synchronous callers of the same built-in only ever call the three sync
imports.  Traps and Python exceptions raised by ``begin``, ``step`` or
``finish`` are ordinary host-function traps.
"""

from __future__ import annotations

import sys
import weakref
from functools import cache
from typing import Any, Callable, Sequence

import wasmtime

from .core import make_host_func

__all__ = ["suspendable_func", "called_from_poll"]


@cache
def _shim_text(params: tuple[str, ...], results: tuple[str, ...]) -> str:
    ps = " ".join(params)
    rs = " ".join(results)
    gets = " ".join(f"(local.get {i})" for i in range(len(params)))
    return (
        "(module"
        f' (import "" "begin" (func $begin (param {ps}) (result i32)))'
        ' (import "" "suspend" (func $suspend))'
        ' (import "" "step" (func $step (result i32)))'
        f' (import "" "finish" (func $finish (result {rs})))'
        f' (func (export "f") (param {ps}) (result {rs})'
        f"  (if (call $begin {gets}) (then (loop $again (call $suspend) (br_if $again (call $step)))))"
        "  (call $finish)))"
    )


# Compiled shims per engine (weakly: an engine's id may be reused after it is freed).
_MODULES: weakref.WeakKeyDictionary[wasmtime.Engine, dict[tuple[tuple[str, ...], tuple[str, ...]], wasmtime.Module]]
_MODULES = weakref.WeakKeyDictionary()


def _shim_module(engine: wasmtime.Engine, params: tuple[str, ...], results: tuple[str, ...]) -> wasmtime.Module:
    modules = _MODULES.get(engine)
    if modules is None:
        modules = _MODULES[engine] = {}
    module = modules.get((params, results))
    if module is None:
        module = modules[(params, results)] = wasmtime.Module(engine, _shim_text(params, results))
    return module


class _StopOnce:
    """The suspension of ``$suspend``: not ready when first polled, ready on the next poll.

    The scheduler polls a suspended fiber only to resume it, so the second
    poll always means "go on".
    """

    __slots__ = ("polled",)

    def __init__(self) -> None:
        self.polled = False

    def ready(self) -> bool:
        if self.polled:
            return True
        self.polled = True
        return False

    def finish(self) -> tuple:
        return ()


def _suspend_func(store: Any) -> wasmtime.Func:
    from .core import store_state
    from .fibers import blocking_func

    holder = store_state(store, _SuspendHolder)
    if holder.func is None:
        holder.func = blocking_func(store, (), (), lambda: _StopOnce())
    return holder.func


class _SuspendHolder:
    __slots__ = ("func",)

    def __init__(self) -> None:
        self.func: Any = None


def suspendable_func(
    store: Any,
    engine: wasmtime.Engine,
    params: Sequence[str],
    results: Sequence[str],
    begin: Callable[..., int],
    step: Callable[[], int],
    finish: Callable[[], Any],
) -> wasmtime.Func:
    """A core function ``params -> results`` built from the three callbacks above.

    ``begin(*args)`` returns 1 to suspend the calling fiber (then ``step()``
    runs after each resumption and returns 1 to suspend again), 0 when the
    results are ready; ``finish()`` returns them (None, one value or a
    sequence, as for ``make_host_func``).
    """
    params, results = tuple(params), tuple(results)
    module = _shim_module(engine, params, results)
    imports = [
        make_host_func(store, params, ("i32",), begin),
        _suspend_func(store),
        make_host_func(store, (), ("i32",), step),
        make_host_func(store, (), results, finish),
    ]
    instance = wasmtime.Instance(store, module, imports)
    func = instance.exports(store)["f"]
    assert isinstance(func, wasmtime.Func)
    return func


_SKIPPED_FILES = ("fibers.py",)


def called_from_poll(poll_frame: Any, depth: int = 1) -> bool:
    """Whether the host callback ``depth`` frames up was called by wasm polled from ``poll_frame``.

    Between a host callback and the frame that polls the fiber there are
    only the generated host trampoline and ``fibers``' own frames when no
    other Python code made a nested core call in between; any other frame
    means Python frames would be left on the fiber if it suspended.
    """
    if poll_frame is None:
        return False
    frame: Any = sys._getframe(depth + 1)
    for _ in range(8):
        if frame is None:
            return False
        if frame is poll_frame:
            return True
        code = frame.f_code
        name = code.co_filename
        if not (name.startswith("<host ") or name.endswith(_SKIPPED_FILES)):
            return False
        frame = frame.f_back
    return False
