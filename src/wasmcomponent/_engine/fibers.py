"""Suspendable core calls: wasmtime fibers driven from Python (issue #12 point 4).

The async runtime needs to stop a guest in the middle of a core call (a
stackful ``waitable-set.wait``, a sync-lowered call to a blocking callee, a
sync ``stream.read`` with no writer, ``thread.*``) and resume it later from a
Python scheduler.  This module gives it that primitive on wasmtime's own
fibers (``wasmtime_func_call_async`` + ``wasmtime_call_future_poll``), as the
spike ``benchmarks/spike_suspend.py`` chose:

* :class:`FiberCall` -- one call of a core function on a fiber of its own.
  ``poll()`` runs it until it finishes or suspends (True once finished);
  ``result()`` gives the raw core results as a tuple, or raises exactly what
  :class:`~._engine.core.RawFunc` raises for the same failure;
  ``close()`` deletes the call (also when collected; an unfinished one too).
* :func:`blocking_func` -- a core function whose Python ``begin(*args)`` either
  returns its results at once or returns a :class:`Suspension`; the calling
  fiber then stays suspended (``poll()`` returns False) until, on some later
  poll, ``suspension.ready()`` is true; ``suspension.finish()`` then gives the
  results (or raises: a trap for the guest, re-raised by ``result()``).
* :func:`can_suspend` -- whether the ``begin`` running now may return a
  :class:`Suspension`.
* :func:`in_fiber` -- whether a poll of the store is running (so wasm
  entered now runs on a fiber).
* :func:`on_fiber` -- run a Python function so that the core calls it makes
  (through :class:`RawFunc`: checked calls are refused on a fiber) happen on
  a fiber, which is what a blocking function needs even when it completes at
  once.
* :func:`set_async_stack_size` -- the fiber stack size of an engine config.

Example (``wait`` suspends its caller until the host opens the gate):

>>> store = wasmtime.Store()
>>> WAT = '''(module
...   (import "" "wait" (func $wait (param i32) (result i32)))
...   (func (export "run") (param i32) (result i32)
...     (i32.add (call $wait (local.get 0)) (i32.const 1))))'''
>>> class Later:  # a Suspension
...     def __init__(self, x): self.x, self.go = x, False
...     def ready(self): return self.go
...     def finish(self): return (self.x * 10,)
>>> pending = []
>>> def begin(x):
...     if not can_suspend(store):  # below a Python host frame: answer now
...         return (x,)
...     pending.append(Later(x))
...     return pending[-1]
>>> wait = blocking_func(store, ("i32",), ("i32",), begin)
>>> module = wasmtime.Module(store.engine, WAT)
>>> run = wasmtime.Instance(store, module, [wait]).exports(store)["run"]
>>> call = FiberCall(store, run, (4,))
>>> call.poll()  # suspended inside `wait`
False
>>> pending[0].go = True
>>> call.poll(), call.result()
(True, (41,))
>>> call.close()
>>> from wasmcomponent._engine import RawFunc
>>> on_fiber(store, lambda: RawFunc(store, run)(4))  # on a fiber, but cannot suspend
5

The rules that keep the process alive
-------------------------------------
1. **A blocking function must only run on a fiber of its store.**  Wasmtime
   aborts the whole process (a Rust panic, before any callback of ours runs)
   when an async host function is reached outside a fiber.  So *a blocking
   function may only be imported by core instances whose every entry is made
   through* :class:`FiberCall` *or inside* :func:`on_fiber`.  Enforced by
   construction: what :func:`blocking_func` returns is not the async host
   function itself but a tiny wasm wrapper that first reads a per-store i32
   global, set while a :class:`FiberCall` of the store is being polled, and
   when it is clear calls a sync host function that raises
   :class:`SuspensionError` (a trap, re-raised by the entry point: the
   instance's start function, a ``RawFunc`` call, ...) instead of reaching the
   async function.  The cost is one ``wasmtime_global_set`` when the outermost
   poll of a store begins and one when it ends (about 0.35 us each, measured
   0.65-0.8 us of a 4 us suspend+resume), paid only by stores that have
   guarded blocking functions, and nothing on the sync paths.  (A one-page
   memory as the flag would be written for 30 ns, but reserves 4 GiB of
   address space per store.)  ``blocking_func(..., guard=False)`` skips it
   for callers that check by themselves.
2. **No Python frame may be live on a fiber's stack when it suspends.**
   CPython's frame stack belongs to the thread, not to the C stack, so a fiber
   that suspends below a Python host callback (which made a nested sync core
   call that reached a blocking function) would corrupt it.  A ``begin`` may
   therefore return a :class:`Suspension` only when :func:`can_suspend` is
   true; otherwise the call traps with :class:`SuspensionError` (our bug: the
   scheduler must ask first and fall back to a nested loop).

How "directly below a poll" is detected
---------------------------------------
Not with a counter (every Python host callback would have to maintain it,
which costs the sync fast paths of ``core``), but from the frames themselves,
which costs nothing until it is asked: a ctypes callback's frame has as
``f_back`` the Python frame that made the native call under it.  The native
callback of every blocking function is one Python function; when wasm polled
by :meth:`FiberCall.poll` calls it with only wasm (and wasmtime) frames in
between, its ``f_back`` is that ``poll`` frame; when a Python host callback
sits in between, ``f_back`` is that callback's nested call (``RawFunc``'s
``raw_call`` and so on).  So the callback checks one code object when
``begin`` returns a :class:`Suspension`, and :func:`can_suspend` walks up from
its caller to the nearest frame where native code entered Python: it must be
that callback (of this store), directly below a ``poll``.  The entries it
recognises are the blocking callback, the continuation, the host
trampolines of ``core`` and of wasmtime-py (both functions named
``trampoline``) and :meth:`FiberCall.poll`.

Lifetimes and other rules
-------------------------
* A :class:`FiberCall` keeps its store-like and every ctypes buffer the native
  future points to until the future is deleted: at completion (at once, so
  the fiber stack is freed early), on :meth:`FiberCall.close` or on
  collection.  A future deleted while a poll of its store is running is
  deleted when the outermost poll returns.  One still open when its store is
  freed is leaked, never deleted (deleting it would touch the freed store):
  close calls before closing their store.
* The outcome of a finished call is collected the moment ``poll`` returns
  True, because the pending-exception slot of the store record is shared by
  every fiber of the store.
* Blocking functions, their linker (one ``wasmtime.Linker`` per store, names
  made unique by a counter), the guard and the on-fiber thunk live as long as
  the store; their entries are released with it, as ``core``'s host functions.
* Creating the first blocking function of a store needs its engine: it is
  known when the store was first seen by ``_engine`` as a ``wasmtime.Store``;
  otherwise pass a ``wasmtime.Store`` or ``engine=``.
* **On a fiber, wasmtime refuses every checked entry into wasm**:
  ``wasmtime.Func.__call__``, ``wasmtime.Instance(...)``, ``Linker.instantiate``
  and ``_engine.core.instantiate`` fail with "cannot do blocking `call` from
  an async context".  Unchecked calls (:class:`RawFunc`) work.  So code that
  may run on a fiber (any host function of an async-using store,
  :func:`on_fiber`'s ``fn``) must call wasm through :class:`RawFunc` and must
  not instantiate (:func:`blocking_func` itself instantiates its guard through
  wasmtime's async instantiation when on a fiber).
* **Python code on a fiber runs on the fiber's C stack** (wasmtime's
  ``async_stack_size``, 2 MiB by default, shared with the wasm frames).
  Python -> C -> Python recursion (``sorted(key=...)``, dunder methods,
  ``__init__`` through ``type.__call__``) costs about 2.3 KiB per level here:
  a few hundred levels fit, about 900 overflow it and wasmtime aborts the
  process ("execution on async fiber has overflowed its stack").  Python's
  default recursion limit (1000 frames) stops that pattern first (two frames
  a level), but not code whose levels use more C stack, nor a program that
  raised the limit.  Engines made by wasmcomponent itself should set
  a larger one with :func:`set_async_stack_size` (address space only).
* An embedder's fuel or epoch *async yield* makes ``poll`` return False with
  no blocking function involved: polling again continues the call.
* Not thread-safe, like stores.  One native async callback, one continuation
  and one finalizer serve every blocking function (the ``env`` wasmtime
  passes back is a small integer key).
"""

