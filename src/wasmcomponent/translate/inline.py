"""Flattening a (nested) component into a ``Plan``.

The translator *runs* the component's definitions at compile time, the way
wasmtime's ``translate/inline.rs`` does: it walks the sections in order,
filling one list per index space, and when a nested component is instantiated
it walks that component's sections too, with its imports bound to the
arguments.  What cannot be known before run time (the host's imports, core
instances) is represented symbolically: ``ImportPath`` for host items and
``CoreExport(instance, name)`` for items of core instances that the runtime
will create in ``Plan.steps`` order.

Each walk of a component body is a ``Scope``.  Its ``parent`` is the scope
where the component was *defined* (not where it is instantiated), because
``alias outer`` is lexical.  Every instantiation gets a new runtime component
instance number, which owns the may_enter/may_leave flags of the lifts and
lowers made inside it.

Async lifts and lowers are translated like the others: their ``async``
option and ``(callback ...)`` function land in ``OptionsDef``.  Every other
``canon`` built-in (``task.return``, ``stream.read``, ``waitable-set.wait``,
...) becomes a ``Builtin`` trampoline with its immediates resolved (types,
options, core type, table); the runtime decides which ones it can run.

Example::

    >>> from wasmcomponent.binary.decoder import decode_component
    >>> from wasmcomponent._engine.core import wat_to_wasm
    >>> wasm = wat_to_wasm('(component (import "i" (instance (export "f" (func)))) (export "j" (instance 0)))')
    >>> plan = translate(decode_component(wasm), lambda i, data: ())
    >>> plan.exports["j"].items["f"].func
    ImportPath(import_index=0, path=('f',))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

from ..binary import ast
from ..errors import UnsupportedError, ValidationError
from ..types import model
from . import plan as p
from .imported import ImportedResources
from .types import TypeSpace, bound_entry, lookup

MAX_REEXPORTED_ITEMS = 10_000
"""Cap on the items listed when imported instances are re-exported (see ``_imported_export``)."""

ModuleImports = Callable[[int, bytes], tuple[tuple[str, str], ...]]
"""Given a static module's index and bytes, the (module, name) pairs of its imports in order."""


@dataclass(frozen=True)
class ImportedInstance:
    path: p.ImportPath
    type: model.InstanceType


@dataclass(frozen=True)
class ExportedInstance:
    """An instance made by instantiating a component or by inline exports."""

    items: dict[str, tuple[ast.Sort, object]]


InstanceDef = Union[ImportedInstance, ExportedInstance]


@dataclass(frozen=True)
class ComponentClosure:
    component: ast.ComponentAST
    scope: Optional[Scope]


@dataclass(frozen=True)
class ImportedComponent:
    path: p.ImportPath
    type: model.ComponentType


SORT_SPACE = ast.INDEX_SPACE
CORE_ITEM_SORTS = frozenset(
    {ast.Sort.CORE_FUNC, ast.Sort.CORE_TABLE, ast.Sort.CORE_MEMORY, ast.Sort.CORE_GLOBAL, ast.Sort.CORE_TAG}
)

SORT_FROM_EXTERN = ast.EXTERN_DESC_SORT

UNSUPPORTED_BUILTINS = frozenset({"thread.spawn-ref", "thread.spawn-indirect", "thread.available-parallelism"})
"""``canon`` built-ins refused at translation (the shared-everything threads proposal)."""


