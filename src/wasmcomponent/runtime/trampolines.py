"""Core functions synthesized by the runtime: lowered imports and fused adapters.

A ``canon lower`` of a host function becomes a core function whose callback
checks the caller's ``may_leave`` flag, lifts the core arguments into Python
values, calls the host function with a store context first (as wasmtime-py
does), and lowers the result back, through the caller's out-pointer when it
does not fit in one core value.

A ``canon lower`` of a function lifted by another instance of the same
component is a *fused adapter*.  wasmtime compiles these to core code; here
they are Python trampolines that lift from the caller's options into Python
values and call the callee through ``LiftedCall`` (which lowers into the
callee's options).  Strings are transcoded for free along the way, since they
pass through Python ``str``.

When the signature carries ``own``/``borrow`` handles, each call gets a
``CallScope`` (see ``runtime.handles``): a host function's borrowed
``ResourceAny`` values expire when it returns, and an adapter lends the
caller's handles into the callee's scope.  ``resource.new``/``rep``/``drop``
trampolines come from ``handles.resource_intrinsic``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import wasmtime

from .._engine import HostSnippets, make_host_func
from ..abi.compile import (
    compile_func,
    flat_scalar_lowerer,
    inline_lift,
    inline_lower,
    is_inline_scalar,
)
from ..errors import ComponentTrap
from ..translate import plan as p
from ..types import model
from ..types.abi import MAX_FLAT_PARAMS, flatten_functype
from .call import LiftedCall, cannot_enter, cannot_leave
from .handles import CallScope, func_has_handles, resource_intrinsic
from .linker import FuncDefinition, TrapDefinition


def unknown_import_trap(name: str) -> ComponentTrap:
    return ComponentTrap(f"unknown import: `{name}` has not been defined")


def create_trampoline(state: Any, index: int) -> wasmtime.Func:
    """Create the core function for ``Plan.trampolines[index]`` in ``state``'s store."""
    trampoline = state.plan.trampolines[index]
    if isinstance(trampoline, p.LowerImport):
        return _lower_import(state, trampoline)
    if isinstance(trampoline, p.LowerLifted):
        return _lower_lifted(state, trampoline)
    return resource_intrinsic(state, trampoline)


def _lower_import(state: Any, trampoline: p.LowerImport) -> wasmtime.Func:
    definition = state.host_item(trampoline.func)
    core_type = flatten_functype(trampoline.type, "lower")
    options = state.runtime_options(trampoline.options)
    compiled = compile_func(trampoline.type, options.canonical.string_encoding)
    flags = options.flags
    cx = options.context()
    lift_params = compiled.lift_params
    lower_results = compiled.lower_results

    if isinstance(definition, TrapDefinition):
        name = definition.name

        def trap(*flat: Any) -> Any:
            raise unknown_import_trap(name)

        return make_host_func(state.store, core_type.params, core_type.results, trap)

    assert isinstance(definition, FuncDefinition)
    host = definition.func
    has_result = trampoline.type.result is not None

    def finish(result: Any, flat: Sequence[Any]) -> Any:
        if not has_result:
            if result is not None:
                raise TypeError("host function returned a value, but the function type has no result")
            return None
        flags.may_leave = False
        try:
            return _single(lower_results(cx, result, flat))
        finally:
            flags.may_leave = True

    def call_host(context: wasmtime.StoreContext, *flat: Any) -> Any:
        if not flags.may_leave:
            raise cannot_leave()
        args = lift_params(cx, flat)
        return finish(host(context, *args), flat)

    def call_host_scoped(context: wasmtime.StoreContext, *flat: Any) -> Any:
        # Borrows lent to the host function expire when it returns.
        if not flags.may_leave:
            raise cannot_leave()
        scope = CallScope()
        previous = cx.scope
        cx.scope = scope
        try:
            args = lift_params(cx, flat)
            result = host(context, *args)
        finally:
            cx.scope = previous
            scope.exit_host_call()
        return finish(result, flat)

    if not compiled.interpreted and _all_inline(trampoline.type):
        return _scalar_import(state, trampoline, core_type, host, flags)
    callback = call_host_scoped if func_has_handles(trampoline.type) else call_host
    return make_host_func(state.store, core_type.params, core_type.results, callback, with_context=True)