from __future__ import annotations

import ctypes
import itertools
import struct
import sys
import weakref
from typing import Any, Callable, Protocol, Sequence, TypeVar, Union

import wasmtime
from wasmtime import _ffi as ffi

from ..types.model import CoreFuncType
from .core import (
    _ENGINE_FUNCTYPES,
    _HOST_ENTRIES,
    Storelike,
    _check_numeric,
    _core_functype,
    _raise_failure,
    _record,
    _store_closed,
    _StoreRecord,
    _trap_new,
    make_host_func,
)

__all__ = [
    "FiberCall",
    "Suspension",
    "SuspensionError",
    "blocking_func",
    "can_suspend",
    "in_fiber",
    "on_fiber",
    "set_async_stack_size",
]

T = TypeVar("T")
Number = Union[int, float]

_vp = ctypes.c_void_p
_dll = ffi.dll


def _proto(name: str, restype: Any, *argtypes: Any) -> Any:
    fn = _dll[name]
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


_call_async = _proto(
    "wasmtime_func_call_async", _vp, _vp, _vp, _vp, ctypes.c_size_t, _vp, ctypes.c_size_t, _vp, _vp
)
_future_poll = _proto("wasmtime_call_future_poll", ctypes.c_bool, _vp)
_future_delete = _proto("wasmtime_call_future_delete", None, _vp)
_FINALIZER = ctypes.CFUNCTYPE(None, _vp)
_define_async = _proto(
    "wasmtime_linker_define_async_func",
    _vp, _vp, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, _vp, _vp, _vp, _vp,
)
_linker_get = _proto(
    "wasmtime_linker_get", ctypes.c_bool, _vp, _vp, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
    ctypes.c_size_t, _vp,
)
_global_set = _proto("wasmtime_global_set", _vp, _vp, _vp, _vp)
_stack_size_set = _proto("wasmtime_config_async_stack_size_set", None, _vp, ctypes.c_size_t)
_instantiate_async = _proto("wasmtime_linker_instantiate_async", _vp, _vp, _vp, _vp, _vp, _vp, _vp)

