"""The runtime side of Component Model async: built-ins, async exports and adapters.

A component whose plan ``uses_async`` runs its calls through ``concurrent``:

* every exported lifted function becomes a task (``concurrent.tasks.canon_lift``)
  driven by the store's scheduler until it returns (``func(store, ...)``
  traps with wasmtime's deadlock message when nothing can make progress);
* every fused guest-to-guest adapter is a ``canon_lower`` into a new task of
  the callee, so built-ins always see the right current task;
* each ``canon`` built-in becomes a core function: a plain host function, or
  for the ones that may block a suspendable one (``_engine.suspend``).

Components without async keep the synchronous paths of ``func``/``trampolines``
untouched, so they do not pay for any of this.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import wasmtime

from .._engine import RawFunc, func_identity, make_host_func
from .._engine.suspend import called_from_poll, suspendable_func
from ..abi import lift as interp_lift
from ..abi import lower as interp_lower
from ..abi.buffers import element_codec
from ..abi.compile import compile_func, compile_task_return
from ..abi.inline import is_inline_scalar
from ..concurrent.builtins import BuiltinEnv, build
from ..concurrent.host import HostPending
from ..concurrent.scheduler import Scheduler, detached_thread, scheduler_of
from ..concurrent.tasks import AsyncInstance, LiftedCallee, Task, canon_lift, canon_lower, lift_now
from ..concurrent.traps import cannot_block_sync, trap
from ..translate import plan as p
from ..types import model
from ..types.abi import MAX_FLAT_PARAMS, flatten_functype, flatten_types
from ..validate.canon import BUILTIN_SIGNATURES
from .call import get_store_state
from .handles import CallScope, cannot_enter, cannot_leave, func_has_handles

__all__ = ["async_instance", "builtin_trampoline", "async_export", "async_adapter", "async_lower_import"]


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


def _single(values: Any) -> Any:
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
        return _single(value) if isinstance(value, tuple) else value

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
        return_key=(builtin.result, encoding, _memory_key(options)),
        table_get=_table_getter(state, builtin) if builtin.table is not None else None,
        debug_message_lift=_lift_message,
        debug_message_store=_store_message,
    )
    impl, blocking = build(env)
    params, results = _signature(state, builtin)
    return core_function(state, params, results, impl, blocking)


def _memory_key(options: Any) -> Optional[bytes]:
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


# ------------------------------------------------------------------ lifted functions


def lifted_callee(state: Any, lifted: p.LiftedFunc, fused: bool = False) -> LiftedCallee:
    """What ``canon_lift`` needs for ``lifted`` in this instance."""
    options = state.runtime_options(lifted.options)
    odef = state.plan.options[lifted.options]
    core = state.core_def(lifted.core)
    raw = RawFunc(state.store, core)
    compiled = compile_func(
        lifted.type, odef.string_encoding, memory64=options.canonical.memory64, lift_async=odef.is_async
    )
    callback = None if odef.callback is None else state.core_def(odef.callback)
    cx = options.context(fused)
    return LiftedCallee(
        ft_async=lifted.type.is_async,
        inst=async_instance(state, odef.component_instance),
        is_async=odef.is_async,
        core=core,
        core_direct=raw.call,
        callback=callback,
        callback_direct=None if callback is None else RawFunc(state.store, callback).call,
        post_return=options.post_return,
        lower_params=compiled.lower_params,
        lift_results=None if odef.is_async else compiled.host_lift_results() if not fused else compiled.lift_results,
        cx=cx,
        result_count=len(raw.type.results),
        return_key=(lifted.type.result, odef.string_encoding, _memory_key(options)),
        always_fiber=state.plan.uses_threads,
        may_suspend=_may_suspend(state.plan, odef.component_instance),
        threads_visible=state.plan.has_thread_builtins,
        scalar_params=all(is_inline_scalar(t) for _, t in lifted.type.params),
    )


def _may_suspend(plan: p.Plan, component_instance: int) -> bool:
    """Whether threads of ``component_instance`` may stop mid-call (``Plan.suspending_instances``, cached)."""
    found: Optional[frozenset[int]] = getattr(plan, "_suspending", None)
    if found is None:
        found = plan.suspending_instances()
        plan._suspending = found  # type: ignore[attr-defined]
    return component_instance in found



def _start_call(scheduler: Scheduler, callee: LiftedCallee, scope: Any) -> Callable[..., Any]:
    def start(on_start: Any, on_resolve: Any, caller: Optional[AsyncInstance]) -> Any:
        if not callee.inst.flags.may_enter:
            raise cannot_enter()
        task: Task = canon_lift(scheduler, callee, on_start, on_resolve, scope)
        return task.request_cancellation

    return start


def async_export(state: Any, item: p.ExportFunc) -> Callable[[Any, tuple], Any]:
    """The ``invoke(store, args)`` of an exported function of an async-using component."""
    assert isinstance(item.func, p.LiftedFunc)
    callee = lifted_callee(state, item.func)
    scheduler = scheduler_of(state.store)
    store_state = get_store_state(state.store)
    scoped = func_has_handles(item.func.type)

    def invoke(store: Any, args: tuple) -> Any:
        if store_state.poisoned or scheduler.poisoned or not callee.inst.flags.may_enter:
            raise cannot_enter()
        box: list[Optional[tuple]] = []
        try:
            scope = CallScope() if scoped else None
            if lift_now(scheduler, callee, args, box.append, scope) is None:
                canon_lift(scheduler, callee, lambda: args, box.append, scope)
            # As wasmtime's ``call_async``: return at ``task.return``; what the
            # task does afterwards stays queued for the next run of the loop.
            if not box:
                scheduler.run_until(lambda: bool(box))
        except BaseException:
            store_state.poisoned = scheduler.poisoned = True
            raise
        result = box[0]
        if result is None:
            raise trap("task was cancelled before returning")
        return result[0]

    return invoke


# ------------------------------------------------------------------ lowered calls


def _run_to_end(body: Any) -> Any:
    """Run a generator that cannot block (an async lower) to its value."""
    try:
        body.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("an async lower blocked")


def _caller_side(
    compiled: Any, cx: Any, flags: Any, flat: tuple, scope: Optional[CallScope]
) -> tuple[Callable[[], Any], Callable[[Any], Any]]:
    """The caller's half of ``canon_lower``: lift its arguments (in the call's
    borrow scope) when the callee starts, lower the result (``may_leave`` clear)."""

    def lift_params() -> Any:
        previous = cx.scope
        cx.scope = scope
        try:
            return compiled.lift_params(cx, flat)
        finally:
            cx.scope = previous

    def lower_results(value: Any) -> Any:
        flags.may_leave = False
        try:
            return compiled.lower_results(cx, value, flat)
        finally:
            flags.may_leave = True

    return lift_params, lower_results


def _lowered(state: Any, core_type: Any, call: Callable[..., Any], is_async: bool) -> wasmtime.Func:
    """The core function of a lowered call: an async lower never blocks, a sync one may."""
    params, results = tuple(core_type.params), tuple(core_type.results)
    if is_async:
        return make_host_func(state.store, params, results, lambda *flat: _single(_run_to_end(call(*flat))))
    return core_function(state, params, results, call, True)


def async_adapter(state: Any, trampoline: p.LowerLifted) -> wasmtime.Func:
    """A fused adapter between two instances of an async-using component."""
    plan = state.plan
    caller_def = plan.options[trampoline.options]
    is_async = caller_def.is_async
    caller_options = state.runtime_options(trampoline.options)
    memory64 = caller_options.canonical.memory64
    core_type = flatten_functype(trampoline.type, "lower", memory64, is_async=is_async)
    caller = caller_def.component_instance
    callee_instance = plan.options[trampoline.callee.options].component_instance
    if caller == callee_instance or callee_instance in plan.ancestors(caller) or caller in plan.ancestors(callee_instance):
        # As wasmtime's adapters: a call between an instance and itself or an
        # ancestor could re-enter it, so the adapter traps unconditionally.
        def reenter(*flat: Any) -> Any:
            raise cannot_enter()

        return make_host_func(state.store, tuple(core_type.params), tuple(core_type.results), reenter)
    callee = lifted_callee(state, trampoline.callee, fused=True)
    scheduler = scheduler_of(state.store)
    caller_inst = async_instance(state, caller_def.component_instance)
    compiled = compile_func(trampoline.type, caller_def.string_encoding, memory64=memory64, lower_async=is_async)
    caller_cx = caller_options.context(fused=True)
    flags = caller_inst.flags
    scoped = func_has_handles(trampoline.type)
    callee_async = trampoline.callee.type.is_async

    def call(*flat: Any) -> Any:
        if not flags.may_leave:
            raise cannot_leave()
        thread = scheduler.current
        if thread is None or (not is_async and callee_async and not thread.may_block()):
            raise cannot_block_sync()
        scope = CallScope() if scoped else None
        start = _start_call(scheduler, callee, scope)

        lift_params, lower_results = _caller_side(compiled, caller_cx, flags, flat, scope)
        return (yield from canon_lower(thread, start, is_async, lift_params, lower_results, caller_inst))

    return _lowered(state, core_type, call, is_async)


def async_lower_import(state: Any, trampoline: p.LowerImport, host: Callable[..., Any]) -> wasmtime.Func:
    """``canon lower async`` of a Python host function: it runs at once and returns."""
    caller_def = state.plan.options[trampoline.options]
    caller_options = state.runtime_options(trampoline.options)
    memory64 = caller_options.canonical.memory64
    core_type = flatten_functype(trampoline.type, "lower", memory64, is_async=True)
    compiled = compile_func(trampoline.type, caller_def.string_encoding, memory64=memory64, lower_async=True)
    cx = caller_options.context()
    flags = caller_options.flags
    store = state.store
    has_result = trampoline.type.result is not None

    def call(context: wasmtime.StoreContext, *flat: Any) -> int:
        if not flags.may_leave:
            raise cannot_leave()
        args = compiled.lift_params(cx, flat)
        result = host(context, *args)
        if has_result:
            flags.may_leave = False
            try:
                compiled.lower_results(cx, result, flat)
            finally:
                flags.may_leave = True
        return 2  # Subtask.RETURNED

    return make_host_func(store, tuple(core_type.params), tuple(core_type.results), call, with_context=True)


def concurrent_import(state: Any, trampoline: p.LowerImport, host: Callable[..., Any]) -> wasmtime.Func:
    """A lowered host function that may answer later (it returns a ``HostPending``).

    Every call is a ``canon_lower`` whose callee is the host: an async lower
    returns STARTED and a subtask while the result is pending; a sync lower
    blocks the calling thread until it arrives.
    """
    caller_def = state.plan.options[trampoline.options]
    is_async = caller_def.is_async
    caller_options = state.runtime_options(trampoline.options)
    memory64 = caller_options.canonical.memory64
    core_type = flatten_functype(trampoline.type, "lower", memory64, is_async=is_async)
    compiled = compile_func(trampoline.type, caller_def.string_encoding, memory64=memory64, lower_async=is_async)
    cx = caller_options.context()
    caller_inst = async_instance(state, caller_def.component_instance)
    flags = caller_inst.flags
    scheduler = caller_inst.scheduler
    store = state.store
    scoped = func_has_handles(trampoline.type)

    def call(*flat: Any) -> Any:
        if not flags.may_leave:
            raise cannot_leave()
        thread = scheduler.current
        if thread is None:
            raise cannot_block_sync()
        scope = CallScope() if scoped else None

        lift_params, lower_results = _caller_side(compiled, cx, flags, flat, scope)

        def start(on_start: Any, on_resolve: Any, caller: Any) -> Any:
            args = on_start()
            outcome = host(store, *args)

            def finish(value: Any) -> None:
                if scope is not None:
                    scope.exit_host_call()
                on_resolve((value,))

            def cancel(_caller: Any) -> None:
                if isinstance(outcome, HostPending) and outcome.cancel():
                    if scope is not None:
                        scope.exit_host_call()
                    on_resolve(None)

            if isinstance(outcome, HostPending):
                outcome.on_done(finish)
            else:
                finish(outcome)
            return cancel

        return (yield from canon_lower(thread, start, is_async, lift_params, lower_results, caller_inst))

    return _lowered(state, core_type, call, is_async)