class Scope(TypeSpace):
    """One walk of a component body: its index spaces."""

    def __init__(
        self,
        translator: Translator,
        parent: Optional[Scope],
        component_instance: int,
        args: Optional[dict[str, tuple[ast.Sort, object]]],
    ) -> None:
        super().__init__(parent)
        self.translator = translator
        self.component_instance = component_instance
        self.args = args  # None for the root: its imports come from the host
        self.core_funcs: list[p.CoreDef] = []
        self.core_tables: list[p.CoreDef] = []
        self.core_memories: list[p.CoreDef] = []
        self.core_globals: list[p.CoreDef] = []
        self.core_tags: list[p.CoreDef] = []
        self.core_modules: list[p.ModuleRef] = []
        self.core_instances: list[p.CoreInstanceArg] = []
        self.funcs: list[p.ComponentFuncDef] = []
        self.values: list[object] = []
        self.components: list[Union[ComponentClosure, ImportedComponent]] = []
        self.instances: list[InstanceDef] = []
        self.exports: dict[str, tuple[ast.Sort, object]] = {}
        self.export_types: dict[str, model.ExternType] = {}

    def space(self, sort: ast.Sort) -> list:
        return getattr(self, SORT_SPACE[sort])  # type: ignore[no-any-return]

    def item(self, sort: ast.Sort, index: int, offset: int) -> object:
        return lookup(self.space(sort), index, str(sort), offset)

    # ------------------------------------------------------------ sections

    def run(self, component: ast.ComponentAST) -> None:
        for section in component.sections:
            handler = getattr(self, "_section_" + type(section).__name__)
            handler(section)

    def _section_CoreModuleSection(self, section: ast.CoreModuleSection) -> None:
        self.core_modules.append(self.translator.static_module(section))

    def _section_CoreTypeSection(self, section: ast.CoreTypeSection) -> None:
        for core_type in section.types:
            self.core_types.append(self.core_type(core_type))

    def _section_TypeSection(self, section: ast.TypeSection) -> None:
        for deftype in section.types:
            self.types.append(self.deftype(deftype, self._define_resource))

    def _section_ComponentSection(self, section: ast.ComponentSection) -> None:
        self.components.append(ComponentClosure(section.component, self))

    def _section_ValueSection(self, section: ast.ValueSection) -> None:
        raise UnsupportedError("component values are not supported yet")

    def _section_StartSection(self, section: ast.StartSection) -> None:
        raise UnsupportedError("component start functions are not supported yet")

    def _section_CoreInstanceSection(self, section: ast.CoreInstanceSection) -> None:
        for instance in section.instances:
            if isinstance(instance, ast.CoreInstantiate):
                self.core_instances.append(self._core_instantiate(instance))
            else:
                items = tuple(
                    (e.name, self._core_item(e.sort, e.index, instance.offset)) for e in instance.exports
                )
                self.core_instances.append(p.CoreExportBag(items))

    def _section_InstanceSection(self, section: ast.InstanceSection) -> None:
        for instance in section.instances:
            if isinstance(instance, ast.Instantiate):
                self.instances.append(self._instantiate(instance))
            else:
                items = {
                    e.name.name: (e.sort, self.item(e.sort, e.index, instance.offset))
                    for e in instance.exports
                }
                self.instances.append(ExportedInstance(items))

    def _section_AliasSection(self, section: ast.AliasSection) -> None:
        for alias in section.aliases:
            self.space(alias.sort).append(self._alias(alias))

    def _section_CanonSection(self, section: ast.CanonSection) -> None:
        for canon in section.funcs:
            self._canon(canon)

    def _section_ImportSection(self, section: ast.ImportSection) -> None:
        for imp in section.imports:
            sort = SORT_FROM_EXTERN[type(imp.desc)]
            value = self._import(imp)
            self.space(sort).append(value)

    def _section_ExportSection(self, section: ast.ExportSection) -> None:
        for export in section.exports:
            value = self.item(export.sort, export.index, export.offset)
            name = export.name.name
            if name in self.exports:
                raise ValidationError(f"export name `{name}` conflicts with previous name `{name}`", export.offset)
            self.exports[name] = (export.sort, value)
            self.export_types[name] = self._export_type(export, value)
            self.space(export.sort).append(value)

    # ------------------------------------------------------------ definitions

    def _define_resource(self, d: ast.ResourceTypeDef) -> model.ResourceIdentity:
        identity = model.ResourceIdentity()
        identity.rep = str(d.rep)
        dtor = None if d.dtor is None else self._core_func(d.dtor, d.offset)
        self.translator.plan.steps.append(p.DefineResource(identity, dtor, self.component_instance))
        return identity

    def _core_func(self, index: int, offset: int) -> p.CoreDef:
        return lookup(self.core_funcs, index, "core func", offset)  # type: ignore[return-value]

    def _core_item(self, sort: ast.Sort, index: int, offset: int) -> p.CoreDef:
        if sort not in CORE_ITEM_SORTS:
            raise ValidationError(f"cannot export {sort} from a core instance", offset)
        return self.item(sort, index, offset)  # type: ignore[return-value]

    def _core_instantiate(self, instance: ast.CoreInstantiate) -> p.CoreInstanceArg:
        module = self.item(ast.Sort.CORE_MODULE, instance.module, instance.offset)
        named: dict[str, p.CoreInstanceArg] = {}
        for arg in instance.args:
            if arg.name in named:
                raise ValidationError(f"duplicate module instantiation argument named `{arg.name}`", instance.offset)
            named[arg.name] = lookup(self.core_instances, arg.instance, "core instance", instance.offset)  # type: ignore[assignment]
        plan = self.translator.plan
        index = plan.num_core_instances
        plan.num_core_instances += 1
        if isinstance(module, p.StaticModule):
            args = tuple(
                _resolve_core_import(named, module_name, field, instance.offset)
                for module_name, field in self.translator.module_imports(module.index, plan.modules[module.index])
            )
            plan.steps.append(p.InstantiateModule(index, module, args))
        else:
            assert isinstance(module, p.ImportPath)
            plan.steps.append(p.InstantiateModule(index, module, named_args=tuple(named.items())))
        return p.RuntimeCoreInstance(index)

    def _instantiate(self, instance: ast.Instantiate) -> InstanceDef:
        component = self.item(ast.Sort.COMPONENT, instance.component, instance.offset)
        args: dict[str, tuple[ast.Sort, object]] = {}
        for arg in instance.args:
            if arg.name in args:
                raise ValidationError(f"instantiation argument `{arg.name}` conflicts with previous argument", instance.offset)
            args[arg.name] = (arg.sort, self.item(arg.sort, arg.index, instance.offset))
        if isinstance(component, ImportedComponent):
            raise UnsupportedError("instantiating an imported component is not supported yet")
        assert isinstance(component, ComponentClosure)
        return ExportedInstance(self.translator.instantiate(component, args, self.component_instance))

    def _alias(self, alias: ast.Alias) -> object:
        if isinstance(alias, ast.OuterAlias):
            if alias.sort in (ast.Sort.TYPE, ast.Sort.CORE_TYPE):
                return self.outer_alias(alias)
            if alias.sort not in (ast.Sort.CORE_MODULE, ast.Sort.COMPONENT):
                raise ValidationError(f"outer aliases of {alias.sort} are not allowed", alias.offset)
            scope = self.ancestor(alias.count, alias.offset)
            assert isinstance(scope, Scope)
            return scope.item(alias.sort, alias.index, alias.offset)
        if isinstance(alias, ast.CoreInstanceExportAlias):
            core = lookup(self.core_instances, alias.instance, "core instance", alias.offset)
            if isinstance(core, p.RuntimeCoreInstance):
                return p.CoreExport(core.index, alias.name)
            assert isinstance(core, p.CoreExportBag)
            found = core.get(alias.name)
            if found is None:
                raise ValidationError(f"core instance {alias.instance} has no export named `{alias.name}`", alias.offset)
            return found
        instance = lookup(self.instances, alias.instance, "instance", alias.offset)
        assert isinstance(instance, (ImportedInstance, ExportedInstance))
        return _instance_export(instance, alias.name, alias.sort, alias.offset)

    def _options(self, options: ast.CanonOptions, offset: int) -> int:
        memory = None if options.memory is None else self.item(ast.Sort.CORE_MEMORY, options.memory, offset)
        realloc = None if options.realloc is None else self._core_func(options.realloc, offset)
        post_return = None if options.post_return is None else self._core_func(options.post_return, offset)
        callback = None if options.callback is None else self._core_func(options.callback, offset)
        plan = self.translator.plan
        plan.options.append(
            p.OptionsDef(
                string_encoding=options.string_encoding or "utf8",
                memory=memory,  # type: ignore[arg-type]
                realloc=realloc,
                post_return=post_return,
                component_instance=self.component_instance,
                is_async=options.is_async,
                callback=callback,
            )
        )
        return len(plan.options) - 1

    def _trampoline(self, trampoline: p.Trampoline) -> None:
        plan = self.translator.plan
        plan.trampolines.append(trampoline)
        self.core_funcs.append(p.TrampolineRef(len(plan.trampolines) - 1))

    def _canon(self, canon: ast.Canon) -> None:
        off = canon.offset
        if isinstance(canon, ast.CanonLift):
            # An async function type may be lifted synchronously; the `async`
            # option (with or without a callback) selects the async ABI.
            functype = self.functype_at(canon.type_index, off)
            core = self._core_func(canon.core_func, off)
            self.funcs.append(p.LiftedFunc(core, functype, self._options(canon.options, off)))
        elif isinstance(canon, ast.CanonLower):
            func = self.item(ast.Sort.FUNC, canon.func, off)
            options = self._options(canon.options, off)
            if isinstance(func, p.LiftedFunc):
                self._trampoline(p.LowerLifted(func, func.type, options))
            else:
                assert isinstance(func, p.ImportPath)
                self._trampoline(p.LowerImport(func, self.translator.func_type_of(func), options))
        elif isinstance(canon, (ast.CanonResourceNew, ast.CanonResourceDrop, ast.CanonResourceRep)):
            kind = {ast.CanonResourceNew: "new", ast.CanonResourceDrop: "drop", ast.CanonResourceRep: "rep"}[type(canon)]
            resource = self.resource_at(canon.type_index, off)
            self._trampoline(p.ResourceIntrinsic(kind, resource, self.component_instance))
        else:
            self._trampoline(self._builtin(canon))

    def _builtin(self, canon: ast.CanonBuiltin) -> p.Builtin:
        """The ``Builtin`` trampoline of a ``canon`` built-in, its immediates resolved."""
        name, off = canon.name, canon.offset
        if name in UNSUPPORTED_BUILTINS:
            # Shared-everything threads: wasmtime refuses them too ("unsupported intrinsic").
            raise UnsupportedError(f"`canon {name}` is not supported")
        options: Optional[int] = None
        if canon.options is not None:
            options = self._options(canon.options, off)
        memory = canon.get("memory")
        if memory is not None:
            # waitable-set.wait/poll write their event record through this memory.
            assert isinstance(memory, int)
            options = self._options(ast.CanonOptions((ast.CanonOpt("memory", memory, off),)), off)
        type_: Optional[model.ValType] = None
        type_index = canon.get("type")
        if type_index is not None:
            assert isinstance(type_index, int)
            type_ = self._stream_or_future(name, type_index, off)
        result: Optional[model.ValType] = None
        result_ref = canon.get("result")
        if result_ref is not None:
            result = self.valtype(result_ref, off)  # type: ignore[arg-type]  # a ValTypeRef
        valtype = canon.get("valtype")
        if valtype is not None and valtype != "i32":
            # wasmparser allows i64 slots with the 64-bit feature; wasmtime does not implement them.
            raise UnsupportedError(f"unsupported {name} type: {valtype}")
        core_type: Optional[tuple[tuple[str, ...], tuple[str, ...]]] = None
        core_type_index = canon.get("func-type")
        if core_type_index is not None:
            assert isinstance(core_type_index, int)
            entry = lookup(self.core_types, core_type_index, "core type", off)
            if not isinstance(entry, model.CoreFuncType):
                raise ValidationError("expected a core function type", off)
            core_type = (entry.params, entry.results)
        table: Optional[p.CoreDef] = None
        table_index = canon.get("table")
        if table_index is not None:
            assert isinstance(table_index, int)
            table = self.item(ast.Sort.CORE_TABLE, table_index, off)  # type: ignore[assignment]
        slot = canon.get("slot")
        return p.Builtin(
            name=name,
            component_instance=self.component_instance,
            options=options,
            type=type_,
            result=result,
            is_async=bool(canon.get("async")),
            cancellable=bool(canon.get("cancellable")),
            slot=slot if isinstance(slot, int) else 0,
            core_type=core_type,
            table=table,
        )

    def _stream_or_future(self, name: str, index: int, offset: int) -> model.ValType:
        """The ``stream<T>``/``future<T>`` type a ``stream.*``/``future.*`` built-in names."""
        entry = self.type_at(index, offset)
        expected, word = (model.StreamType, "stream") if name.startswith("stream.") else (model.FutureType, "future")
        if not isinstance(entry, expected):
            raise ValidationError(f"`{name}` requires a {word} type", offset)
        return entry

    def _import(self, imp: ast.Import) -> object:
        name = imp.name.name
        extern = self.extern_type(imp.desc, imp.offset)
        if self.args is not None:
            return self._bind_argument(name, imp, extern)
        if isinstance(extern, model.TypeBound) and extern.resource is None:
            # `(eq T)` type imports only name a type: nothing for the host to supply.
            return bound_entry(extern)
        extern = self.translator.imported_resources(self).fresh(extern)
        plan = self.translator.plan
        if any(existing == name for existing, _ in plan.imports):
            raise ValidationError(f"import name `{name}` conflicts with previous name `{name}`", imp.offset)
        plan.imports.append((name, extern))
        path = p.ImportPath(len(plan.imports) - 1)
        self.translator.import_types[path] = extern
        if isinstance(imp.desc, ast.ExternFunc):
            return path
        if isinstance(imp.desc, ast.ExternInstance):
            assert isinstance(extern, model.InstanceType)
            return ImportedInstance(path, extern)
        if isinstance(imp.desc, ast.ExternCoreModule):
            return path
        if isinstance(imp.desc, ast.ExternComponent):
            # A wasmtime restriction, kept for parity: hosts cannot supply components.
            raise UnsupportedError("root-level component imports are not supported")
        if isinstance(imp.desc, ast.ExternType):
            entry = bound_entry(extern)
            if isinstance(entry, model.ResourceIdentity) and not entry.name:
                entry.name = name
            return entry
        raise UnsupportedError("value imports are not supported yet")

    def _bind_argument(self, name: str, imp: ast.Import, extern: model.ExternType) -> object:
        assert self.args is not None
        found = self.args.get(name)
        sort = SORT_FROM_EXTERN[type(imp.desc)]
        if found is None:
            if isinstance(imp.desc, ast.ExternType) and isinstance(imp.desc.bound, ast.TypeBoundEq):
                return bound_entry(extern)
            raise ValidationError(f"missing import named `{name}`", imp.offset)
        arg_sort, value = found
        if arg_sort is not sort:
            raise ValidationError(f"expected {sort} found {arg_sort} for instantiation argument `{name}`", imp.offset)
        return value

    def _export_type(self, export: ast.Export, value: object) -> model.ExternType:
        if export.desc is not None:
            ascribed = self.extern_type(export.desc, export.offset)
            if isinstance(ascribed, model.TypeBound) and ascribed.resource is not None and isinstance(value, model.ResourceIdentity):
                return model.TypeBound(resource=value)
            return ascribed
        return self.translator.type_of(export.sort, value)