# wasmtime_val_t: a kind byte, then the value at offset 8; 32 bytes each.
_VAL = ctypes.sizeof(ffi.wasmtime_val_t)
_KINDS = {"i32": 0, "i64": 1, "f32": 2, "f64": 3}
_READ_CODES = {"i32": "i", "i64": "q", "f32": "f", "f64": "d"}
_WRITE_CODES = {"i32": "I", "i64": "Q", "f32": "f", "f64": "d"}
_MASKS = {"i32": 0xFFFFFFFF, "i64": 0xFFFFFFFFFFFFFFFF, "f32": 0, "f64": 0}
_TRAP_MESSAGE = b"python exception in host function"


class SuspensionError(AssertionError):
    """A fiber rule was broken (a bug of the caller, never of the guest).

    Raised (as the trapping call's exception) when a blocking function is
    reached outside a fiber of its store, or when ``begin`` returns a
    :class:`Suspension` where :func:`can_suspend` is false.
    """


class Suspension(Protocol):
    """What ``begin`` returns to suspend the calling fiber.

    ``ready()`` is called once right after ``begin`` returns the suspension
    (wasmtime polls the continuation at once: a suspension already ready
    costs no fiber switch) and then each time the suspended fiber is polled;
    while it is false the fiber stays suspended.  Once it is true, ``finish()`` is called
    once and returns the core results (a sequence, ``None`` for none); any
    exception it (or ``ready``) raises becomes a trap in the guest and is
    re-raised unchanged by :meth:`FiberCall.result`.  Neither may call into
    wasm of the store that could suspend (they run on the fiber, below no
    ``poll`` of their own).
    """

    def ready(self) -> bool: ...

    def finish(self) -> Sequence[Number] | None: ...


# ---------------------------------------------------------------------------
# wasmtime_val_t arrays of one signature


class _ValCodec:
    """Read and write ``wasmtime_val_t`` arrays of one list of core types."""

    __slots__ = ("types", "count", "array", "write", "_read", "_pack", "_kinds", "_masks")

    def __init__(self, types: tuple[str, ...]) -> None:
        self.types = types
        self.count = len(types)
        self.array = ctypes.c_ubyte * max(_VAL * len(types), 1)
        read = "<" + "".join(f"8x{_READ_CODES[t]}{_VAL - 8 - struct.calcsize(_READ_CODES[t])}x" for t in types)
        write = "<" + "".join(f"B7x{_WRITE_CODES[t]}{_VAL - 8 - struct.calcsize(_WRITE_CODES[t])}x" for t in types)
        self._read = struct.Struct(read).unpack_from
        self._pack = struct.Struct(write).pack_into
        self._kinds = tuple(_KINDS[t] for t in types)
        self._masks = tuple(_MASKS[t] for t in types)
        self.write: Callable[[Any, int, Sequence[Number] | None], None] = self._fast_writer()

    def read(self, address: int) -> tuple[Number, ...]:
        """The values at ``address`` (integers signed)."""
        if not self.count:
            return ()
        return self._read(self.array.from_address(address))

    def _fast_writer(self) -> Callable[[Any, int, Sequence[Number] | None], None]:
        """``write(target, offset, values)``: straight-line code for this signature.

        Anything unusual (a wrong count or type, ``None``, an f32 out of range)
        falls back to :meth:`_checked_write`, which raises the clear error or
        converts as C does.
        """
        names = [f"v{i}" for i in range(self.count)]
        packed = "".join(
            f", {kind}, {name}" + (f" & {mask:#x}" if mask else "")
            for kind, mask, name in zip(self._kinds, self._masks, names, strict=True)
        )
        if self.count:
            body = [f"            {''.join(n + ', ' for n in names)}= values", f"            pack(target, offset{packed})"]
        else:
            body = ["            if values:", "                slow(target, offset, values)"]
        lines = [
            "def make(pack, slow, errors):",
            "    def write(target, offset, values):",
            "        try:",
            *body,
            "        except errors:",
            "            slow(target, offset, values)",
            "    return write",
        ]
        namespace: dict[str, Any] = {}
        exec(compile("\n".join(lines), f"<fiber values {self.types}>", "exec"), namespace)
        maker: Callable[..., Callable[[Any, int, Sequence[Number] | None], None]] = namespace["make"]
        return maker(self._pack, self._checked_write, (TypeError, ValueError, OverflowError, struct.error))

    def _checked_write(self, target: Any, offset: int, values: Sequence[Number] | None) -> None:
        """Store ``values`` (kind and value) into ``target`` (a ctypes buffer) at ``offset``."""
        if values is None:
            values = ()
        if len(values) != self.count:
            raise TypeError(f"expected {self.count} core values {self.types}, got {len(values)}")
        flat: list[Number] = []
        for kind, mask, value, ty in zip(self._kinds, self._masks, values, self.types, strict=True):
            if mask:
                if not isinstance(value, int):
                    raise TypeError(f"expected an integer for {ty}, got {type(value).__name__}")
                value &= mask
            elif not isinstance(value, (int, float)):
                raise TypeError(f"expected a number for {ty}, got {type(value).__name__}")
            elif ty == "f32":
                value = ctypes.c_float(value).value  # C rounding: overflow gives infinity
            flat += (kind, value)
        self._pack(target, offset, *flat)


