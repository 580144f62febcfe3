"""The runtime side of Component Model async: async exports, adapters and host imports.

A component whose plan ``uses_async`` runs its calls through ``concurrent``:

* every exported lifted function becomes a task (``concurrent.tasks.canon_lift``)
  driven by the store's scheduler until it returns (``func(store, ...)``
  traps with wasmtime's deadlock message when nothing can make progress);
* every fused guest-to-guest adapter is a ``canon_lower`` into a new task of
  the callee, so built-ins always see the right current task;
* each ``canon`` built-in becomes a core function (``builtin_calls``).

Components without async keep the synchronous paths of ``func``/``trampolines``
untouched, so they do not pay for any of this.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable, Optional

import wasmtime

from .._engine import RawFunc, make_host_func
from ..abi.compile import compile_func
from ..abi.inline import is_inline_scalar
from ..concurrent.aio import start_host_coroutine, wait_on
from ..concurrent.host import HostPending
from ..concurrent.scheduler import Scheduler, scheduler_of
from ..concurrent.tasks import (
    ArgumentsRejected,
    AsyncInstance,
    LiftedCallee,
    Task,
    canon_lift,
    canon_lower,
    lift_now,
)
from ..concurrent.traps import cannot_block_sync, trap
from ..translate import plan as p
from ..types.abi import flatten_functype
from .builtin_calls import async_instance, core_function, memory_key, single_result
from .call import get_store_state
from .handles import CallScope, cannot_enter, cannot_leave, func_has_handles

__all__ = ["async_export", "async_adapter", "async_lower_import", "concurrent_import", "lifted_callee"]


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
        return_key=(lifted.type.result, odef.string_encoding, memory_key(options)),
        # An instance that calls an ``async def`` host function through a sync
        # lower waits mid-call, whatever the type of the task.
        always_fiber=state.plan.uses_threads or odef.component_instance in state.coroutine_callers,
        may_suspend=_may_suspend(state.plan, odef.component_instance) or odef.component_instance in state.coroutine_callers,
        threads_visible=state.plan.has_thread_builtins,
        scalar_params=all(is_inline_scalar(t) for _, t in lifted.type.params),
        params=lifted.type.params,
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

    def start(args: tuple, on_resolve: Callable[[Optional[tuple]], None]) -> Task:
        if store_state.poisoned or scheduler.poisoned or not callee.inst.flags.may_enter:
            raise cannot_enter()
        scope = CallScope() if scoped else None
        try:
            task = lift_now(scheduler, callee, args, on_resolve, scope)
            if task is None:
                task = canon_lift(scheduler, callee, lambda: args, on_resolve, scope)
        except ArgumentsRejected as rejected:
            raise rejected.error from None
        except BaseException:
            store_state.poisoned = scheduler.poisoned = True
            raise
        return task

    def invoke(store: Any, args: tuple) -> Any:
        # ``start`` and ``_returned`` written out: this is every sync call's path.
        if store_state.poisoned or scheduler.poisoned or not callee.inst.flags.may_enter:
            raise cannot_enter()
        box: list[Optional[tuple]] = []
        scope = CallScope() if scoped else None
        scheduler.sync_runs += 1
        try:
            if lift_now(scheduler, callee, args, box.append, scope) is None:
                canon_lift(scheduler, callee, lambda: args, box.append, scope)
            # As wasmtime's ``call_async``: return at ``task.return``; what the
            # task does afterwards stays queued for the next run of the loop.
            if not box:
                scheduler.run_until(lambda: bool(box))
        except ArgumentsRejected as rejected:
            raise rejected.error from None
        except BaseException:
            store_state.poisoned = scheduler.poisoned = True
            raise
        finally:
            scheduler.sync_runs -= 1
        result = box[0]
        if result is None:
            raise trap("task was cancelled before returning")
        return result[0]

    async def run_async(store: Any, args: tuple) -> Any:
        # ``box`` says whether the task resolved; the future wakes the caller
        # (cancelling the caller cancels the future, not the task).
        box: list[Optional[tuple]] = []
        task = start(args, box.append)
        if box:  # returned at once (the common case): no future, no driver
            return _returned(box[0])
        returned: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_resolve(result: Optional[tuple]) -> None:
            box.append(result)
            if not returned.done():
                returned.set_result(None)

        task.on_resolve = on_resolve  # from now on the caller is woken too
        try:
            await wait_on(scheduler, returned)
        except asyncio.CancelledError:
            _cancel_task(scheduler, task, box)
            raise
        except BaseException:
            store_state.poisoned = scheduler.poisoned = True
            raise
        return _returned(box[0])

    invoke.run_async = run_async  # type: ignore[attr-defined]  # read by ``Func.call_async``
    return invoke


def _returned(result: Optional[tuple]) -> Any:
    if result is None:
        raise trap("task was cancelled before returning")
    return result[0]


def _cancel_task(scheduler: Scheduler, task: Task, box: list) -> None:
    """The host cancelled the ``call_async`` awaiting ``task``: cancel the guest task (``task.cancel``).

    The guest sees the cancellation at once if it waits cancellably, and the
    threads that then become ready run to their next wait, so a guest that
    handles it resolves the task before this returns; one that ignores it
    is left to finish (or wait) as it will, as when wasmtime drops the future
    of a call.  A trap meanwhile poisons the store, as always.
    """
    if box or scheduler.poisoned:
        return
    task.request_cancellation(None)
    try:
        while not box:
            thread = scheduler.next_ready()
            if thread is None:
                return
            scheduler.resume(thread)
    except BaseException:
        scheduler.poisoned = True
        raise


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
        return make_host_func(state.store, params, results, lambda *flat: single_result(_run_to_end(call(*flat))))
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


def concurrent_import(
    state: Any,
    trampoline: p.LowerImport,
    host: Callable[..., Any],
    coroutine: bool = False,
    sync_form: Optional[Callable[..., Any]] = None,
) -> wasmtime.Func:
    """A lowered host function that may answer later.

    It returns a ``HostPending`` (the conformance host's "answer later"), or
    it is an ``async def`` (``coroutine``) whose coroutine runs on the asyncio
    loop (``concurrent.aio``).  An async lower is a ``canon_lower`` whose
    callee is the host: it returns STARTED and a subtask while the result is
    pending, and ``subtask.cancel`` cancels the coroutine.  A sync lower blocks
    the calling thread until the result arrives; for a coroutine it does so
    whatever the task's type (the core code is suspended, as wasmtime does
    for a host function defined with ``func_wrap_async``).  ``sync_form`` is
    the same function's synchronous form (an ``async_variant``'s original),
    run instead when a synchronous host call drives the store.
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
    import_name = state.plan.imports[trampoline.func.import_index][0]
    name = "#".join((import_name, *trampoline.func.path))

    def outcome_of(args: Any) -> Any:
        """Call the host; a coroutine becomes a ``HostPending`` fed by the loop."""
        if sync_form is not None and scheduler.sync_runs:
            return sync_form(store, *args)  # a sync call: nothing could await a coroutine
        outcome = host(store, *args)
        if not coroutine or not inspect.isawaitable(outcome):
            return outcome
        pending = HostPending()
        pending.on_cancel = start_host_coroutine(scheduler, outcome, pending.resolve, name)
        return pending

    def call(*flat: Any) -> Any:
        if not flags.may_leave:
            raise cannot_leave()
        thread = scheduler.current
        if thread is None:
            raise cannot_block_sync()
        scope = CallScope() if scoped else None

        lift_params, lower_results = _caller_side(compiled, cx, flags, flat, scope)
        if coroutine and not is_async:
            return (yield from _wait_for_host(thread, outcome_of(lift_params()), lower_results, scope))

        def start(on_start: Any, on_resolve: Any, caller: Any) -> Any:
            outcome = outcome_of(on_start())

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


def _wait_for_host(thread: Any, outcome: Any, lower_results: Callable[[Any], Any], scope: Any) -> Any:
    """A sync lower of a host coroutine: block ``thread`` (not cancellable) until it returns."""
    if isinstance(outcome, HostPending):
        if not outcome.done:
            thread.start_waiting(lambda: outcome.done)
            yield from thread.block(False)
        outcome = outcome.value
    if scope is not None:
        scope.exit_host_call()
    return tuple(lower_results(outcome))