def _resolve_core_import(
    named: dict[str, p.CoreInstanceArg], module_name: str, field: str, offset: int
) -> p.CoreDef:
    instance = named.get(module_name)
    if instance is None:
        raise ValidationError(f"missing module instantiation argument named `{module_name}`", offset)
    if isinstance(instance, p.RuntimeCoreInstance):
        return p.CoreExport(instance.index, field)
    found = instance.get(field)
    if found is None:
        raise ValidationError(f"module instantiation argument `{module_name}` does not export an item named `{field}`", offset)
    return found


def _instance_export(instance: InstanceDef, name: str, sort: ast.Sort, offset: int) -> object:
    if isinstance(instance, ExportedInstance):
        found = instance.items.get(name)
        if found is None:
            raise ValidationError(f"instance has no export named `{name}`", offset)
        found_sort, value = found
        if found_sort is not sort:
            raise ValidationError(f"export `{name}` for instance is not a {sort}", offset)
        return value
    extern = instance.type.exports.get(name)
    if extern is None:
        raise ValidationError(f"instance has no export named `{name}`", offset)
    path = instance.path.child(name)
    if sort is ast.Sort.FUNC and isinstance(extern, model.FuncType):
        return path
    if sort is ast.Sort.INSTANCE and isinstance(extern, model.InstanceType):
        return ImportedInstance(path, extern)
    if sort is ast.Sort.CORE_MODULE and isinstance(extern, model.CoreModuleType):
        return path
    if sort is ast.Sort.COMPONENT and isinstance(extern, model.ComponentType):
        return ImportedComponent(path, extern)
    if sort is ast.Sort.TYPE and isinstance(extern, model.TypeBound):
        return bound_entry(extern)
    raise ValidationError(f"export `{name}` for instance is not a {sort}", offset)