_CODECS: dict[tuple[str, ...], _ValCodec] = {}


def _codec(types: tuple[str, ...]) -> _ValCodec:
    codec = _CODECS.get(types)
    if codec is None:
        codec = _CODECS[types] = _ValCodec(types)
    return codec


# ---------------------------------------------------------------------------
# Per-store state


class _FiberState:
    """What this module attaches to a store (through the store record's ``states``)."""

    __slots__ = (
        "polls", "deferred", "engine", "linker", "flag", "flag_values", "flag_on", "flag_off", "fail", "thunk",
        "thunk_fns", "shapes", "__weakref__",
    )

    def __init__(self) -> None:
        # The FiberCalls being polled, innermost last: non-empty means "on a fiber".
        self.polls: list[FiberCall] = []
        # Futures whose deletion waits for the outermost poll to return.
        self.deferred: list[tuple[int, Any]] = []
        self.engine: wasmtime.Engine | None = None
        self.linker: wasmtime.Linker | None = None
        # The guard's "on a fiber" global and the native arguments that set it.
        self.flag: wasmtime.Global | None = None
        self.flag_on: tuple[Any, ...] | None = None
        self.flag_off: tuple[Any, ...] = ()
        self.flag_values: list[Any] = []
        self.fail: wasmtime.Func | None = None
        self.thunk: wasmtime.Func | None = None
        self.thunk_fns: list[Callable[[], None]] = []
        # Call layout of each function called through FiberCall, by its raw bytes.
        self.shapes: dict[bytes, _CallShape] = {}


def _state(record: _StoreRecord) -> _FiberState:
    states = record.states
    state: _FiberState | None = states.get(_FiberState)
    if state is None:
        if record.closed:
            _store_closed()
        state = states[_FiberState] = _FiberState()
    return state


def _engine_of(
    state: _FiberState, record: _StoreRecord, store: Storelike, engine: wasmtime.Engine | None
) -> wasmtime.Engine:
    if engine is None:
        engine = state.engine or getattr(store, "engine", None)
    if engine is None and record.shared_functypes is not None:
        # A record made from a ``Store`` shares its engine's function types: find that engine.
        for known, functypes in list(_ENGINE_FUNCTYPES.items()):
            if functypes is record.shared_functypes:
                engine = known
                break
    if not isinstance(engine, wasmtime.Engine):
        raise TypeError("the store's engine is needed here: pass a wasmtime.Store or engine=")
    state.engine = engine
    return engine


# ---------------------------------------------------------------------------
# FiberCall

_FUNC_SIZE = ctypes.sizeof(ffi.wasmtime_func_t)


class _CallShape:
    """The buffer layout of calls of one core signature: args | results | trap | error | function."""

    __slots__ = ("params", "results", "rbase", "tbase", "buffer", "failure")

    def __init__(self, params: _ValCodec, results: _ValCodec) -> None:
        self.params = params
        self.results = results
        self.rbase = params.count * _VAL
        self.tbase = self.rbase + results.count * _VAL
        self.buffer = ctypes.c_ubyte * (self.tbase + 16 + _FUNC_SIZE)
        # The trap and error pointers written by wasmtime when the call fails.
        self.failure = struct.Struct(f"<{self.tbase}xQQ").unpack_from


_OUTCOME_PENDING = object()


