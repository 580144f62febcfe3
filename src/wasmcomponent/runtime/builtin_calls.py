"""The ``canon`` built-ins of a component using async, as core functions.

Each built-in (``concurrent.builtins``) becomes a core function of the
instance: a plain host function, or, for the ones that may block, a
suspendable one (``_engine.suspend``): ``begin`` runs the built-in's
generator until it blocks, the fiber suspends, and ``step`` resumes the
generator when the scheduler resumes the thread.  Also here: the async half
of each runtime component instance (:func:`async_instance`) and the
``realloc`` that runs with context slots of its own.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import wasmtime

from .._engine import RawFunc, func_identity, make_host_func
from .._engine.suspend import called_from_poll, suspendable_func
from ..abi import lift as interp_lift
from ..abi import lower as interp_lower
from ..abi.buffers import element_codec
from ..abi.compile import compile_task_return
from ..concurrent.builtins import BuiltinEnv, build
from ..concurrent.scheduler import detached_thread, scheduler_of
from ..concurrent.tasks import AsyncInstance
from ..concurrent.traps import trap
from ..translate import plan as p
from ..types import model
from ..types.abi import MAX_FLAT_PARAMS, flatten_types
from ..validate.canon import BUILTIN_SIGNATURES

__all__ = ["async_instance", "builtin_trampoline", "core_function", "in_fresh_context", "memory_key", "single_result"]


def async_instance(state: Any, component_instance: int) -> AsyncInstance:
    """The ``AsyncInstance`` of runtime component instance ``component_instance`` (one per state)."""
    found: Optional[dict[int, AsyncInstance]] = getattr(state, "async_instances", None)
    if found is None:
        found = state.async_instances = {}
    inst = found.get(component_instance)
    if inst is None:
        handles = state.handles.tables[component_instance]
        inst = found[component_instance] = AsyncInstance(scheduler_of(state.store), state.flags[component_instance], handles)
    return inst


def single_result(values: Any) -> Any:
    """``make_host_func`` callbacks return None, one value, or a sequence."""
    if values is None:
        return None
    values = tuple(values)
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return values


def core_function(
    state: Any,
    params: tuple[str, ...],
    results: tuple[str, ...],
    impl: Callable[..., Any],
    blocking: bool,
) -> wasmtime.Func:
    """A core function running ``impl``; a generator ``impl`` if it may block."""
    store = state.store
    if not blocking:
        return make_host_func(store, params, results, impl)
    scheduler = scheduler_of(store)
    box: list[Any] = [None]

    def begin(*args: Any) -> int:
        body = impl(*args)
        thread = scheduler.current
        try:
            body.send(None)
        except StopIteration as stop:
            box[0] = stop.value
            return 0
        assert thread is not None
        if thread.uses_fiber and called_from_poll(thread.poll_frame, 1):
            thread.pending = body
            return 1
        box[0] = scheduler.block_nested(thread, body)
        return 0

    def step() -> int:
        thread = scheduler.current
        assert thread is not None and thread.pending is not None
        try:
            thread.pending.send(thread.resume_value)
        except StopIteration as stop:
            thread.pending = None
            box[0] = stop.value
            return 0
        return 1

    def finish() -> Any:
        value, box[0] = box[0], None
        return single_result(value) if isinstance(value, tuple) else value

    return suspendable_func(store, state.component._engine, params, results, begin, step, finish)


def in_fresh_context(state: Any, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (a ``realloc``) run as wasmtime runs it: with context slots of its own.

    The runtime calls ``realloc`` while lowering values, outside the guest's
    own control flow; its ``context.set`` must not touch the slots of the
    task it lowers for (wasmtime's ``task-builtins.wast``).
    """
    scheduler = scheduler_of(state.store)

    def call(*args: Any) -> Any:
        previous = scheduler.current
        scheduler.current = detached_thread(scheduler, previous)
        try:
            return func(*args)
        finally:
            scheduler.current = previous

    return call


# ------------------------------------------------------------------ built-ins




