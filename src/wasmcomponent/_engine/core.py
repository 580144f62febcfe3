"""The bridge to wasmtime-py's core engine: the one place that uses its internals.

Everything else in wasmcomponent talks to the core engine through this module
(and :mod:`._engine.memory`), so a new wasmtime-py release means revisiting
these two files only.  Written against wasmtime-py ``50.x``
(:data:`WASMTIME_MAJOR`); importing it with another major version warns.

What it provides
----------------
* :func:`wat_to_wasm` / :func:`is_text` -- text to binary (modules and components).
* Store identity: :func:`store_key` is the store's *context address*, the same
  for a ``wasmtime.Store``, a ``StoreContext`` and a ``Caller`` of that store.
  :func:`store_state` attaches one Python object per (store, factory).
* :class:`RawFunc` -- calls a core function through
  ``wasmtime_func_call_unchecked`` with a buffer allocated once, about 20x
  faster than ``wasmtime.Func.__call__``.
* :func:`make_host_func` -- a core function implemented in Python through
  ``wasmtime_func_new_unchecked``; :class:`HostSnippets` lets the runtime
  splice its own argument/result conversions into the generated trampoline,
  so a scalar host import runs with no Python frame between the native
  callback and the host function.
* :func:`instantiate`, :func:`exports_by_name`, :func:`module_imports`,
  :func:`module_exports` -- thin helpers over the public wasmtime API.

Store records and their lifetime
--------------------------------
Each store seen by this module gets a private ``_StoreRecord`` holding: the
context pointer, the store id (to refuse objects of another store, which would
abort the process inside wasmtime), the *pending exception* of a host callback,
the keys of its host functions, and the objects made by :func:`store_state`.
Records live in ``_REGISTRY`` keyed by context address, needed because a
``Caller`` or ``StoreContext`` carries nothing but that address.  Likewise a
host function is one shared native trampoline per signature plus an entry in
``_HOST_ENTRIES`` found through the ``env`` index wasmtime passes back, so
creating one allocates no ctypes callback.  Function types are shared by the
stores of one engine and thread (``_ENGINE_FUNCTYPES``).  These three are the module's
only mutable state.

A record is created on first use from any store-like.  At that moment a dummy
host function with a native *finalizer* is created in the store; wasmtime runs
that finalizer when it frees the store (``Store`` garbage-collected or
``close()``d), and it removes the record, marks it closed and drops every
attached object.  So state is released exactly when the context address
becomes reusable, whichever store-like created it.  Rules that follow:

* attached objects must not call into the store from their own finalizers;
* a :class:`RawFunc` or host function never keeps its ``Store`` alive; calling
  a :class:`RawFunc` after its store is gone raises ``ValueError``;
* attached objects may freely reference instances and functions of the store
  but not the ``Store`` itself (it would then never be freed): keep a
  :func:`store_handle` instead.

Pending exceptions
------------------
A Python exception raised by a host callback cannot cross wasm frames.  The
trampoline stores it on the store record and returns a trap to wasm; when the
trap reaches the outermost :class:`RawFunc` call (or :func:`instantiate`), that
call re-raises the very same exception object.  Nested calls consume their own
pending exception, so the innermost Python frame that called into wasm sees it
first.  :func:`take_pending` is for other entry points into wasm.  An
exception parked by a host function made with ``wasmtime.Func`` (wasmtime-py's
own module-global slot) is re-raised the same way.

Traps raise :class:`~wasmcomponent.errors.ComponentTrap` whose message is
wasmtime's own rendering, verbatim ("error while executing at wasm
backtrace:\n ...\n\nCaused by:\n    wasm trap: ...\n", trailing newline
included) and whose ``trap_code`` is the ``wasmtime.TrapCode`` (fuel
exhaustion and epoch interruption included).  Non-trap failures raise the
``wasmtime.WasmtimeError`` (or ``ExitTrap``) wasmtime-py builds.

Value conventions (raw core values)
-----------------------------------
Arguments of :class:`RawFunc` and results of host callbacks are masked to their
width (``-1`` and ``2**32 - 1`` are the same i32); f32 values are rounded as C
does (overflow gives infinity).  Results of :class:`RawFunc` and arguments of
host callbacks are *signed*: an i32 of ``0xffffffff`` arrives as ``-1``; mask
with ``& 0xFFFFFFFF`` for the unsigned reading.
"""

from __future__ import annotations

import ctypes
import struct
import threading
import warnings
import weakref
from functools import cache
from itertools import starmap
from typing import Any, Callable, Iterable, NamedTuple, Sequence, TypeVar, Union

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime import _func as _wasmtime_func

from ..errors import ComponentTrap
from ..types.model import CoreExternType, CoreFuncType

__all__ = [
    "WASMTIME_MAJOR",
    "CORE_NUMERIC",
    "Storelike",
    "wat_to_wasm",
    "is_text",
    "store_key",
    "store_state",
    "store_handle",
    "take_pending",
    "RawFunc",
    "HostCallback",
    "HostSnippets",
    "make_host_func",
    "instantiate",
    "CoreImports",
    "instantiate_imports",
    "ImportLayout",
    "exports_by_name",
    "module_imports",
    "module_exports",
    "CoreImport",
    "CoreExport",
]