class FiberCall:
    """One call of a core ``wasmtime.Func`` on a wasmtime fiber (see the module docstring).

    ``FiberCall(store, func, args)`` prepares the call (nothing runs yet);
    arguments are raw core values, integers masked to their width.
    """

    __slots__ = (
        "_store", "_record", "_state", "_buffer", "_future", "_shape",
        "_running", "_outcome", "__weakref__",
    )

    def __init__(self, store: Storelike, func: wasmtime.Func, args: Sequence[Number] = ()) -> None:
        if not isinstance(func, wasmtime.Func):
            raise TypeError(f"expected a wasmtime.Func, got {type(func).__name__}")
        record = _record(store)
        if record.closed:
            _store_closed()
        raw = func._func
        if raw.store_id != record.store_id:
            raise ValueError("the function belongs to a different store")
        state = _state(record)
        key = bytes(raw)
        shape = state.shapes.get(key)
        if shape is None:
            functype = _core_functype(func.type(store))
            _check_numeric(functype)
            shape = state.shapes[key] = _CallShape(_codec(functype.params), _codec(functype.results))
            if state.engine is None and isinstance(getattr(store, "engine", None), wasmtime.Engine):
                state.engine = store.engine  # type: ignore[union-attr]
        params = shape.params
        if len(args) != params.count:
            raise TypeError(f"expected {params.count} arguments, got {len(args)}")
        buffer = shape.buffer()
        base = ctypes.addressof(buffer)
        tbase = shape.tbase
        params.write(buffer, 0, args)
        ctypes.memmove(base + tbase + 16, ctypes.addressof(raw), _FUNC_SIZE)
        self._store = store  # the future borrows the store: keep a Store alive
        self._record = record
        self._state = state
        self._buffer: Any = buffer
        self._shape = shape
        self._running = False
        self._outcome: Any = _OUTCOME_PENDING
        self._future: int = _call_async(
            record.key, base + tbase + 16, base, params.count, base + shape.rbase, shape.results.count,
            base + tbase, base + tbase + 8,
        )

    def poll(self) -> bool:
        """Run the call until it finishes or suspends; True once it has finished.

        Polling a finished call returns True again; polling a call from its own
        fiber raises ``RuntimeError``.
        """
        if self._outcome is not _OUTCOME_PENDING:
            return True
        if self._running:
            raise RuntimeError("this call is already running (polled from its own fiber)")
        if self._record.closed:
            _store_closed()
        if not self._future:
            raise RuntimeError("this call was closed before it finished")
        state = self._state
        polls = state.polls
        polls.append(self)
        if state.flag_on is not None and len(polls) == 1:
            _global_set(*state.flag_on)
        self._running = True
        try:
            # Blocking callbacks compare their f_back with this frame's code:
            # the native poll must be called from this very function.
            done = _future_poll(self._future)
        finally:
            self._running = False
            polls.pop()
            if not polls:
                if state.flag_on is not None:
                    _global_set(*state.flag_off)
                if state.deferred:
                    _delete_deferred(state)
        if done:
            self._finish()
        return bool(done)

    def _finish(self) -> None:
        """Collect the outcome now (the store's pending slot is shared) and free the fiber."""
        buffer = self._buffer
        shape = self._shape
        trap, error = shape.failure(buffer)
        future, self._future = self._future, 0
        _future_delete(future)
        if trap or error:
            try:
                _raise_failure(self._record, error, trap)
            except BaseException as failure:  # noqa: BLE001 - stored and re-raised by result()
                self._outcome = failure
        else:
            self._outcome = shape.results.read(ctypes.addressof(buffer) + shape.rbase)
        self._buffer = None

    @property
    def done(self) -> bool:
        """Whether the call has finished (its outcome is known)."""
        return self._outcome is not _OUTCOME_PENDING

    def result(self) -> tuple[Number, ...]:
        """The raw core results (integers signed), or the call's failure raised.

        A trap raises :class:`~wasmcomponent.errors.ComponentTrap`, an exception
        raised by a host callback during the call is re-raised unchanged, other
        failures raise ``wasmtime.WasmtimeError``: as :class:`RawFunc` would.
        Raises ``RuntimeError`` before the call has finished.
        """
        outcome = self._outcome
        if outcome is _OUTCOME_PENDING:
            raise RuntimeError("the call has not finished: poll() it until it returns True")
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    def close(self) -> None:
        """Delete the native call (idempotent); an unfinished one is abandoned.

        Raises ``RuntimeError`` when called from the call's own fiber.
        """
        future = self._future
        if not future:
            return
        if self._running:
            raise RuntimeError("a call cannot be closed while it is running")
        self._future = 0
        buffer, self._buffer = self._buffer, None
        if self._record.closed:
            return  # leaked on purpose: deleting it would touch the freed store
        state = self._state
        if state.polls:
            # A fiber of this store is running (we are on it): delete later, from the bottom.
            state.deferred.append((future, buffer))
            return
        _future_delete(future)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - nothing can be reported from a finalizer
            pass

    def __repr__(self) -> str:
        status = "running" if self._running else "finished" if self.done else "suspended"
        return f"<FiberCall {status}>"


