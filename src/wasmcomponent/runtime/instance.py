"""``Instance`` and the instantiator that executes a ``Plan``.

Instantiation is a plain loop over ``Plan.steps``: each step instantiates a
core module (static or imported) with the definitions of its imports, or
defines a resource type.  Core definitions are resolved on demand:
``CoreExport`` from the runtime core instances made so far, ``TrampolineRef``
by creating the synthesized core function the first time it is needed.

All mutable state lives in ``InstanceState``, one per instantiation; the plan
and the compiled modules are shared by every instance of a component.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

import wasmtime

from .._engine.core import CoreImports, ImportLayout, instantiate_imports, store_handle
from .._engine.exports import export_getter
from ..errors import LinkError, UnsupportedError
from ..translate import plan as p
from ..types import model
from .call import RuntimeOptions
from .component import Component, ExportIndex, lookup_export
from .handles import RuntimeResource, create_handles, define_resource
from .linker import (
    Definition,
    FuncDefinition,
    InstanceDefinition,
    ModuleDefinition,
    PreparedLink,
    UserFunc,
)
from .trampolines import create_trampoline

if TYPE_CHECKING:
    from .func import Func
    from .resources import ResourceType


class ComponentInstanceFlags:
    """The spec's per-component-instance ``may_enter``/``may_leave`` flags."""

    __slots__ = ("may_enter", "may_leave")

    def __init__(self) -> None:
        self.may_enter = True
        self.may_leave = True