WASMTIME_MAJOR = 50
"""The wasmtime-py major version this module was written against."""


def _installed_wasmtime_major() -> int | None:
    """wasmtime-py's major version from its ``dist-info`` folder name.

    Read from the folder beside the package rather than with ``importlib.metadata``,
    whose import costs more than the rest of ``import wasmcomponent``.
    """
    import os

    site = os.path.dirname(os.path.dirname(wasmtime.__file__))
    try:
        names = os.listdir(site)
    except OSError:
        return None
    for name in names:
        if name.startswith("wasmtime-") and name.endswith(".dist-info"):
            try:
                return int(name[len("wasmtime-") :].split(".")[0])
            except ValueError:
                return None
    return None


def _check_version() -> None:
    major = _installed_wasmtime_major()
    if major is None:
        return
    if major != WASMTIME_MAJOR:
        warnings.warn(
            f"wasmcomponent was written for wasmtime-py {WASMTIME_MAJOR}.x, found {major}.x",
            RuntimeWarning,
            stacklevel=3,
        )


_check_version()

Storelike = Union[wasmtime.Store, wasmtime.StoreContext, wasmtime.Caller]
T = TypeVar("T")

CORE_NUMERIC = ("i32", "i64", "f32", "f64")
"""The core value types :class:`RawFunc` and :func:`make_host_func` support."""

# ---------------------------------------------------------------------------
# Native entry points.  Our own prototypes (``dll[name]`` returns a fresh
# function pointer) take plain addresses, so no wasmtime-py wrapper or argument
# conversion sits on the hot paths.

_dll = ffi.dll
_SLOT = ctypes.sizeof(ffi.wasmtime_val_raw_t)  # 16 bytes per value slot
_vp = ctypes.c_void_p


def _proto(name: str, restype: Any, *argtypes: Any) -> Any:
    fn = _dll[name]
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


# No argtypes: every call passes pre-built ctypes objects, the fastest path.
_call_unchecked = _dll["wasmtime_func_call_unchecked"]
_call_unchecked.restype = _vp
_func_new_unchecked = _proto("wasmtime_func_new_unchecked", None, _vp, _vp, _vp, _vp, _vp, _vp)
_trap_new = _proto("wasmtime_trap_new", _vp, ctypes.c_char_p, ctypes.c_size_t)
_instance_new = _proto("wasmtime_instance_new", _vp, _vp, _vp, _vp, ctypes.c_size_t, _vp, _vp)
_export_get = _proto("wasmtime_instance_export_get", ctypes.c_bool, _vp, _vp, ctypes.c_char_p, ctypes.c_size_t, _vp)
# The same without argtypes, for ``ImportLayout``'s pre-built ctypes arguments.
_export_get_raw = _dll["wasmtime_instance_export_get"]
_export_get_raw.restype = ctypes.c_bool
_EXTERN_SIZE = ctypes.sizeof(ffi.wasmtime_extern_t)

_UNCHECKED_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_size_t, _vp, _vp, _vp, ctypes.c_size_t)
_FINALIZER = ctypes.CFUNCTYPE(None, _vp)

_TRAP_PTR = ctypes.POINTER(ffi.wasm_trap_t)
_ERROR_PTR = ctypes.POINTER(ffi.wasmtime_error_t)


# ---------------------------------------------------------------------------
# Text format


def is_text(data: Union[str, bytes, bytearray, memoryview]) -> bool:
    """Guess whether ``data`` is WebAssembly text rather than a binary.

    >>> is_text("(module)"), is_text(b"\\0asm\\x01\\0\\0\\0"), is_text(b"(component)")
    (True, False, True)
    """
    if isinstance(data, str):
        return not data.startswith("\0")
    return bytes(data[:4]) != b"\0asm"


def wat_to_wasm(text: Union[str, bytes]) -> bytes:
    """Translate WebAssembly text (a core module or a component) to binary.

    Raises ``wasmtime.WasmtimeError`` with the text parser's message on error.

    >>> wat_to_wasm("(module)")
    b'\\x00asm\\x01\\x00\\x00\\x00'
    """
    return bytes(wasmtime.wat2wasm(text))


# ---------------------------------------------------------------------------
# Store records


