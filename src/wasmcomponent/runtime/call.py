"""Calling a lifted function: the host-to-guest half of wasmtime's ``func.rs``.

``LiftedCall`` is built once per (instance, lifted function) and holds
everything a call needs, resolved ahead of time: the raw core callee, the
memory, ``realloc`` and ``post-return`` of its canonical options, the
instance's flags and the lift/lower code compiled for the signature.  Both
exported ``Func`` objects and fused guest-to-guest adapters call through it.

One call, with the flags the spec prescribes:

1. refuse entry if the store is poisoned or ``may_enter`` is clear
   ("cannot enter component instance"), then clear ``may_enter``;
2. lower the arguments with ``may_leave`` clear (a ``realloc`` that calls a
   host import traps "cannot leave component instance");
3. call the core function; if the signature carries handles, the call's
   borrow scope must then be empty ("borrow handles still remain at the end
   of the call") and the handles it lent are given back;
4. lift the results (a returned pointer is bounds- and alignment-checked);
5. run ``post-return`` with the flat results, ``may_leave`` clear;
6. set ``may_enter`` again.

A trap, or any exception escaping wasm, poisons the store as wasmtime 50
does: every later entry fails with "cannot enter component instance".  A
wasm exception escaping the callee becomes the trap "uncaught exception
propagated out of component".  A bad
Python argument is not a trap: the flags are restored and the instance stays
usable.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Sequence

from .._engine import GuestMemory, RawFunc, store_state
from ..abi.compile import CompiledFunc, compile_func
from ..abi.context import DEFAULT_HOSTCALL_FUEL, CanonicalOptions
from ..concurrent.scheduler import scheduler_of
from ..errors import ComponentTrap
from ..translate import plan as p
from ..types import model
from .handles import (
    CallScope,
    HandleContext,
    cannot_enter,
    cannot_leave,
    func_has_handles,
    is_uncaught_exception,
    make_context,
    uncaught_exception,
)

__all__ = [
    "CallPieces",
    "LiftedCall",
    "RuntimeOptions",
    "StoreState",
    "cannot_enter",
    "cannot_leave",
    "flat_results",
    "get_store_state",
]


class StoreState:
    """Component-level state of one ``wasmtime.Store``."""

    __slots__ = ("poisoned", "hostcall_fuel", "__weakref__")

    def __init__(self) -> None:
        self.poisoned = False
        self.hostcall_fuel = DEFAULT_HOSTCALL_FUEL


def get_store_state(store: Any) -> StoreState:
    return store_state(store, StoreState)


def hostcall_fuel(store: Any) -> int:
    """How many bytes one lift into the host may copy out of guest memory.

    Strings cost their byte length and lists 48 bytes per element, as in
    wasmtime-py; the budget refills for every host import call and every
    export's results.  A guest that makes the host copy more (for example
    a list of many strings that all point at the same bytes) traps.

    >>> import wasmtime
    >>> hostcall_fuel(wasmtime.Store()) == 128 << 20
    True
    """
    return get_store_state(store).hostcall_fuel


def set_hostcall_fuel(store: Any, fuel: int) -> None:
    """Set the hostcall fuel of ``store`` (see :func:`hostcall_fuel`)."""
    if not isinstance(fuel, int) or isinstance(fuel, bool) or fuel < 0:
        raise ValueError("hostcall fuel must be a non-negative int")
    get_store_state(store).hostcall_fuel = fuel


def concurrency_limit(store: Any) -> int:
    """How many async objects the component instances of a store may hold.

    Waitables (subtasks, stream and future ends), waitable sets and error
    contexts in the instances' handle tables, and threads in their thread
    tables, count against it (one table at every addition, the store's sum
    every 1,024 additions to a table); one more traps with wasmtime's
    "resource table has no free keys".  A guest that spawns subtasks or
    threads without bound then traps instead of exhausting host memory.

    >>> import wasmtime
    >>> concurrency_limit(wasmtime.Store())
    100000
    """
    return int(scheduler_of(store).max_handles)


def set_concurrency_limit(store: Any, limit: int) -> None:
    """Set the limit of :func:`concurrency_limit` for ``store``."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError("the concurrency limit must be a positive int")
    scheduler_of(store).max_handles = limit


class RuntimeOptions:
    """Canonical options resolved against one instance: memory, realloc, post-return, flags."""

    __slots__ = ("canonical", "memory", "realloc", "post_return", "flags", "_state", "_component_instance")

    def __init__(self, state: Any, options: p.OptionsDef) -> None:
        store = state.store
        self.memory: Optional[GuestMemory] = None
        memory64 = False
        if options.memory is not None:
            memory = state.core_def(options.memory)
            # A 64-bit memory makes pointers and lengths i64 (spec ``ptr_type``).
            memory64 = bool(memory.type(store).is_64)
            self.memory = GuestMemory(store, memory)
        self.canonical = CanonicalOptions(
            string_encoding=options.string_encoding,  # type: ignore[arg-type]
            has_memory=options.memory is not None,
            has_realloc=options.realloc is not None,
            has_post_return=options.post_return is not None,
            memory64=memory64,
        )
        self.realloc: Optional[Callable[[int, int, int, int], int]] = None
        if options.realloc is not None:
            self.realloc = RawFunc(store, state.core_def(options.realloc)).call
            if state.uses_async:
                from .builtin_calls import in_fresh_context

                self.realloc = in_fresh_context(state, self.realloc)
        self.post_return: Optional[Callable[..., Any]] = None
        if options.post_return is not None:
            self.post_return = RawFunc(store, state.core_def(options.post_return)).call
        self.flags = state.flags[options.component_instance]
        self._state = state
        self._component_instance = options.component_instance

    def context(self, fused: bool = False) -> HandleContext:
        """A fresh lift/lower context whose resource hooks use this instance's handle table."""
        cx = make_context(
            self._state, self._component_instance, self.canonical, self.memory, self.realloc, fused
        )
        cx.fuel_source = get_store_state(self._state.store)
        return cx