def _asyncio_running() -> bool:
    """Whether an asyncio event loop runs in this thread (without importing asyncio if nothing did)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio._get_running_loop() is not None


class InstanceState:
    """Everything one instantiation of a component owns at run time."""

    def __init__(self, store: wasmtime.Storelike, component: Component, prepared: PreparedLink) -> None:
        # Host functions and per-store objects reach this state from the store's
        # own record, so it must not keep the ``Store`` alive (it would never be freed).
        self.store: wasmtime.StoreContext = store_handle(store)
        self.component = component
        self.plan = component._plan
        self.prepared = prepared
        self.imports = prepared.imports
        self.core_instances: list[wasmtime.Instance] = []
        self.core_exports: list[Any] = []
        self.trampolines: list[Optional[wasmtime.Func]] = [None] * len(self.plan.trampolines)
        self.flags = [ComponentInstanceFlags() for _ in range(self.plan.num_component_instances)]
        self.options_cache: list[Any] = [None] * len(self.plan.options)
        # Equal ``OptionsDef``s (most ``canon lower``s of one instance) resolve once.
        self.options_by_def: dict[p.OptionsDef, Any] = {}
        # One host-call context per resolved options (see ``trampolines.host_context``).
        self.host_contexts: dict[int, Any] = {}
        self.funcs: dict[int, Func] = {}
        # Resource types and handle tables; owned by ``runtime.handles``.
        self.resources: dict[object, object] = {}
        self.handles: Any = create_handles(self)
        # Made while an asyncio loop runs: host functions with an
        # ``async_variant`` (WASI's blocking calls) use it, so that a guest under
        # ``call_async`` waits without blocking the loop.
        self.asyncio_mode = _asyncio_running()
        # Component instances that lower an ``async def`` host function
        # synchronously: their core code must be able to stop mid-call.
        self.coroutine_callers: frozenset[int] = frozenset(
            self.plan.options[t.options].component_instance
            for t in self._lowers_coroutines()
            if not self.plan.options[t.options].is_async
        )
        # Whether calls run through the async runtime (``async_calls``): the
        # component uses async, or imports an ``async def`` host function.
        self.uses_async: bool = self.plan.uses_async or bool(self._lowers_coroutines())

    def _lowers_coroutines(self) -> list[p.LowerImport]:
        """The lowered imports whose definition runs as a coroutine here (once per ``PreparedLink`` and mode)."""
        cached = self.prepared.asyncio_lowers if self.asyncio_mode else self.prepared.coroutine_lowers
        if cached is not None:
            return cached
        found = []
        for t in self.plan.trampolines:
            if isinstance(t, p.LowerImport):
                definition = self.coroutine_definition(t)
                if definition is not None:
                    found.append(t)
        if self.asyncio_mode:
            self.prepared.asyncio_lowers = found
        else:
            self.prepared.coroutine_lowers = found
        return found

    def coroutine_definition(self, trampoline: p.LowerImport) -> Optional[UserFunc]:
        """The ``async def`` that serves a lowered import here, if one does."""
        try:
            definition = self.host_item(trampoline.func)
        except LinkError:
            return None  # reported when the trampoline is made
        if not isinstance(definition, FuncDefinition):
            return None
        if definition.coroutine:
            return definition.func
        if self.asyncio_mode and definition.async_variant is not None:
            return definition.async_variant
        return None

    # ------------------------------------------------------------ resolution

    def host_item(self, path: p.ImportPath) -> Definition:
        """The linker definition an ``ImportPath`` names."""
        item: Optional[Definition] = self.imports[path.import_index]
        for name in path.path:
            if not isinstance(item, InstanceDefinition):
                item = None
                break
            item = item.items.get(name)
        if item is None:
            raise LinkError(f"import `{'/'.join((self.plan.imports[path.import_index][0],) + path.path)}` has not been defined")
        return item

    def core_def(self, definition: p.CoreDef) -> Any:
        """The core extern (func, memory, table, global) a ``CoreDef`` names."""
        if isinstance(definition, p.CoreExport):
            get_export = self.core_exports[definition.instance]
            try:
                return get_export(definition.name)
            except KeyError:
                raise LinkError(f"core instance has no export named `{definition.name}`") from None
        func = self.trampolines[definition.index]
        if func is None:
            func = create_trampoline(self, definition.index)
            self.trampolines[definition.index] = func
        return func

    def runtime_options(self, index: int) -> Any:
        """Canonical options ``index`` resolved against this instance (cached)."""
        found = self.options_cache[index]
        if found is None:
            definition = self.plan.options[index]
            found = self.options_by_def.get(definition)
            if found is None:
                found = self.options_by_def[definition] = RuntimeOptions(self, definition)
            self.options_cache[index] = found
        return found

    def module(self, ref: p.ModuleRef) -> wasmtime.Module:
        if isinstance(ref, p.StaticModule):
            return self.component._static_module(ref.index)
        found = self.host_item(ref)
        if not isinstance(found, ModuleDefinition):
            raise LinkError("expected a core module")
        return found.module

    # ------------------------------------------------------------ steps

    def run(self) -> None:
        for index, step in enumerate(self.plan.steps):
            if isinstance(step, p.InstantiateModule):
                if isinstance(step.module, p.StaticModule):
                    self._instantiate_static(index, step)
                else:
                    self._instantiate_module(step)
            else:
                define_resource(self, step)

    def _instantiate_static(self, index: int, step: p.InstantiateModule) -> None:
        """A static module: its import array's layout is worked out once per component."""
        assert isinstance(step.module, p.StaticModule)
        module = self.component._static_module(step.module.index)
        layout, others = import_layout(self.component, index, step)
        externs = [self.core_def(definition) for definition in others]
        try:
            instance = layout.instantiate(self.store, module, self.core_instances, externs)
        except KeyError as err:
            raise LinkError(f"core instance has no export named `{err.args[0]}`") from None
        self.core_instances.append(instance)
        self.core_exports.append(export_getter(instance, self.store))

    def _instantiate_module(self, step: p.InstantiateModule) -> None:
        module = self.module(step.module)
        args: Sequence[p.CoreDef] = [self._named_arg(step, imp.module, imp.name or "") for imp in module.imports]
        # Exports of earlier instances are copied into the import array
        # natively; only trampolines (and nothing else) are Python objects.
        imports = CoreImports(self.store, len(args))
        core_instances = self.core_instances
        for i, definition in enumerate(args):
            if definition.__class__ is p.CoreExport:
                assert isinstance(definition, p.CoreExport)
                if not imports.set_export(i, core_instances[definition.instance], definition.name.encode("utf-8")):
                    raise LinkError(f"core instance has no export named `{definition.name}`")
            else:
                imports.set(i, self.core_def(definition))
        instance = instantiate_imports(self.store, module, imports)
        core_instances.append(instance)
        self.core_exports.append(export_getter(instance, self.store))

    def _named_arg(self, step: p.InstantiateModule, module_name: str, name: str) -> p.CoreDef:
        for arg_name, arg in step.named_args:
            if arg_name != module_name:
                continue
            if isinstance(arg, p.RuntimeCoreInstance):
                return p.CoreExport(arg.index, name)
            found = arg.get(name)
            if found is not None:
                return found
        raise LinkError(f"core module import `{module_name}::{name}` is not satisfied")