class _StoreRecord:
    """Per-store bookkeeping of this module (see the module docstring)."""

    __slots__ = (
        "key", "store_id", "ctx", "ctx_arg", "pending", "closed", "states", "functypes", "shared_functypes",
        "handle", "host_keys",
    )

    def __init__(
        self, key: int, ctx: Any, store_id: int, functypes: dict[int, _FuncTypes] | None = None
    ) -> None:
        self.key = key
        self.store_id = store_id
        self.ctx = ctx  # ctypes POINTER(wasmtime_context_t)
        self.ctx_arg = _vp(key)  # pre-built argument for native calls
        self.pending: BaseException | None = None
        self.closed = False
        self.states: dict[Any, Any] = {}
        # Core function types by signature: wasmtime ties a type to the first
        # engine it is used with, so they are shared per engine when the store's
        # engine is known (see ``_register``), else per store.  Shared ones are
        # also per thread: a ``wasm_functype_t`` initialises itself lazily, and
        # two threads using one at once crash the process.
        self.shared_functypes = functypes
        self.functypes: _FuncTypes = {}
        # A ``StoreContext`` that does not keep the ``Store`` alive (``store_handle``).
        self.handle: wasmtime.StoreContext | None = None
        # Keys of this store's host functions in ``_HOST_ENTRIES``.
        self.host_keys: list[int] = []

    def functype(self, params: tuple[str, ...], results: tuple[str, ...]) -> int:
        """The address of this store's ``wasm_functype_t`` for a signature (made on first use)."""
        key = (params, results)
        types = self.functypes
        shared = self.shared_functypes
        if shared is not None:
            thread = threading.get_ident()
            types = shared.get(thread) or shared.setdefault(thread, {})
        found = types.get(key)
        if found is None:
            ty = wasmtime.FuncType([_valtype(t) for t in params], [_valtype(t) for t in results])
            found = types[key] = (ty, ctypes.addressof(ty.ptr().contents))
        return found[1]

    def close(self) -> None:
        self.closed = True
        if self.handle is not None:
            self.handle._invalidate()
            self.handle = None
        self.ctx = None
        self.pending = None
        _HOST_ENTRIES.release(self.host_keys)
        self.host_keys = []
        self.states = {}
        self.functypes = {}
        self.shared_functypes = None

    def take_pending(self) -> BaseException | None:
        exc, self.pending = self.pending, None
        return exc


_FuncTypes = dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[wasmtime.FuncType, int]]

_REGISTRY: dict[int, _StoreRecord] = {}

# Host functions by the ``env`` key wasmtime hands their (shared) native
# trampoline: ``(callback, record, context, *snippet env)``.  Entries of a
# store are removed when it is freed (``_StoreRecord.close``).  Module-level
# for the same reason as ``_REGISTRY``: a native callback carries only an int.
class _HostEntries:
    """Host function entries in a list indexed by small integers (``env``), slots reused."""

    __slots__ = ("slots", "_free", "_lock")

    def __init__(self) -> None:
        # Slot 0 is never used: a null ``env`` reaches Python as None.
        self.slots: list[tuple[Any, ...] | None] = [None]
        self._free: list[int] = []
        # Re-entrant: a store freed by a collection triggered in here releases its slots.
        self._lock = threading.RLock()

    def add(self, entry: tuple[Any, ...]) -> int:
        with self._lock:
            if self._free:
                key = self._free.pop()
                self.slots[key] = entry
            else:
                key = len(self.slots)
                self.slots.append(entry)
        return key

    def release(self, keys: list[int]) -> None:
        with self._lock:
            for key in keys:
                self.slots[key] = None
            self._free.extend(keys)


_HOST_ENTRIES = _HostEntries()

# Core function types of each engine, shared by its stores (creating one is
# far costlier than creating a host function with it); dropped with the engine.
_ENGINE_FUNCTYPES: weakref.WeakKeyDictionary[wasmtime.Engine, dict[int, _FuncTypes]] = weakref.WeakKeyDictionary()


def _on_store_freed(env: int | None) -> None:
    record = _REGISTRY.pop(env or 0, None)
    if record is not None:
        record.close()


def _never_called(env: Any, caller: Any, args: Any, n: int) -> int:
    return 0


_ON_STORE_FREED = _FINALIZER(_on_store_freed)
_NEVER_CALLED = _UNCHECKED_CALLBACK(_never_called)


def _context_of(store_like: Storelike) -> Any:
    try:
        context = store_like._context
    except AttributeError:
        raise TypeError(
            f"expected a wasmtime Store, StoreContext or Caller, got {type(store_like).__name__}"
        ) from None
    return context()


def store_key(store_like: Storelike) -> int:
    """The store's context address: equal for its ``Store``, ``StoreContext`` and ``Caller``.

    Raises ``ValueError`` if the store is closed or the caller expired.
    """
    return ctypes.addressof(_context_of(store_like).contents)


def _record(store_like: Storelike) -> _StoreRecord:
    if store_like.__class__ is _StoreHandle:
        known: _StoreRecord = store_like.record  # type: ignore[union-attr]
        if not known.closed:
            return known
    ctx = _context_of(store_like)
    key = ctypes.addressof(ctx.contents)
    record = _REGISTRY.get(key)
    if record is None:
        record = _register(ctx, key, getattr(store_like, "engine", None))
    return record


def _register(ctx: Any, key: int, engine: Any = None) -> _StoreRecord:
    # The dummy function's finalizer runs when wasmtime frees the store; its
    # store id lets us refuse functions and memories of other stores.
    functype = wasmtime.FuncType([], [])
    func = ffi.wasmtime_func_t()
    _func_new_unchecked(
        key,
        ctypes.addressof(functype.ptr().contents),
        ctypes.cast(_NEVER_CALLED, _vp).value,
        key,
        ctypes.cast(_ON_STORE_FREED, _vp).value,
        ctypes.addressof(func),
    )
    functypes: dict[int, _FuncTypes] | None = None
    if isinstance(engine, wasmtime.Engine):
        # Only a ``Store`` names its engine; a ``Caller`` or ``StoreContext``
        # does not, and then the types stay private to this store.
        functypes = _ENGINE_FUNCTYPES.get(engine)
        if functypes is None:
            functypes = _ENGINE_FUNCTYPES[engine] = {}
    record = _StoreRecord(key, ctx, func.store_id, functypes)
    _REGISTRY[key] = record
    return record