def _all_inline(ft: model.FuncType) -> bool:
    """Whether every parameter and the result are one-slot scalars handled inline."""
    types = [t for _, t in ft.params]
    return (
        all(is_inline_scalar(t) for t in types)
        and len(types) <= MAX_FLAT_PARAMS
        and (ft.result is None or is_inline_scalar(ft.result))
    )


def _scalar_import(
    state: Any, trampoline: p.LowerImport, core_type: Any, host: Any, flags: Any
) -> wasmtime.Func:
    """A host import whose trampoline calls ``host`` straight from the native callback.

    The conversions are spliced into the engine's trampoline (see
    ``HostSnippets``): the ``may_leave`` check, lifting each core argument,
    and the checked lowering of the result, whose slow path is the compiled
    lowerer (the same errors as the general path).
    """
    ft = trampoline.type
    args = tuple(inline_lift(t, f"a{i}") for i, (_, t) in enumerate(ft.params))
    if ft.result is None:
        result: tuple[str, ...] = (
            "if r is not None:",
            "    raise TypeError('host function returned a value, but the function type has no result')",
        )
        slow_result: Any = None
    else:
        result = tuple(inline_lower(ft.result, "r", "slow_result"))
        slow_result = flat_scalar_lowerer(ft.result, None)
    snippets = HostSnippets(
        prologue=("if not flags.may_leave:", "    raise cannot_leave()"),
        args=args,
        result=result,
        env_names=("flags", "cannot_leave", "slow_result"),
    )
    return make_host_func(
        state.store,
        core_type.params,
        core_type.results,
        host,
        with_context=True,
        snippets=snippets,
        env=(flags, cannot_leave, slow_result),
    )


def _lower_lifted(state: Any, trampoline: p.LowerLifted) -> wasmtime.Func:
    core_type = flatten_functype(trampoline.type, "lower")
    plan = state.plan
    caller = plan.options[trampoline.options].component_instance
    callee_instance = plan.options[trampoline.callee.options].component_instance
    if (
        caller == callee_instance
        or callee_instance in plan.ancestors(caller)
        or caller in plan.ancestors(callee_instance)
    ):
        # As wasmtime's adapters: an instance calling itself or an ancestor or
        # descendant could re-enter it, so the adapter traps unconditionally.
        def trap(*flat: Any) -> Any:
            raise cannot_enter()

        return make_host_func(state.store, core_type.params, core_type.results, trap)
    options = state.runtime_options(trampoline.options)
    compiled = compile_func(trampoline.type, options.canonical.string_encoding)
    flags = options.flags
    cx = options.context(fused=True)
    callee = LiftedCall(state, trampoline.callee, fused=True)
    lift_params = compiled.lift_params
    lower_results = compiled.lower_results
    has_result = trampoline.type.result is not None

    scoped = func_has_handles(trampoline.type)

    def adapter(*flat: Any) -> Any:
        if not flags.may_leave:
            raise cannot_leave()
        scope: Optional[CallScope] = None
        if scoped:
            # The caller's borrows are lent into the callee's scope.
            scope = CallScope()
            previous = cx.scope
            cx.scope = scope
            try:
                args = lift_params(cx, flat)
            finally:
                cx.scope = previous
        else:
            args = lift_params(cx, flat)
        if not has_result:
            callee.invoke(args, scope)
            return None

        def lower_into_caller(result: Any) -> Any:
            # Runs before the callee's post-return, as wasmtime's adapters do,
            # so lazily lifted strings and lists are still valid.
            flags.may_leave = False
            try:
                return _single(lower_results(cx, result, flat))
            finally:
                flags.may_leave = True

        return callee.invoke(args, scope, lower_into_caller)

    return make_host_func(state.store, core_type.params, core_type.results, adapter)


def _single(flat: Sequence[Any]) -> Any:
    """``make_host_func`` callbacks return None, one value, or a sequence."""
    if not flat:
        return None
    if len(flat) == 1:
        return flat[0]
    return flat