def import_layout(
    component: Component, index: int, step: p.InstantiateModule
) -> tuple[ImportLayout, tuple[p.CoreDef, ...]]:
    """The ``ImportLayout`` of static step ``index`` and its non-export definitions, cached per component."""
    found = component._layouts.get(index)
    if found is None:
        exports: list[tuple[int, int, str]] = []
        slots: list[int] = []
        others: list[p.CoreDef] = []
        for slot, definition in enumerate(step.args):
            if isinstance(definition, p.CoreExport):
                exports.append((slot, definition.instance, definition.name))
            else:
                slots.append(slot)
                others.append(definition)
        found = component._layouts[index] = (ImportLayout(len(step.args), exports, slots), tuple(others))
    return found


def instantiate(store: wasmtime.Storelike, component: Component, prepared: PreparedLink) -> Instance:
    """Run ``component``'s plan in ``store`` with the linker's prepared imports."""
    state = InstanceState(store, component, prepared)
    state.run()
    return Instance._new(state)


class Instance:
    """An instantiated component."""

    _state: InstanceState

    def __init__(self) -> None:
        raise wasmtime.WasmtimeError("Cannot directly construct an `Instance`")

    @classmethod
    def _new(cls, state: InstanceState) -> Instance:
        self = cls.__new__(cls)
        self._state = state
        return self

    def get_export_index(
        self, store: wasmtime.Storelike, name: str, instance: Optional[ExportIndex] = None
    ) -> Optional[ExportIndex]:
        """The ``ExportIndex`` of export ``name`` (inside ``instance`` if given), or None."""
        return lookup_export(self._state.plan, name, instance)

    def _export_item(self, store: wasmtime.Storelike, index: Union[ExportIndex, str]) -> Optional[p.ExportItem]:
        if isinstance(index, str):
            found = self.get_export_index(store, index)
            if found is None:
                return None
            index = found
        if not isinstance(index, ExportIndex):
            raise TypeError("expected an ExportIndex or a str")
        if index._plan is not self._state.plan:
            return None
        return index._item

    def get_module(self, store: wasmtime.Storelike, index: Union[ExportIndex, str]) -> Optional[wasmtime.Module]:
        """The exported core module at ``index``, or None (an extension of wasmtime-py's API)."""
        item = self._export_item(store, index)
        if not isinstance(item, p.ExportModule):
            return None
        return self._state.module(item.module)

    def get_resource(self, store: wasmtime.Storelike, index: Union[ExportIndex, str]) -> Optional[ResourceType]:
        """The resource type exported at ``index`` as this instance sees it, or None.

        An extension of wasmtime-py's API (wasmtime's ``Instance::get_resource``):
        a type the component defines is new for each instantiation; an
        imported one is the linker's.  It may be given to another linker's
        ``add_resource``, as wasmtime's test harness does.
        """
        item = self._export_item(store, index)
        if not isinstance(item, p.ExportType):
            return None
        bound = item.type
        if not isinstance(bound, model.TypeBound) or bound.resource is None:
            return None
        found = self._state.resources.get(bound.resource)
        return found.type if isinstance(found, RuntimeResource) else None

    def get_func(self, store: wasmtime.Storelike, index: Union[ExportIndex, str]) -> Optional[Func]:
        """The exported function at ``index`` (an ``ExportIndex`` or a top-level name), or None."""
        item = self._export_item(store, index)
        if not isinstance(item, p.ExportFunc):
            return None
        from .func import make_func

        key = id(item)
        func = self._state.funcs.get(key)
        if func is None:
            func = make_func(self._state, item)
            self._state.funcs[key] = func
        return func


__all__ = ["Instance", "InstanceState", "instantiate", "UnsupportedError"]