class _StoreHandle(wasmtime.StoreContext):
    """A ``StoreContext`` that knows its record, so looking the record up is free."""

    def __init__(self, record: _StoreRecord) -> None:
        super().__init__(record.ctx)
        self.record = record


def store_handle(store_like: Storelike) -> wasmtime.StoreContext:
    """A ``StoreContext`` of this store that does not keep its ``Store`` alive.

    Objects reachable from the store's own state (host functions, attached
    objects) must use it instead of the ``Store``, which would otherwise never
    be freed.  It is invalidated when wasmtime frees the store; using it then
    raises ``ValueError``.
    """
    record = _record(store_like)
    handle = record.handle
    if handle is None:
        handle = record.handle = _StoreHandle(record)
    return handle


def store_state(store_like: Storelike, factory: Callable[[], T]) -> T:
    """Return the object attached to this store for ``factory``, creating it on first use.

    One object exists per (store, factory) pair, whichever store-like is used to
    look it up.  It is dropped when wasmtime frees the store.

    >>> store = wasmtime.Store()
    >>> store_state(store, dict) is store_state(store, dict)
    True
    """
    states = _record(store_like).states
    try:
        return states[factory]  # type: ignore[no-any-return]
    except KeyError:
        state = states[factory] = factory()
        return state


def take_pending(store_like: Storelike) -> BaseException | None:
    """Remove and return the exception a host callback left pending on this store."""
    return _record(store_like).take_pending()


def _raise_failure(record: _StoreRecord, error: int | None, trap: int | None) -> None:
    """Raise the Python error for a failed call into wasm (``error``/``trap`` are owned pointers)."""
    trap_obj = wasmtime.Trap._from_ptr(ctypes.cast(trap, _TRAP_PTR)) if trap else None
    err_obj = wasmtime.WasmtimeError._from_ptr(ctypes.cast(error, _ERROR_PTR)) if error else None
    pending = record.take_pending()
    if pending is None:
        # A host function made by ``wasmtime.Func`` parks its exception here.
        pending, _wasmtime_func.LAST_EXCEPTION = _wasmtime_func.LAST_EXCEPTION, None
    if pending is not None:
        raise pending
    if trap_obj is not None:
        raise ComponentTrap(trap_obj.message, trap_obj.trap_code)
    if err_obj is not None:
        raise err_obj
    raise AssertionError("call into wasm failed without an error")


# ---------------------------------------------------------------------------
# Value types


_VIEW_TYPES: dict[str, Any] = {
    "i32": ctypes.c_int32,
    "i64": ctypes.c_int64,
    "f32": ctypes.c_float,
    "f64": ctypes.c_double,
}
_STRUCT_CODES = {"i32": "i", "i64": "q", "f32": "f", "f64": "d"}
_STORE_CODES = {"i32": "I", "i64": "Q", "f32": "f", "f64": "d"}
_MASKS = {"i32": " & 0xFFFFFFFF", "i64": " & 0xFFFFFFFFFFFFFFFF", "f32": "", "f64": ""}
_VALKIND_NAMES = {
    0: "i32",
    1: "i64",
    2: "f32",
    3: "f64",
    4: "v128",
    128: "externref",
    129: "funcref",
}


def _valtype_name(ty: wasmtime.ValType) -> str:
    kind = ffi.wasm_valtype_kind(ty.ptr())
    return _VALKIND_NAMES.get(int(kind), f"valtype({int(kind)})")


def _core_functype(ty: wasmtime.FuncType) -> CoreFuncType:
    return CoreFuncType(
        tuple(_valtype_name(t) for t in ty.params), tuple(_valtype_name(t) for t in ty.results)
    )


def _check_numeric(ty: CoreFuncType) -> None:
    for name in ty.params + ty.results:
        if name not in _VIEW_TYPES:
            raise ValueError(
                f"core value type `{name}` is not supported here (only i32, i64, f32, f64)"
            )


def _valtype(name: str) -> wasmtime.ValType:
    factory: Callable[[], wasmtime.ValType] = getattr(wasmtime.ValType, name)
    return factory()


def _struct_format(types: Sequence[str], codes: dict[str, str]) -> str:
    return "<" + "".join(f"{codes[t]}{_SLOT - struct.calcsize(codes[t])}x" for t in types)


# ---------------------------------------------------------------------------
# Raw calls


@cache
def _call_maker(
    params: tuple[str, ...], results: tuple[str, ...]
) -> Callable[..., Callable[..., Any]]:
    """Compile the straight-line call function for one signature (memoized, pure)."""
    args = ", ".join(f"a{i}" for i in range(len(params)))
    lines = [
        "def make(fn, fargs, ins, outs, trap, record, fail, closed):",
        *(f"    p{i} = ins[{i}]" for i in range(len(params))),
        *(f"    r{i} = outs[{i}]" for i in range(len(results))),
        f"    def raw_call({args}):",
        "        if record.closed:",
        "            closed()",
        *(f"        p{i}.value = a{i}" for i in range(len(params))),
        "        err = fn(*fargs)",
        "        if err or trap.value:",
        "            t = trap.value",
        "            trap.value = None",
        "            fail(record, err, t)",
    ]
    if not results:
        lines.append("        return None")
    elif len(results) == 1:
        lines.append("        return r0.value")
    else:
        lines.append(
            "        return (" + "".join(f"r{i}.value, " for i in range(len(results))) + ")"
        )
    lines.append("    return raw_call")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), f"<raw_call {params}->{results}>", "exec"), namespace)
    maker: Callable[..., Callable[..., Any]] = namespace["make"]
    return maker