def _signature(state: Any, builtin: p.Builtin) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if builtin.name == "task.return":
        memory64 = _memory64(state, builtin.options)
        flat = flatten_types([builtin.result] if builtin.result is not None else [], memory64)
        if len(flat) > MAX_FLAT_PARAMS:
            flat = ("i64",) if memory64 else ("i32",)
        return tuple(flat), ()
    if builtin.name == "context.get":
        return (), ("i32",)  # i64 slots are refused when the component is translated
    if builtin.name == "context.set":
        return ("i32",), ()
    return BUILTIN_SIGNATURES[builtin.name]


def _memory64(state: Any, options: Optional[int]) -> bool:
    if options is None or state.plan.options[options].memory is None:
        return False
    return bool(state.runtime_options(options).canonical.memory64)


def builtin_trampoline(state: Any, builtin: p.Builtin) -> wasmtime.Func:
    """The core function of a ``canon`` built-in in this instance."""
    inst = async_instance(state, builtin.component_instance)
    options = None if builtin.options is None else state.runtime_options(builtin.options)
    odef = None if builtin.options is None else state.plan.options[builtin.options]
    encoding = "utf8" if odef is None else odef.string_encoding
    memory64 = _memory64(state, builtin.options)
    contexts: list[Any] = []

    def make_cx() -> Any:
        if not contexts:
            if options is None:
                raise trap("built-in needs a memory")
            contexts.append(options.context())
        return contexts[0]

    codec = None
    if builtin.type is not None:
        codec = element_codec(getattr(builtin.type, "payload", None), encoding, memory64)
    env = BuiltinEnv(
        scheduler=inst.scheduler,
        inst=inst,
        builtin=builtin,
        memory=None if options is None else options.memory,
        make_cx=make_cx,
        codec=codec,
        is_async=bool(odef is not None and odef.is_async),
        lift_return=compile_task_return(builtin.result, encoding, memory64) if builtin.name == "task.return" else None,
        return_key=(builtin.result, encoding, memory_key(options)),
        table_get=_table_getter(state, builtin) if builtin.table is not None else None,
        debug_message_lift=_lift_message,
        debug_message_store=_store_message,
    )
    impl, blocking = build(env)
    params, results = _signature(state, builtin)
    return core_function(state, params, results, impl, blocking)


def memory_key(options: Any) -> Optional[bytes]:
    """Which memory resolved options use (two aliases of one memory compare equal)."""
    memory = None if options is None else options.memory
    return None if memory is None else memory.identity()


def _lift_message(cx: Any, ptr: int, units: int) -> str:
    value = interp_lift.lift_flat(cx, interp_lift.CoreValueIter([ptr, units]), model.STRING)
    return str(value)


def _store_message(cx: Any, message: str, ptr: int) -> None:
    ptr &= 0xFFFFFFFF
    memory = cx.memory
    if memory is None or ptr % 4 or ptr + 8 > memory.size():
        raise trap("invalid debug message pointer: out of bounds")
    interp_lower.store(cx, message, model.STRING, ptr)


def _table_getter(state: Any, builtin: p.Builtin) -> Callable[[int], tuple[Any, Any]]:
    assert builtin.table is not None
    table = state.core_def(builtin.table)
    store = state.store
    expected = builtin.core_type
    # Checked functions by identity (a table slot may be set again, so the
    # slot is read every time; the reflection and RawFunc are made once).
    checked: dict[bytes, tuple[Any, Any]] = {}

    def get(index: int) -> tuple[Any, Any]:
        if index >= table.size(store):
            raise trap("undefined element: out of bounds table access")
        func = table.get(store, index)
        if not isinstance(func, wasmtime.Func):
            raise trap("the start function index points to an uninitialized function")
        key = func_identity(func)
        found = checked.get(key)
        if found is None:
            ty = func.type(store)
            params = tuple(str(t) for t in ty.params)
            results = tuple(str(t) for t in ty.results)
            if expected is not None and (params, results) != (tuple(expected[0]), tuple(expected[1])):
                raise trap("start function does not match expected type (currently only `(i32) -> ()` is supported)")
            found = checked[key] = (func, RawFunc(store, func).call)
        return found

    return get
