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

from typing import Any, NamedTuple, Optional, Sequence

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
    if state.uses_async:
        found = _async_trampoline(state, trampoline)
        if found is not None:
            return found
    if isinstance(trampoline, p.LowerImport):
        recipes = state.prepared.recipes
        recipe = recipes[index]
        if recipe is None:
            recipe = recipes[index] = _import_recipe(state, trampoline)
        return _lower_import(state, trampoline, recipe)
    if isinstance(trampoline, p.LowerLifted):
        return _lower_lifted(state, trampoline)
    return resource_intrinsic(state, trampoline)


def _async_trampoline(state: Any, trampoline: Any) -> Optional[wasmtime.Func]:
    """The trampolines that differ in a component using async (see ``async_calls``)."""
    from .async_calls import async_adapter, async_lower_import, concurrent_import
    from .builtin_calls import builtin_trampoline

    if isinstance(trampoline, p.Builtin):
        return builtin_trampoline(state, trampoline)
    if isinstance(trampoline, p.LowerLifted):
        return async_adapter(state, trampoline)
    if isinstance(trampoline, p.LowerImport):
        definition = state.host_item(trampoline.func)
        if isinstance(definition, FuncDefinition):
            coroutine = state.coroutine_definition(trampoline)
            if coroutine is not None:
                sync_form = definition.func if coroutine is not definition.func else None
                return concurrent_import(state, trampoline, coroutine, True, sync_form)
            if definition.concurrent:
                return concurrent_import(state, trampoline, definition.func)
            if state.plan.options[trampoline.options].is_async:
                return async_lower_import(state, trampoline, definition.func)
    return None


class ImportRecipe(NamedTuple):
    """The store-independent part of a lowered host import (cached per linker and component)."""

    definition: Any  # FuncDefinition or TrapDefinition
    params: tuple[str, ...]  # core signature
    results: tuple[str, ...]
    compiled: Any  # abi.compile.CompiledFunc
    scalar: bool  # every value a one-slot scalar: conversions spliced into the trampoline
    scoped: bool  # handles in the signature: each call gets a CallScope
    snippets: Optional[HostSnippets]  # for ``scalar``
    slow_result: Any  # for ``scalar``


def _import_recipe(state: Any, trampoline: p.LowerImport) -> ImportRecipe:
    definition = state.host_item(trampoline.func)
    # The width of the caller's memory is a property of the component, so
    # the recipe may still be shared by every instance of it.
    memory64 = _memory64(state, trampoline.options)
    core_type = flatten_functype(trampoline.type, "lower", memory64)
    encoding = state.plan.options[trampoline.options].string_encoding
    compiled = compile_func(trampoline.type, encoding, memory64=memory64)
    scalar = isinstance(definition, FuncDefinition) and not compiled.interpreted and _all_inline(trampoline.type)
    snippets: Optional[HostSnippets] = None
    slow_result: Any = None
    if scalar:
        snippets, slow_result = _scalar_snippets(trampoline.type)
    return ImportRecipe(
        definition,
        tuple(core_type.params),
        tuple(core_type.results),
        compiled,
        scalar,
        func_has_handles(trampoline.type),
        snippets,
        slow_result,
    )


def _memory64(state: Any, options: int) -> bool:
    """Whether the ``memory`` option of ``Plan.options[options]`` names a 64-bit memory."""
    if state.plan.options[options].memory is None:
        return False
    return bool(state.runtime_options(options).canonical.memory64)


def host_context(state: Any, options: Any) -> Any:
    """The lift/lower context shared by the host imports of one resolved options.

    Sharing is safe for the same reason one import may be re-entered: a call
    sets ``scope`` (restoring the previous one on exit) and refuels before
    lifting, and nothing else in a host (non-fused) context changes per call.
    """
    contexts = state.host_contexts
    cx = contexts.get(id(options))
    if cx is None:
        cx = contexts[id(options)] = options.context()
    return cx


class FastLowerEnv(NamedTuple):
    """What a ``FuncDefinition.fast`` factory gets to build a direct core implementation."""

    state: Any  # the InstanceState
    type: model.FuncType
    options: Any  # runtime.call.RuntimeOptions of the caller
    cx: Any  # its HandleContext (handle table, resources, memory, messages)
    flags: Any  # the caller's ComponentInstanceFlags
    compiled: Any  # the general lifters/lowerers, for rare cases