def func_identity(func: wasmtime.Func) -> bytes:
    """A key equal for two ``wasmtime.Func`` objects of the same function of a store."""
    return bytes(func._func)


def _store_closed() -> None:
    raise ValueError("the store of this function has been freed")


class RawFunc:
    """A core function bound to its store, called with raw numeric values.

    ``call(*args)`` (also ``__call__``) returns ``None`` for no results, the
    value for one result and a tuple for several.  Integer arguments are masked
    to their width; integer results are signed (see the module docstring).  A
    trap raises :class:`ComponentTrap` (``trap_code`` set, message rendered as
    wasmtime does); an exception from a host callback is re-raised unchanged;
    other failures raise ``wasmtime.WasmtimeError`` (``ExitTrap`` included).

    ``call`` is a plain function generated for the signature; bind it once on
    hot paths to skip the method dispatch.  Not thread-safe (neither are
    stores); re-entrant calls are fine because arguments are consumed on entry
    and results are read right after return.

    >>> store = wasmtime.Store()
    >>> module = wasmtime.Module(store.engine, '''(module (func (export "add")
    ...     (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))''')
    >>> add = RawFunc(store, wasmtime.Instance(store, module, []).exports(store)["add"])
    >>> add(2**31 - 1, 1), add(-1, 0) & 0xFFFFFFFF
    (-2147483648, 4294967295)
    """

    __slots__ = ("type", "call", "_func", "_buffer", "_record")

    def __init__(self, store: Storelike, func: wasmtime.Func) -> None:
        if not isinstance(func, wasmtime.Func):
            raise TypeError(f"expected a wasmtime.Func, got {type(func).__name__}")
        record = _record(store)
        if func._func.store_id != record.store_id:
            raise ValueError("the function belongs to a different store")
        functype = _core_functype(func.type(store))
        _check_numeric(functype)
        params, results = functype.params, functype.results
        nslots = max(len(params), len(results))
        self.type = functype
        self._record = record
        self._func = ffi.wasmtime_func_t.from_buffer_copy(func._func)
        # One extra slot holds the out-pointer for a trap.
        self._buffer = buffer = (ffi.wasmtime_val_raw_t * (nslots + 1))()
        base = ctypes.addressof(buffer)
        ins = [_VIEW_TYPES[t].from_buffer(buffer, i * _SLOT) for i, t in enumerate(params)]
        outs = [_VIEW_TYPES[t].from_buffer(buffer, i * _SLOT) for i, t in enumerate(results)]
        trap = _vp.from_buffer(buffer, nslots * _SLOT)
        fargs = (
            record.ctx_arg,
            _vp(ctypes.addressof(self._func)),
            _vp(base),
            ctypes.c_size_t(nslots),
            _vp(base + nslots * _SLOT),
        )
        self.call: Callable[..., Any] = _call_maker(params, results)(
            _call_unchecked, fargs, ins, outs, trap, record, _raise_failure, _store_closed
        )
        # ``fargs`` holds raw addresses of ``_func`` and ``_buffer``: callers may keep
        # only ``call``, so it must keep them (and thus this object) alive.
        self.call.__dict__["owner"] = self

    def __call__(self, *args: Any) -> Any:
        return self.call(*args)

    def __repr__(self) -> str:
        return f"<RawFunc {self.type.params} -> {self.type.results}>"


# ---------------------------------------------------------------------------
# Host functions

HostCallback = Callable[..., Any]
"""``callback(*args)`` or ``callback(store_context, *args)``; see :func:`make_host_func`."""


class HostSnippets(NamedTuple):
    """Python source spliced into a host trampoline by its only caller, the runtime.

    ``prologue`` lines run first; ``args`` are one expression per argument of
    the callback, over the raw values ``a0, a1, ...`` (default: the values
    themselves); ``result`` lines may rewrite the callback's return value
    ``r`` before it is stored.  The snippets refer to the names of ``env``,
    passed when the function is made.  The generated code is compiled once
    per (signature, snippets) and reused.
    """

    prologue: tuple[str, ...] = ()
    args: tuple[str, ...] | None = None
    result: tuple[str, ...] = ()
    env_names: tuple[str, ...] = ()


_NO_SNIPPETS = HostSnippets()