def _delete_deferred(state: _FiberState) -> None:
    deferred, state.deferred = state.deferred, []
    for future, _buffer in deferred:
        _future_delete(future)


_POLL_CODE = FiberCall.poll.__code__


# ---------------------------------------------------------------------------
# Blocking functions


# wasmtime_async_continuation_t: callback, env, finalizer (three pointers).
_CONT_ARRAY = ctypes.c_ubyte * 24
_CONT_PACK = struct.Struct("<QQQ").pack_into
_SLOTS = _HOST_ENTRIES.slots  # core's host entries (never replaced, only mutated)


# Suspended blocking calls by the key carried in the continuation's env:
# (suspension, record, result codec, results address, trap_ret address).
_SUSPENDED: dict[int, tuple[Any, _StoreRecord, _ValCodec, int, int]] = {}
_KEYS = itertools.count(1)


def _write_trap(record: _StoreRecord | None, trap_ret: int, exc: BaseException) -> None:
    if record is not None:
        record.pending = exc
    _vp.from_address(trap_ret).value = _trap_new(_TRAP_MESSAGE, len(_TRAP_MESSAGE))


def _block_callback(
    env: int | None, caller: int, args: int, nargs: int, results: int, nresults: int, trap_ret: int, cont: int
) -> None:
    """The native callback of every blocking function: calls ``begin`` (never raises)."""
    # First of all: wasmtime panics if the continuation is left unset.
    _CONT_PACK(_CONT_ARRAY.from_address(cont), 0, _RESUME_ADDRESS, 0, 0)
    record = None
    try:
        begin, record, params, codec = _SLOTS[env or 0]  # type: ignore[misc]
        outcome = begin(*params.read(args)) if nargs else begin()
        if outcome is None or outcome.__class__ is tuple or isinstance(outcome, (tuple, list)):
            codec.write(codec.array.from_address(results) if nresults else None, 0, outcome)
            return
        if not hasattr(outcome, "ready"):
            raise TypeError(
                f"a blocking function's begin returned {type(outcome).__name__}: "
                "expected a tuple or list of results, None or a Suspension"
            )
        if sys._getframe(1).f_code is not _POLL_CODE:
            raise SuspensionError(
                "a blocking function tried to suspend below a Python host frame (check can_suspend first)"
            )
        key = next(_KEYS)
        _SUSPENDED[key] = (outcome, record, codec, results, trap_ret)
        _CONT_PACK(_CONT_ARRAY.from_address(cont), 0, _RESUME_ADDRESS, key, _DROPPED_ADDRESS)
    except BaseException as exc:  # noqa: BLE001 - becomes the guest's trap
        _write_trap(record, trap_ret, exc)


def _resume(env: int | None) -> bool:
    """The continuation of every blocking call: True once its results are written."""
    if not env:
        return True  # completed at once
    entry = _SUSPENDED.get(env)
    if entry is None:
        return True
    suspension, record, codec, results, trap_ret = entry
    try:
        if not suspension.ready():
            return False
        del _SUSPENDED[env]
        codec.write(codec.array.from_address(results) if codec.count else None, 0, suspension.finish())
    except BaseException as exc:  # noqa: BLE001 - becomes the guest's trap
        _SUSPENDED.pop(env, None)
        _write_trap(record, trap_ret, exc)
    return True


def _dropped(env: int | None) -> None:
    """Finalizer of a suspended call's continuation (also when its future is deleted early)."""
    if env:
        _SUSPENDED.pop(env, None)


_BLOCK_NATIVE = ctypes.CFUNCTYPE(None, _vp, _vp, _vp, ctypes.c_size_t, _vp, ctypes.c_size_t, _vp, _vp)(
    _block_callback
)
_BLOCK_ADDRESS = ctypes.cast(_BLOCK_NATIVE, _vp).value
_RESUME_NATIVE = ctypes.CFUNCTYPE(ctypes.c_bool, _vp)(_resume)
_RESUME_ADDRESS = ctypes.cast(_RESUME_NATIVE, _vp).value
_DROPPED_NATIVE = _FINALIZER(_dropped)
_DROPPED_ADDRESS = ctypes.cast(_DROPPED_NATIVE, _vp).value
_BLOCK_CODE = _block_callback.__code__
_RESUME_CODE = _resume.__code__
_NAMES = itertools.count()

# Guard modules by engine and signature (see rule 1 of the module docstring).
_GUARDS: weakref.WeakKeyDictionary[wasmtime.Engine, dict[CoreFuncType, wasmtime.Module]] = (
    weakref.WeakKeyDictionary()
)