def _lower_import(state: Any, trampoline: p.LowerImport, recipe: ImportRecipe) -> wasmtime.Func:
    definition = recipe.definition
    store = state.store
    if isinstance(definition, TrapDefinition):
        name = definition.name

        def trap(*flat: Any) -> Any:
            raise unknown_import_trap(name)

        return make_host_func(store, recipe.params, recipe.results, trap)

    assert isinstance(definition, FuncDefinition)
    host = definition.func
    options = state.runtime_options(trampoline.options)
    flags = options.flags
    if recipe.scalar:
        assert recipe.snippets is not None
        return make_host_func(
            store,
            recipe.params,
            recipe.results,
            host,
            with_context=True,
            snippets=recipe.snippets,
            env=(flags, cannot_leave, recipe.slow_result),
        )
    compiled = recipe.compiled
    cx = host_context(state, options)
    # Direct implementations (WASI) write 32-bit pointers: not for a 64-bit memory.
    if definition.fast is not None and not options.canonical.memory64:
        direct = definition.fast(FastLowerEnv(state, trampoline.type, options, cx, flags, compiled))
        if direct is not None:
            return make_host_func(store, recipe.params, recipe.results, direct)
    make = _scoped_host_call if recipe.scoped else _host_call
    callback = make(host, flags, cx, compiled.lift_params, compiled.lower_results, trampoline.type.result is not None)
    return make_host_func(store, recipe.params, recipe.results, callback, with_context=True)


# The two callbacks of a general host import live in their own small factories
# so each captures only what it uses: one closure per import, few cells.


def _host_call(
    host: Any, flags: Any, cx: Any, lift_params: Any, lower_results: Any, has_result: bool
) -> Any:
    def call_host(context: wasmtime.StoreContext, *flat: Any) -> Any:
        if not flags.may_leave:
            raise cannot_leave()
        return _finish(host(context, *lift_params(cx, flat)), flat, flags, cx, lower_results, has_result)

    return call_host


def _scoped_host_call(
    host: Any, flags: Any, cx: Any, lift_params: Any, lower_results: Any, has_result: bool
) -> Any:
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
        return _finish(result, flat, flags, cx, lower_results, has_result)

    return call_host_scoped


def _finish(result: Any, flat: tuple[Any, ...], flags: Any, cx: Any, lower_results: Any, has_result: bool) -> Any:
    """Lower a host function's ``result`` (``may_leave`` cleared meanwhile) into its core results."""
    if not has_result:
        if result is not None:
            raise TypeError("host function returned a value, but the function type has no result")
        return None
    flags.may_leave = False
    try:
        return _single(lower_results(cx, result, flat))
    finally:
        flags.may_leave = True


def _all_inline(ft: model.FuncType) -> bool:
    """Whether every parameter and the result are one-slot scalars handled inline."""
    types = [t for _, t in ft.params]
    return (
        all(is_inline_scalar(t) for t in types)
        and len(types) <= MAX_FLAT_PARAMS
        and (ft.result is None or is_inline_scalar(ft.result))
    )


def _scalar_snippets(ft: model.FuncType) -> tuple[HostSnippets, Any]:
    """The trampoline snippets of a host import whose values are all one-slot scalars.

    The conversions are spliced into the engine's trampoline (see
    ``HostSnippets``) so ``host`` runs straight from the native callback: the
    ``may_leave`` check, lifting each core argument, and the checked lowering
    of the result, whose slow path is the compiled lowerer (the same errors
    as the general path).  Env names: ``flags``, ``cannot_leave``, ``slow_result``.
    """
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
    return snippets, slow_result


def _lower_lifted(state: Any, trampoline: p.LowerLifted) -> wasmtime.Func:
    core_type = flatten_functype(trampoline.type, "lower", _memory64(state, trampoline.options))
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
    compiled = compile_func(
        trampoline.type, options.canonical.string_encoding, memory64=options.canonical.memory64
    )
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