@cache
def _trampoline_maker(
    params: tuple[str, ...],
    results: tuple[str, ...],
    with_context: bool,
    snippets: HostSnippets = _NO_SNIPPETS,
) -> Callable[..., Any]:
    """Compile the host trampoline for one signature (memoized, pure).

    The trampoline serves every host function of that shape: the ``env``
    wasmtime passes it is the index of the function's entry in ``_HOST_ENTRIES``,
    ``(callback, record, ctx, *snippet env)``.
    """
    nslots = max(len(params), len(results))
    args = "".join(f"a{i}, " for i in range(len(params)))
    converted = args if snippets.args is None else "".join(f"{e}, " for e in snippets.args)
    call_args = ("sc, " if with_context else "") + converted
    env = "".join(f", {name}" for name in snippets.env_names)
    lines = [
        "def make(entries, Array, unpack, pack, slow_store, trap_new, StoreContext):",
        "    def trampoline(env, caller, addr, n):",
        "        try:",
        f"            callback, _, ctx{env} = entries[env]",
        *(f"            {line}" for line in snippets.prologue),
    ]
    if nslots:
        lines.append("            buf = Array.from_address(addr)")
    if params:
        lines.append(f"            {args} = unpack(buf)")
    if with_context:
        # ``StoreContext(ctx)`` and ``sc._invalidate()`` without their two
        # Python frames: the private attribute is set directly (this module
        # owns wasmtime-py's internals; tests/test_engine.py checks the name).
        lines += [
            "            sc = new_object(StoreContext)",
            "            sc._StoreContext__ptr = ctx",
            "            try:",
            f"                r = callback({call_args})",
            "            finally:",
            "                sc._StoreContext__ptr = None",
        ]
    else:
        lines.append(f"            r = callback({call_args})")
    lines += [f"            {line}" for line in snippets.result]
    if not results:
        lines += [
            "            if r is not None:",
            "                raise TypeError(f'host function returned {type(r).__name__}, expected None')",
        ]
    else:
        if len(results) == 1:
            values = f"r{_MASKS[results[0]]}"
        else:
            names = "".join(f"v{i}, " for i in range(len(results)))
            lines.append(f"            {names}= r")
            values = ", ".join(f"v{i}{_MASKS[t]}" for i, t in enumerate(results))
        lines += [
            "            try:",
            f"                pack(buf, 0, {values})",
            "            except OverflowError:",
            f"                slow_store(addr, ({values},))",
        ]
    lines += [
        "            return 0",
        "        except BaseException as e:",
        "            entry = entries[env] if isinstance(env, int) and 0 < env < len(entries) else None",
        "            if entry is not None:",
        "                entry[1].pending = e",
        "            return trap_new(b'python exception in host function', 33)",
        "    return trampoline",
    ]
    namespace: dict[str, Any] = {"new_object": object.__new__}
    exec(compile("\n".join(lines), f"<host {params}->{results}>", "exec"), namespace)
    maker: Callable[..., Any] = namespace["make"]
    return maker


@cache
def _native_trampoline(
    params: tuple[str, ...],
    results: tuple[str, ...],
    with_context: bool,
    snippets: HostSnippets = _NO_SNIPPETS,
) -> tuple[Any, int]:
    """The native callback (kept here forever) and its address for one trampoline shape."""
    plumbing = _host_plumbing(params, results)
    trampoline = _trampoline_maker(params, results, with_context, snippets)(
        _HOST_ENTRIES.slots,
        plumbing.array,
        plumbing.unpack,
        plumbing.pack,
        plumbing.slow_store,
        _trap_new,
        wasmtime.StoreContext,
    )
    native = _UNCHECKED_CALLBACK(trampoline)
    address = ctypes.cast(native, _vp).value
    assert address is not None
    return native, address


def _slow_store(types: tuple[str, ...]) -> Callable[[int, tuple[Any, ...]], None]:
    """Store results one by one with C conversion rules (f32 overflow becomes infinity)."""

    def store(addr: int, values: tuple[Any, ...]) -> None:
        for i, (ty, value) in enumerate(zip(types, values, strict=True)):
            _VIEW_TYPES[ty].from_address(addr + i * _SLOT).value = value

    return store


class _HostPlumbing(NamedTuple):
    """The store-independent parts of every host function of one core signature."""

    array: Any
    unpack: Callable[..., Any]
    pack: Callable[..., Any]
    slow_store: Callable[[int, tuple[Any, ...]], None]


@cache
def _host_plumbing(params: tuple[str, ...], results: tuple[str, ...]) -> _HostPlumbing:
    """Built once per signature (memoized, immutable): wasmtime copies the type on use."""
    _check_numeric(CoreFuncType(params, results))
    nslots = max(len(params), len(results))
    return _HostPlumbing(
        ctypes.c_ubyte * (nslots * _SLOT),
        struct.Struct(_struct_format(params, _STRUCT_CODES)).unpack_from,
        struct.Struct(_struct_format(results, _STORE_CODES)).pack_into,
        _slow_store(results),
    )


def make_host_func(
    store: Storelike,
    params: Sequence[str],
    results: Sequence[str],
    callback: HostCallback,
    *,
    with_context: bool = False,
    snippets: HostSnippets = _NO_SNIPPETS,
    env: Sequence[Any] = (),
) -> wasmtime.Func:
    """Create a core function of type ``params -> results`` that runs ``callback``.

    ``callback`` receives the raw arguments positionally (integers signed as
    they arrive), preceded by a ``wasmtime.StoreContext`` of the calling store
    when ``with_context`` is true (valid only during the call).  It returns
    ``None`` for no results, the value for one, a sequence for several; integer
    results are masked to their width.  Any exception it raises becomes a trap
    in wasm and is re-raised unchanged by the enclosing :class:`RawFunc` call.

    ``snippets`` (with the values ``env`` for its ``env_names``) splice
    conversions into the trampoline, see :class:`HostSnippets`.

    The callback and ``env`` are referenced until the store is freed.
    """
    params, results = tuple(params), tuple(results)
    if len(env) != len(snippets.env_names):
        raise ValueError("one value per name of `snippets.env_names` is needed")
    native = _native_trampoline(params, results, with_context, snippets)[1]
    record = _record(store)
    # A caller's context is the store's (same address), hence ``record.ctx``.
    key = _HOST_ENTRIES.add((callback, record, record.ctx, *env))
    record.host_keys.append(key)
    func = ffi.wasmtime_func_t()
    _func_new_unchecked(
        record.key,
        record.functype(params, results),
        native,
        key,
        None,
        ctypes.addressof(func),
    )
    return wasmtime.Func._from_raw(func)