def _guard_module(engine: wasmtime.Engine, functype: CoreFuncType) -> wasmtime.Module:
    modules = _GUARDS.get(engine)
    if modules is None:
        modules = _GUARDS[engine] = {}
    module = modules.get(functype)
    if module is None:
        params = "".join(f" {t}" for t in functype.params)
        results = "".join(f" {t}" for t in functype.results)
        sig = (f"(param{params}) " if params else "") + (f"(result{results})" if results else "")
        gets = " ".join(f"local.get {i}" for i in range(len(functype.params)))
        module = modules[functype] = wasmtime.Module(engine, f"""(module
  (import "" "on" (global $on (mut i32)))
  (import "" "fail" (func $fail))
  (import "" "block" (func $block {sig}))
  (func (export "f") {sig}
    global.get $on
    i32.eqz
    if
      call $fail
      unreachable
    end
    {gets}
    call $block))""")
    return module


def _outside_fiber() -> None:
    raise SuspensionError(
        "a blocking function was called outside a fiber of its store "
        "(enter its instance only through FiberCall or on_fiber)"
    )


def _guard_parts(store: Storelike, record: _StoreRecord, state: _FiberState) -> tuple[wasmtime.Global, wasmtime.Func]:
    if state.flag is None or state.fail is None:
        flag = wasmtime.Global(
            store, wasmtime.GlobalType(wasmtime.ValType.i32(), True), wasmtime.Val.i32(1 if state.polls else 0)
        )
        values = []
        for bit in (1, 0):
            value = ffi.wasmtime_val_t()
            value.kind = _KINDS["i32"]  # type: ignore[assignment]
            value.of.i32 = bit
            values.append(value)
        # The values and the global are kept by ``state``, the addresses point into them.
        address = ctypes.addressof(flag._global)
        state.fail = make_host_func(store, (), (), _outside_fiber)
        state.flag = flag
        state.flag_values = values
        state.flag_off = (record.key, address, ctypes.addressof(values[1]))
        state.flag_on = (record.key, address, ctypes.addressof(values[0]))
    return state.flag, state.fail


def _instantiate_guard(
    store: Storelike,
    record: _StoreRecord,
    state: _FiberState,
    engine: wasmtime.Engine,
    module: wasmtime.Module,
    imports: list[Any],
) -> wasmtime.Instance:
    """Instantiate a guard module; on a fiber through wasmtime's async instantiation.

    On a fiber wasmtime refuses every synchronous instantiation ("cannot do
    blocking `call` from an async context"), so there a throwaway linker
    instantiates it as a nested future (the module has no start function: one
    poll finishes it).
    """
    if not state.polls:
        return wasmtime.Instance(store, module, imports)
    linker = wasmtime.Linker(engine)
    for name, item in zip(("on", "fail", "block"), imports, strict=True):
        linker.define(store, "", name, item)
    instance = ffi.wasmtime_instance_t()
    out = (_vp * 2)()  # trap, error
    future = _instantiate_async(
        ctypes.addressof(linker.ptr().contents), record.key, ctypes.addressof(module.ptr().contents),
        ctypes.addressof(instance), ctypes.addressof(out), ctypes.addressof(out) + 8,
    )
    done = _future_poll(future)
    _future_delete(future)
    if out[0] or out[1]:
        _raise_failure(record, out[1], out[0])
    if not done:
        raise AssertionError("instantiating a guard module suspended")
    return wasmtime.Instance._from_raw(instance)