def flat_results(raw: Any, count: int) -> Sequence[Any]:
    """Normalise ``RawFunc.call``'s return value into a sequence of ``count`` values."""
    if count == 0:
        return ()
    if count == 1:
        return (raw,)
    return raw  # type: ignore[no-any-return]


class CallPieces(NamedTuple):
    """The resolved parts of one lifted function of one instance."""

    type: model.FuncType
    compiled: CompiledFunc
    raw: Callable[..., Any]
    result_count: int
    store_state: StoreState
    flags: Any
    post_return: Optional[Callable[..., Any]]
    cx: HandleContext
    has_handles: bool


class LiftedCall:
    """A lifted function of one instance, ready to call with Python values."""

    __slots__ = (
        "type",
        "param_count",
        "_store_state",
        "_flags",
        "_call",
        "_result_count",
        "_lower_params",
        "_lift_results",
        "_post_return",
        "_cx",
        "_has_handles",
        "_compiled",
    )

    def __init__(self, state: Any, lifted: p.LiftedFunc, fused: bool = False) -> None:
        options = state.runtime_options(lifted.options)
        raw = RawFunc(state.store, state.core_def(lifted.core))
        compiled = compile_func(
            lifted.type, options.canonical.string_encoding, memory64=options.canonical.memory64
        )
        self.type: model.FuncType = lifted.type
        self.param_count = len(lifted.type.params)
        self._store_state = get_store_state(state.store)
        self._flags = options.flags
        self._call = raw.call
        self._result_count = len(raw.type.results)
        self._lower_params = compiled.lower_params
        self._lift_results = compiled.lift_results
        self._post_return = options.post_return
        self._cx = options.context(fused)
        # Fused results are lowered into the caller before post-return runs.
        self._cx.lazy_results = fused
        self._has_handles = func_has_handles(lifted.type)
        self._compiled = compiled

    def pieces(self) -> CallPieces:
        """What a generated call path needs, resolved (see :mod:`.func`)."""
        return CallPieces(
            self.type,
            self._compiled,
            self._call,
            self._result_count,
            self._store_state,
            self._flags,
            self._post_return,
            self._cx,
            self._has_handles,
        )

    def invoke(
        self,
        args: Sequence[Any],
        scope: Optional[CallScope] = None,
        finish: Optional[Callable[[Any], Any]] = None,
    ) -> Any:
        """Call with ``args`` (already arity-checked); returns the lifted result.

        ``scope`` is the borrow scope of this call when the caller already
        made one (a fused adapter lends the caller's handles into it).
        ``finish``, if given, maps the lifted result before post-return runs
        and its value is returned instead (a fused adapter lowers the result
        into its caller there); a trap inside it poisons the store.
        """
        if self._store_state.poisoned or not self._flags.may_enter:
            raise cannot_enter()
        if not self._has_handles:
            return self._run(args, None, finish)
        # A signature with handles runs in a borrow scope.
        cx = self._cx
        previous = cx.scope
        cx.scope = scope = CallScope() if scope is None else scope
        try:
            return self._run(args, scope, finish)
        finally:
            cx.scope = previous

    def _run(
        self, args: Sequence[Any], scope: Optional[CallScope], finish: Optional[Callable[[Any], Any]]
    ) -> Any:
        store_state = self._store_state
        flags = self._flags
        cx = self._cx
        flags.may_enter = False
        flags.may_leave = False
        try:
            flat_args = self._lower_params(cx, args)
        except ComponentTrap:
            store_state.poisoned = True
            raise
        except BaseException:
            flags.may_enter = True  # a bad Python value is not a trap
            if scope is not None:
                scope.release_lends()
            raise
        finally:
            flags.may_leave = True
        try:
            raw = self._call(*flat_args)
            if scope is not None:
                scope.exit_guest_call()
            flat = flat_results(raw, self._result_count)
            result = self._lift_results(cx, flat)
            if finish is not None:
                result = finish(result)
            post_return = self._post_return
            if post_return is not None:
                flags.may_leave = False
                try:
                    post_return(*flat)
                finally:
                    flags.may_leave = True
        except BaseException as error:
            store_state.poisoned = True
            if is_uncaught_exception(error):
                raise uncaught_exception() from None
            raise
        flags.may_enter = True
        return result