# ---------------------------------------------------------------------------
# Modules and instances


class CoreImport(NamedTuple):
    """One import of a core module; unpacks as ``(module, name, type)``."""

    module: str
    name: str
    type: CoreExternType


class CoreExport(NamedTuple):
    """One export of a core module; unpacks as ``(name, type)``."""

    name: str
    type: CoreExternType


def _extern_type(ty: Any) -> CoreExternType:
    """Describe a wasmtime extern type; ``detail`` is a plain tuple for non-functions.

    memory: ``(min, max, is_64, shared)``; table: ``(element, min, max)``;
    global: ``(content, mutable)``; tag: the tag's ``CoreFuncType``.
    """
    if isinstance(ty, wasmtime.FuncType):
        return CoreExternType("func", _core_functype(ty))
    if isinstance(ty, wasmtime.MemoryType):
        return CoreExternType(
            "memory", detail=(ty.limits.min, ty.limits.max, ty.is_64, ty.is_shared)
        )
    if isinstance(ty, wasmtime.TableType):
        return CoreExternType(
            "table", detail=(_valtype_name(ty.element), ty.limits.min, ty.limits.max)
        )
    if isinstance(ty, wasmtime.GlobalType):
        return CoreExternType("global", detail=(_valtype_name(ty.content), ty.mutable))
    if isinstance(ty, wasmtime.TagType):
        return CoreExternType("tag", detail=_core_functype(ty.functype))
    raise TypeError(f"unknown core extern type {type(ty).__name__}")


def module_imports(module: wasmtime.Module) -> list[CoreImport]:
    """The imports of a compiled core module, in order.

    Caution: wasmtime aborts the process when reflecting a function type that
    uses ``v128`` or GC reference types; only call this on modules whose
    imports are known to use numeric types, funcref and externref.
    """
    return [
        CoreImport(imp.module, imp.name or "", _extern_type(imp.type)) for imp in module.imports
    ]


def module_exports(module: wasmtime.Module) -> list[CoreExport]:
    """The exports of a compiled core module, in order (same caution as :func:`module_imports`)."""
    return [CoreExport(exp.name, _extern_type(exp.type)) for exp in module.exports]


def instantiate(
    store: Storelike, module: wasmtime.Module, imports: Iterable[Any]
) -> wasmtime.Instance:
    """Instantiate a core module, translating failures like :class:`RawFunc` does.

    A trap in the start function raises :class:`ComponentTrap`; an exception
    from one of our host callbacks is re-raised unchanged.
    """
    failure: Union[wasmtime.Trap, wasmtime.WasmtimeError]
    try:
        return wasmtime.Instance(store, module, list(imports))
    except wasmtime.Trap as trap:
        failure = trap
    except wasmtime.WasmtimeError as error:
        failure = error
    # Raised outside the handlers so the pending exception keeps its own context.
    pending = take_pending(store)
    if pending is not None:
        raise pending
    if isinstance(failure, wasmtime.Trap):
        raise ComponentTrap(failure.message, failure.trap_code)
    raise failure


class CoreImports:
    """The import array of one core instantiation, filled slot by slot in place.

    :meth:`set_export` copies an export of an earlier instance straight into
    its slot (no ``wasmtime`` wrapper object, no per-export Python allocation),
    which is what makes instantiating a component with thousands of core
    imports cheap.  Pass the filled array to :func:`instantiate_imports`.
    """

    __slots__ = ("_array", "_base", "_count", "_record")

    def __init__(self, store: Storelike, count: int) -> None:
        self._record = _record(store)
        self._count = count
        self._array = (ffi.wasmtime_extern_t * max(count, 1))()
        self._base = ctypes.addressof(self._array)

    def _slot(self, index: int) -> int:
        if not 0 <= index < self._count:
            raise IndexError(f"import slot {index} out of range (0..{self._count})")
        return self._base + index * _EXTERN_SIZE

    def set(self, index: int, extern: Any) -> None:
        """Put a ``wasmtime`` extern (``Func``, ``Memory``, ``Table``, ``Global``, ...) in slot ``index``."""
        self._slot(index)
        self._array[index] = extern._as_extern()

    def set_export(self, index: int, instance: wasmtime.Instance, name: bytes) -> bool:
        """Copy export ``name`` of ``instance`` (of this store) into slot ``index``; False if it has none."""
        slot = self._slot(index)
        record = self._record
        if record.closed:
            _store_closed()
        if instance._instance.store_id != record.store_id:
            raise ValueError("the instance belongs to a different store")
        return bool(_export_get(record.key, ctypes.addressof(instance._instance), name, len(name), slot))