def blocking_func(
    store: Storelike,
    params: Sequence[str],
    results: Sequence[str],
    begin: Callable[..., Any],
    *,
    engine: wasmtime.Engine | None = None,
    guard: bool = True,
) -> wasmtime.Func:
    """A core function ``params -> results`` that may suspend the fiber calling it.

    ``begin(*args)`` runs when wasm calls it, with the raw arguments
    (integers signed).  It returns the results (a tuple or list; ``None`` for
    none) to complete at once, or a :class:`Suspension` to suspend the calling
    fiber -- allowed only where :func:`can_suspend` is true, else the call
    traps with :class:`SuspensionError`.  An exception from ``begin`` traps
    at once and is re-raised unchanged by the entry point (as with
    :func:`~._engine.core.make_host_func`).

    The function may be imported by core instances (``wasmtime.Instance`` or
    ``CoreImports``) whose every entry is made through :class:`FiberCall` or
    :func:`on_fiber`; reached any other way it traps with
    :class:`SuspensionError` (rule 1 of the module docstring).  ``begin`` is
    kept until the store is freed.

    ``guard=False`` returns the async host function itself, without the
    wrapper: no guard flag is then kept for it, saving its two global writes
    per outermost poll (about 0.7 us of a 4 us resume) in stores where every
    blocking function is made so.  Only for callers that reach it solely
    from wasm that has just checked, in Python, that it runs directly below
    :meth:`FiberCall.poll` (e.g. a shim whose sync host import decides, from
    :func:`can_suspend` or an equivalent frame check, whether to call it):
    reached outside a fiber it aborts the process.
    """
    params, results = tuple(params), tuple(results)
    functype = CoreFuncType(params, results)
    _check_numeric(functype)
    record = _record(store)
    if record.closed:
        _store_closed()
    state = _state(record)
    engine = _engine_of(state, record, store, engine)
    linker = state.linker
    if linker is None:
        linker = state.linker = wasmtime.Linker(engine)
    key = _HOST_ENTRIES.add((begin, record, _codec(params), _codec(results)))
    record.host_keys.append(key)
    name = f"b{next(_NAMES)}".encode()
    linker_ptr = ctypes.addressof(linker.ptr().contents)
    error = _define_async(
        linker_ptr, b"", 0, name, len(name), record.functype(params, results), _BLOCK_ADDRESS, key, None
    )
    if error:
        raise wasmtime.WasmtimeError._from_ptr(ctypes.cast(error, ctypes.POINTER(ffi.wasmtime_error_t)))
    extern = ffi.wasmtime_extern_t()
    if not _linker_get(linker_ptr, record.key, b"", 0, name, len(name), ctypes.addressof(extern)):
        raise AssertionError("a function just defined in the linker is missing")
    raw = wasmtime.Func._from_raw(extern.of.func)
    if not guard:
        return raw
    flag, fail = _guard_parts(store, record, state)
    wrapper = _instantiate_guard(store, record, state, engine, _guard_module(engine, functype), [flag, fail, raw])
    func = wrapper.exports(store)["f"]
    assert isinstance(func, wasmtime.Func)
    return func


# ---------------------------------------------------------------------------
# can_suspend and on_fiber

# Frames where native code entered Python other than the blocking callback.
_ENTRY_NAMES = frozenset({"trampoline"})


def can_suspend(store: Storelike) -> bool:
    """Whether the running ``begin`` of a blocking function of ``store`` may return a :class:`Suspension`.

    True only when called (at any depth of plain Python calls) from a
    ``begin`` that wasm called directly on a fiber polled by
    :meth:`FiberCall.poll`, with no Python host callback between that poll and
    the wasm call; False everywhere else (outside any ``begin``, below a
    Python host function that made a nested core call, inside :func:`on_fiber`,
    inside ``ready``/``finish``).  See the module docstring for how.
    """
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code is _BLOCK_CODE:
            below = frame.f_back
            if below is None or below.f_code is not _POLL_CODE:
                return False
            record = frame.f_locals.get("record")
            return record is not None and record is _record(store)
        if code is _POLL_CODE or code is _RESUME_CODE or code.co_name in _ENTRY_NAMES:
            return False
        frame = frame.f_back  # type: ignore[assignment]
    return False


def set_async_stack_size(config: wasmtime.Config, size: int) -> None:
    """Set the size of every fiber stack of engines made from ``config`` (wasmtime-py has no setter).

    Only address space is reserved; a suspended fiber keeps resident only the
    pages it touched.  Wasmtime requires it to exceed ``max_wasm_stack``
    (512 KiB by default) and reports a violation when the engine is made.
    """
    if not isinstance(config, wasmtime.Config):
        raise TypeError(f"expected a wasmtime.Config, got {type(config).__name__}")
    if not 0 < size < 2**40:
        raise ValueError(f"stack size out of range: {size}")
    _stack_size_set(ctypes.addressof(config.ptr().contents), size)


def in_fiber(store: Storelike) -> bool:
    """Whether a :class:`FiberCall` of ``store`` is being polled (so wasm entered now runs on its fiber)."""
    state: _FiberState | None = _record(store).states.get(_FiberState)
    return state is not None and bool(state.polls)


def on_fiber(store: Storelike, fn: Callable[[], T]) -> T:
    """Run ``fn()`` so that every core call it makes synchronously happens on a fiber of ``store``.

    Returns what ``fn`` returns, or re-raises its exception unchanged.  Blocking
    functions reached from it may complete at once but not suspend
    (:func:`can_suspend` is false in there).  Already on a fiber of the store,
    it just calls ``fn()``.
    """
    record = _record(store)
    if record.closed:
        _store_closed()
    state = _state(record)
    if state.polls:
        return fn()
    thunk = state.thunk
    if thunk is None:
        fns = state.thunk_fns
        thunk = state.thunk = make_host_func(store, (), (), lambda: fns[-1]())
    box: list[T] = []

    def run() -> None:
        box.append(fn())

    state.thunk_fns.append(run)
    try:
        call = FiberCall(store, thunk, ())
        try:
            if not call.poll():
                raise SuspensionError("a call made by on_fiber suspended")
            call.result()
        finally:
            call.close()
    finally:
        state.thunk_fns.pop()
    return box[0]