class Translator:
    """Builds one ``Plan`` from a decoded root component."""

    def __init__(self, module_imports: ModuleImports) -> None:
        self.plan = p.Plan()
        self.module_imports = module_imports
        self.static_modules: dict[int, p.StaticModule] = {}
        self.import_types: dict[p.ImportPath, model.ExternType] = {}
        self._imported_resources: Optional[ImportedResources] = None
        self.reexported_items = 0  # bounded by MAX_REEXPORTED_ITEMS

    def imported_resources(self, root: TypeSpace) -> ImportedResources:
        """The abstract resources of the root's imports (see ``ImportedResources``)."""
        if self._imported_resources is None:
            self._imported_resources = ImportedResources(root.declared_resources)
        return self._imported_resources

    def static_module(self, section: ast.CoreModuleSection) -> p.StaticModule:
        key = id(section)
        found = self.static_modules.get(key)
        if found is None:
            self.plan.modules.append(section.data)
            found = p.StaticModule(len(self.plan.modules) - 1)
            self.static_modules[key] = found
        return found

    def new_component_instance(self, parent: Optional[int]) -> int:
        self.plan.num_component_instances += 1
        self.plan.component_instance_parents.append(parent)
        return self.plan.num_component_instances - 1

    def instantiate(
        self, closure: ComponentClosure, args: dict[str, tuple[ast.Sort, object]], parent: int
    ) -> dict[str, tuple[ast.Sort, object]]:
        scope = Scope(self, closure.scope, self.new_component_instance(parent), args)
        scope.run(closure.component)
        return scope.exports

    def func_type_of(self, path: p.ImportPath) -> model.FuncType:
        extern: object = self.import_types[p.ImportPath(path.import_index)]
        for name in path.path:
            assert isinstance(extern, model.InstanceType)
            extern = extern.exports[name]
        assert isinstance(extern, model.FuncType)
        return extern

    def type_of(self, sort: ast.Sort, value: object) -> model.ExternType:
        """The type of a definition, for exports without an ascribed type."""
        if isinstance(value, p.LiftedFunc):
            return value.type
        if isinstance(value, p.ImportPath):
            if sort is ast.Sort.FUNC:
                return self.func_type_of(value)
            extern: object = self.import_types[p.ImportPath(value.import_index)]
            for name in value.path:
                assert isinstance(extern, model.InstanceType)
                extern = extern.exports[name]
            return extern  # type: ignore[return-value]
        if isinstance(value, ImportedInstance):
            return value.type
        if isinstance(value, ExportedInstance):
            return model.InstanceType({k: self.type_of(s, v) for k, (s, v) in value.items.items()})
        if isinstance(value, ImportedComponent):
            return value.type
        if isinstance(value, ComponentClosure):
            return model.ComponentType({}, {})
        if isinstance(value, p.StaticModule):
            return model.CoreModuleType((), ())
        if isinstance(value, model.ResourceIdentity):
            return model.TypeBound(resource=value)
        if sort is ast.Sort.TYPE:
            return model.TypeBound(eq=value)  # type: ignore[arg-type]
        raise UnsupportedError(f"exporting a {sort} is not supported yet")

    def export_item(self, sort: ast.Sort, value: object, extern: model.ExternType) -> p.ExportItem:
        if sort is ast.Sort.FUNC:
            assert isinstance(extern, model.FuncType)
            return p.ExportFunc(value, extern)  # type: ignore[arg-type]
        if sort is ast.Sort.INSTANCE:
            if isinstance(value, ExportedInstance):
                items = {k: self.export_item(s, v, self.type_of(s, v)) for k, (s, v) in value.items.items()}
                return p.ExportInstance(items)
            assert isinstance(value, ImportedInstance)
            return p.ExportInstance(
                {k: self._imported_export(value.path.child(k), t) for k, t in value.type.exports.items()}
            )
        if sort is ast.Sort.CORE_MODULE:
            return p.ExportModule(value)  # type: ignore[arg-type]
        if sort is ast.Sort.COMPONENT:
            return p.ExportComponent(extern)
        return p.ExportType(extern)

    def _imported_export(self, path: p.ImportPath, extern: model.ExternType) -> p.ExportItem:
        # Re-exporting an imported instance lists every nested item by path: a
        # type that nests instances in a doubling chain would expand
        # exponentially (within wasmparser's size cap), so the total is bounded.
        self.reexported_items += 1
        if self.reexported_items > MAX_REEXPORTED_ITEMS:
            raise UnsupportedError(
                f"re-exporting imported instances with more than {MAX_REEXPORTED_ITEMS} "
                "items in all is not supported"
            )
        if isinstance(extern, model.FuncType):
            return p.ExportFunc(path, extern)
        if isinstance(extern, model.InstanceType):
            return p.ExportInstance({k: self._imported_export(path.child(k), t) for k, t in extern.exports.items()})
        if isinstance(extern, model.CoreModuleType):
            return p.ExportModule(path)
        if isinstance(extern, model.ComponentType):
            return p.ExportComponent(extern)
        return p.ExportType(extern)


def translate(component: ast.ComponentAST, module_imports: ModuleImports) -> p.Plan:
    """Flatten ``component`` into a plan.

    ``module_imports(i, data)`` gives the import names of static module ``i``
    (the caller compiles the modules with the core engine and reads them off).
    """
    translator = Translator(module_imports)
    root = Scope(translator, None, translator.new_component_instance(None), None)
    root.run(component)
    plan = translator.plan
    for name, (sort, value) in root.exports.items():
        # Two wasmtime restrictions, kept for parity.
        if sort is ast.Sort.COMPONENT:
            raise UnsupportedError("exporting a component from the root component is not supported")
        if sort is ast.Sort.FUNC and isinstance(value, p.ImportPath):
            raise UnsupportedError(
                f"component export `{name}` is a reexport of an imported function which is not implemented"
            )
        extern = root.export_types[name]
        plan.exports[name] = translator.export_item(sort, value, extern)
        plan.export_types[name] = extern
    return plan