def instantiate_imports(store: Storelike, module: wasmtime.Module, imports: CoreImports) -> wasmtime.Instance:
    """Instantiate ``module`` with a filled :class:`CoreImports`; failures as in :func:`instantiate`."""
    record = _record(store)
    if record is not imports._record:
        raise ValueError("the imports were gathered for a different store")
    return _instantiate_array(record, module, imports._base, imports._count)


def _instantiate_array(record: _StoreRecord, module: wasmtime.Module, base: int, count: int) -> wasmtime.Instance:
    instance = ffi.wasmtime_instance_t()
    trap = _vp()
    error = _instance_new(
        record.key,
        ctypes.addressof(module.ptr().contents),
        base,
        count,
        ctypes.addressof(instance),
        ctypes.addressof(trap),
    )
    if error or trap.value:
        _raise_failure(record, error, trap.value)
    return wasmtime.Instance._from_raw(instance)


class ImportLayout:
    """The import array of one core instantiation, laid out once and reused for every store.

    Slot ``slot`` of each ``(slot, instance, name)`` in ``exports`` takes export
    ``name`` of ``instances[instance]`` (see :meth:`instantiate`); the slots in
    ``extern_slots`` take the ``externs`` given, in that order.  Together they
    must cover every slot exactly once.

    Every native argument is built here, once: filling the array for a store is
    one native call per export with nothing allocated.  Filled arrays are only
    scratch space (wasmtime copies the imports on instantiation); a small pool
    of them makes concurrent and re-entrant use safe.

    >>> store = wasmtime.Store()
    >>> source = wasmtime.Instance(store, wasmtime.Module(store.engine, '(module (memory (export "m") 1))'), [])
    >>> importer = wasmtime.Module(store.engine, '(module (import "a" "mem" (memory 1)))')
    >>> layout = ImportLayout(1, [(0, 0, "m")], ())
    >>> type(layout.instantiate(store, importer, [source], ())).__name__
    'Instance'
    """

    __slots__ = ("count", "_exports", "_extern_slots", "_sources", "_pool")

    def __init__(self, count: int, exports: Sequence[tuple[int, int, str]], extern_slots: Sequence[int]) -> None:
        covered = sorted([slot for slot, _, _ in exports] + list(extern_slots))
        if covered != list(range(count)):
            raise ValueError("the exports and extern slots must cover every import slot exactly once")
        self.count = count
        self._exports = tuple((slot, instance, name.encode("utf-8")) for slot, instance, name in exports)
        self._extern_slots = tuple(extern_slots)
        self._sources = tuple(sorted({instance for _, instance, _ in exports}))
        self._pool: list[_ImportScratch] = []

    def instantiate(
        self,
        store: Storelike,
        module: wasmtime.Module,
        instances: Sequence[wasmtime.Instance],
        externs: Sequence[Any],
    ) -> wasmtime.Instance:
        """Fill the array in ``store`` and instantiate ``module``; failures as in :func:`instantiate`.

        Raises ``KeyError(name)`` if an instance lacks an export the layout names,
        ``ValueError`` for an instance of another store.
        """
        record = _record(store)
        if record.closed:
            _store_closed()
        if len(externs) != len(self._extern_slots):
            raise ValueError(f"expected {len(self._extern_slots)} externs, got {len(externs)}")
        pool = self._pool
        try:
            scratch = pool.pop()
        except IndexError:
            scratch = _ImportScratch(self)
        try:
            scratch.context.value = record.key
            for index, pointer in zip(self._sources, scratch.sources, strict=True):
                raw = instances[index]._instance
                if raw.store_id != record.store_id:
                    raise ValueError("the instance belongs to a different store")
                pointer.value = ctypes.addressof(raw)
            if not all(starmap(_export_get_raw, scratch.calls)):
                found = list(starmap(_export_get_raw, scratch.calls))
                raise KeyError(self._exports[found.index(False)][2].decode("utf-8"))
            array = scratch.array
            for slot, extern in zip(self._extern_slots, externs, strict=True):
                array[slot] = extern._as_extern()
            return _instantiate_array(record, module, scratch.base, self.count)
        finally:
            pool.append(scratch)


class _ImportScratch:
    """One import array of an :class:`ImportLayout` with the prepared arguments of every copy."""

    __slots__ = ("array", "base", "context", "sources", "calls")

    def __init__(self, layout: ImportLayout) -> None:
        self.array = (ffi.wasmtime_extern_t * max(layout.count, 1))()
        self.base = base = ctypes.addressof(self.array)
        # Set for each use: the store's context and the source instances' addresses.
        self.context = _vp()
        self.sources = [_vp() for _ in layout._sources]
        by_index = dict(zip(layout._sources, self.sources, strict=True))
        self.calls = tuple(
            (self.context, by_index[instance], name, ctypes.c_size_t(len(name)), _vp(base + slot * _EXTERN_SIZE))
            for slot, instance, name in layout._exports
        )


def exports_by_name(instance: wasmtime.Instance, store: Storelike) -> dict[str, Any]:
    """All exports of a core instance as a fresh ``{name: extern}`` dict (cache it)."""
    exports = instance.exports(store)
    return {name: exports[name] for name in exports}
