"""Component validation: the checks the spec requires beyond well-formed bytes.

:func:`validate_component` walks the decoded sections in order, keeping one
:class:`State` per component, component type and instance type being
validated, as wasmparser's ``ComponentState`` does: one list per index space
(``core_funcs`` ... ``instances``), the imports and exports so far, and the
resource bookkeeping that export visibility and ``[method]`` names need.
Types live in ``validate.types`` (identity-carrying, with structural
subtyping); core module import/export types come from
``validate.core_module``; names from ``validate.names``; canonical options
from ``validate.canon``.

Messages follow wasm-tools' validator.  Core module *bodies* are left to the
core engine.

Limits, so that validation stays linear in the input: every type carries
wasmparser's effective size (``types.TypeInfo.tsize``; a type used twice
counts twice), capped at 1,000,000 per type, function, instance and component
("effective type size exceeds the limit of 1000000"), and every walk over
types (subtyping, substitution, named-type checks, flattening) visits each
definition once, however often it is reused.  A valid component whose lifted
or lowered functions are larger than this runtime handles (``canon``) gets an
``UnsupportedError`` once validation has finished.
"""

from __future__ import annotations

from typing import Optional

from ..binary import ast
from ..errors import UnsupportedError, ValidationError
from ..types.model import PrimType
from . import names as nm
from .canon import check_canon
from .core_module import CoreExtern, CoreModuleInfo, CoreSig, extern_of, module_type, sig_of
from .types import (
    MAX_TYPE_SIZE,
    TYPE_SIZE_MESSAGE,
    Checker,
    ComponentT,
    Defined,
    Entity,
    Func,
    InstanceT,
    Mismatch,
    ModuleT,
    Resource,
    ResourceEntry,
    Subst,
    ValT,
    core_extern_subtype,
    entity_resources,
    entity_size,
    entry_resources,
    info_of,
)

MAX_TYPE_DEPTH = 100
NESTED_NAMES = "cm-nested-names"
"""The gate of nested namespaces and projections in names (``a:b:c/d/e``)."""
MAX_FLAGS = 32
MAX_VALUE_SIZE = 1 << 28

SORT_SPACE = ast.INDEX_SPACE
SPACE_WORD = {
    "core_funcs": "core function", "core_tables": "table", "core_memories": "memory",
    "core_globals": "global", "core_tags": "tag", "core_types": "core type", "core_modules": "module",
    "core_instances": "core instance", "funcs": "function", "values": "value", "types": "type",
    "components": "component", "instances": "instance",
}
CORE_KIND = {
    ast.Sort.CORE_FUNC: "func", ast.Sort.CORE_TABLE: "table", ast.Sort.CORE_MEMORY: "memory",
    ast.Sort.CORE_GLOBAL: "global", ast.Sort.CORE_TAG: "tag",
}


class State:
    """The index spaces and bookkeeping of one component / component type / instance type."""

    def __init__(self, kind: str, parent: Optional[State]) -> None:
        self.kind = kind  # 'component' | 'component-type' | 'instance-type'
        self.parent = parent
        self.core_funcs: list[Optional[CoreSig]] = []
        self.core_tables: list[CoreExtern] = []
        self.core_memories: list[CoreExtern] = []
        self.core_globals: list[CoreExtern] = []
        self.core_tags: list[Optional[CoreSig]] = []
        self.core_types: list[object] = []
        self.core_modules: list[ModuleT] = []
        self.core_instances: list[Optional[dict[str, CoreExtern]]] = []
        self.funcs: list[Func] = []
        self.values: list[ValT] = []
        self.types: list[object] = []
        self.components: list[ComponentT] = []
        self.instances: list[InstanceT] = []
        self.imports: dict[str, Entity] = {}
        self.exports: dict[str, Entity] = {}
        self.import_names = nm.NameSet("import")
        self.export_names = nm.NameSet("export")
        self.imported_resources: list[Resource] = []
        self.defined_resources: list[Resource] = []
        self.imported_types: set[int] = set()
        self.exported_types: set[int] = set()
        self.import_resource_names: dict[int, str] = {}
        self.export_resource_names: dict[int, str] = {}
        # Effective size of this component (type): 1 + its imports and exports.
        self.tsize = 1
        # Where a component/instance type starts: wasmparser reports its limits there.
        self.type_offset: Optional[int] = None
        # Set on the outermost state: valid, but beyond this runtime (see canon).
        self.unsupported: Optional[UnsupportedError] = None
        # Gated features the engine has on (``validate.features.GATED``).
        self.features: frozenset[str] = parent.features if parent is not None else frozenset()

    # ------------------------------------------------------------ lookups

    def get(self, space: str, index: int, offset: int) -> object:
        items: list = getattr(self, space)
        if 0 <= index < len(items):
            return items[index]
        word = SPACE_WORD[space]
        raise ValidationError(f"unknown {word} {index}: {word.split()[-1]} index out of bounds", offset)

    def type_at(self, index: int, offset: int) -> object:
        return self.get("types", index, offset)

    def valtype(self, ref: ast.ValTypeRef, offset: int) -> ValT:
        if isinstance(ref, PrimType):
            return ref
        entry = self.type_at(ref, offset)
        if not isinstance(entry, (Defined, PrimType)):
            raise ValidationError(f"type index {ref} is not a defined type", offset)
        return entry

    def func_type_at(self, index: int, offset: int) -> Func:
        entry = self.type_at(index, offset)
        if not isinstance(entry, Func):
            raise ValidationError(f"type index {index} is not a function type", offset)
        return entry

    def resource_at(self, index: int, offset: int) -> ResourceEntry:
        entry = self.type_at(index, offset)
        if not isinstance(entry, ResourceEntry):
            raise ValidationError(f"type index {index} is not a resource type", offset)
        return entry

    def core_sig_at(self, index: int, offset: int) -> Optional[CoreSig]:
        return self.get("core_funcs", index, offset)  # type: ignore[return-value]

    def ancestor(self, count: int, offset: int) -> State:
        state: Optional[State] = self
        for _ in range(count):
            state = state.parent if state is not None else None
        if state is None:
            raise ValidationError(f"invalid outer alias count of {count}", offset)
        return state


# ====================================================================== entry


def validate_component(component: ast.ComponentAST, features: frozenset[str] = frozenset()) -> None:
    """Raise ``ValidationError`` if ``component`` is invalid, else ``UnsupportedError``
    if it is valid but exceeds this runtime's limits.

    ``features`` are the gated features switched on (``cm-nested-names`` is
    the one validation itself consults; see ``runtime.features``).
    """
    state = State("component", None)
    state.features = features
    _validate_sections(state, component)
    if state.unsupported is not None:
        raise state.unsupported


def validate_in(component: ast.ComponentAST, parent: Optional[State]) -> ComponentT:
    state = State("component", parent)
    return _validate_sections(state, component)


def _validate_sections(state: State, component: ast.ComponentAST) -> ComponentT:
    for section in component.sections:
        _section(state, section)
    return ComponentT(dict(state.imports), dict(state.exports),
                      list(state.imported_resources), list(state.defined_resources))


def _section(s: State, section: object) -> None:
    if isinstance(section, ast.CoreModuleSection):
        s.core_modules.append(ModuleT(module_type(section.data, section.offset)))
    elif isinstance(section, ast.CoreInstanceSection):
        for inst in section.instances:
            s.core_instances.append(_core_instance(s, inst))
    elif isinstance(section, ast.CoreTypeSection):
        for t in section.types:
            _add_core_type(s, t, section.offset)
    elif isinstance(section, ast.ComponentSection):
        s.components.append(validate_in(section.component, s))
    elif isinstance(section, ast.InstanceSection):
        for instance in section.instances:
            s.instances.append(_instance(s, instance))
    elif isinstance(section, ast.AliasSection):
        for alias in section.aliases:
            _alias(s, alias)
    elif isinstance(section, ast.TypeSection):
        for deftype in section.types:
            _add_type(s, deftype, deftype.offset or section.offset)
    elif isinstance(section, ast.CanonSection):
        for canon in section.funcs:
            check_canon(s, canon)
    elif isinstance(section, ast.ImportSection):
        for imp in section.imports:
            entity = _extern_entity(s, imp.desc, imp.offset, importing=True)
            _add_extern(s, imp.name, entity, "import", imp.offset)
    elif isinstance(section, ast.ExportSection):
        for exp in section.exports:
            _export(s, exp)
    elif isinstance(section, ast.ValueSection):
        for v in section.values:
            s.values.append(s.valtype(v.type, v.offset))
    elif isinstance(section, ast.StartSection):
        start = section.start
        func = s.get("funcs", start.func, start.offset)
        assert isinstance(func, Func)
        if len(start.args) != len(func.params):
            raise ValidationError(
                f"component start function requires {len(func.params)} arguments but was given {len(start.args)}",
                start.offset,
            )
        for arg in start.args:
            s.get("values", arg, start.offset)


# ============================================================== core instances


def _core_instance(s: State, inst: object) -> Optional[dict[str, CoreExtern]]:
    if isinstance(inst, ast.CoreInstantiate):
        module = s.get("core_modules", inst.module, inst.offset)
        assert isinstance(module, ModuleT)
        args: dict[str, Optional[dict[str, CoreExtern]]] = {}
        for arg in inst.args:
            if arg.name in args:
                raise ValidationError(f"duplicate module instantiation argument named `{arg.name}`", inst.offset)
            args[arg.name] = s.get("core_instances", arg.instance, inst.offset)  # type: ignore[assignment]
        if module.info is None:
            return None
        for mod, name, expected in module.info.imports:
            if mod not in args:
                raise ValidationError(f"missing module instantiation argument named `{mod}`", inst.offset)
            exports = args[mod]
            if exports is None:
                continue
            actual = exports.get(name)
            if actual is None:
                raise ValidationError(
                    f"module instantiation argument `{mod}` does not export an item named `{name}`", inst.offset
                )
            try:
                core_extern_subtype(actual, expected)
            except Mismatch as m:
                raise m.within(
                    f"type mismatch for export `{name}` of module instantiation argument `{mod}`"
                ).error(inst.offset) from None
        return dict(module.info.exports)
    assert isinstance(inst, ast.CoreInlineExports)
    out: dict[str, CoreExtern] = {}
    for exp in inst.exports:
        if exp.name in out:
            raise ValidationError(f"duplicate instantiation export name `{exp.name}` already defined", inst.offset)
        out[exp.name] = _core_item(s, exp.sort, exp.index, inst.offset)
    return out


def _core_item(s: State, sort: ast.Sort, index: int, offset: int) -> CoreExtern:
    space = SORT_SPACE[sort]
    item = s.get(space, index, offset)
    if sort is ast.Sort.CORE_FUNC:
        return CoreExtern("func", sig=item)  # type: ignore[arg-type]
    if sort is ast.Sort.CORE_TAG:
        return CoreExtern("tag", sig=item)  # type: ignore[arg-type]
    if isinstance(item, CoreExtern):
        return item
    raise ValidationError(f"core sort {sort} cannot be exported from a core instance", offset)


def _push_core(s: State, ext: CoreExtern) -> None:
    if ext.kind == "func":
        s.core_funcs.append(ext.sig)
    elif ext.kind == "tag":
        s.core_tags.append(ext.sig)
    elif ext.kind == "table":
        s.core_tables.append(ext)
    elif ext.kind == "memory":
        s.core_memories.append(ext)
    else:
        s.core_globals.append(ext)


# ================================================================== core types


def _add_core_type(s: State, t: ast.CoreType, offset: int) -> None:
    if isinstance(t, ast.CoreFuncType):
        s.core_types.append(sig_of(t))
    elif isinstance(t, ast.CoreRecGroup):
        s.core_types.extend(None for _ in t.types)
    else:
        s.core_types.append(_module_type(s, t))


def _module_type(s: State, t: ast.CoreModuleType) -> ModuleT:
    types: list[object] = []
    info = CoreModuleInfo()
    seen_imports: set[tuple[str, str]] = set()
    for decl in t.decls:
        if isinstance(decl, ast.CoreTypeDeclInModule):
            if isinstance(decl.type, ast.CoreRecGroup):
                types.extend(decl.type.types)
            else:
                types.append(decl.type)
        elif isinstance(decl, ast.CoreOuterAliasDecl):
            if decl.count == 0:
                target: list = types
            else:
                target = s.ancestor(decl.count - 1, decl.offset).core_types
            if not 0 <= decl.index < len(target):
                raise ValidationError(f"unknown type {decl.index}: type index out of bounds", decl.offset)
            item = target[decl.index]
            types.append(ast.CoreFuncType(item.params, item.results) if isinstance(item, CoreSig) else item)
        elif isinstance(decl, ast.CoreImportDecl):
            ext = extern_of(decl.desc, types, decl.offset)
            key = (decl.module, decl.name)
            if key in seen_imports:
                raise ValidationError(f"duplicate import name `{decl.module}:{decl.name}`", decl.offset)
            seen_imports.add(key)
            info.imports.append((decl.module, decl.name, ext))
        else:
            ext = extern_of(decl.desc, types, decl.offset)
            if decl.name in info.exports:
                raise ValidationError(f"export name `{decl.name}` already defined", decl.offset)
            info.exports[decl.name] = ext
    return ModuleT(info)


# ======================================================================= types


def _add_type(s: State, t: ast.DefType, offset: int) -> None:
    if isinstance(t, ast.ResourceTypeDef):
        if s.kind != "component":
            raise ValidationError("resources can only be defined within a concrete component", offset)
        if t.rep not in ("i32", "i64"):
            raise ValidationError("resources can only be represented by `i32` or `i64`", offset)
        if t.dtor is not None:
            sig = s.core_sig_at(t.dtor, offset)
            if sig is not None and sig != CoreSig((t.rep,), ()):  # type: ignore[arg-type]
                raise ValidationError(f"core function {t.dtor} has wrong signature for a destructor", offset)
        resource = Resource(rep=t.rep)  # type: ignore[arg-type]
        s.defined_resources.append(resource)
        s.types.append(ResourceEntry(resource))
    elif isinstance(t, ast.FuncTypeDef):
        func = _func_type(s, t)
        _check_size(func.tsize, offset)
        s.types.append(func)
    elif isinstance(t, ast.ComponentTypeDef):
        s.types.append(_component_type(s, t))
    elif isinstance(t, ast.InstanceTypeDef):
        s.types.append(_instance_type(s, t))
    else:
        d = _defined(s, t, offset)
        _check_size(d.info.tsize, offset)
        if d.info.depth > MAX_TYPE_DEPTH:
            raise ValidationError("type nesting is too deep", offset)
        if d.info.size >= MAX_VALUE_SIZE:
            raise ValidationError("type exceeds maximum byte size", offset)
        s.types.append(d)


def _check_size(size: int, offset: int) -> None:
    """wasmparser's cap on effective type sizes (sums of sizes stay below it)."""
    if size >= MAX_TYPE_SIZE:
        raise ValidationError(TYPE_SIZE_MESSAGE, offset)


def _func_type(s: State, t: ast.FuncTypeDef) -> Func:
    off = t.offset
    params = tuple((name, s.valtype(ty, off)) for name, ty in t.params)
    seen: dict[str, str] = {}
    for name, _ in params:
        if not name:
            raise ValidationError("function parameter name cannot be empty", off)
        if not nm.is_kebab(name):
            raise ValidationError(f"function parameter name `{name}` is not in kebab case", off)
        prev = seen.get(name.lower())
        if prev is not None:
            raise ValidationError(
                f"function parameter name `{name}` conflicts with previous parameter name `{prev}`", off
            )
        seen[name.lower()] = name
    result = None if t.result is None else s.valtype(t.result, off)
    if result is not None and info_of(result).has_borrow:
        raise ValidationError("function result cannot contain a `borrow` type", off)
    return Func(params, result, t.is_async)


def _defined(s: State, t: ast.DefValType, off: int) -> Defined:
    v = s.valtype
    if isinstance(t, ast.PrimDef):
        return Defined("prim", (t.type,))
    if isinstance(t, ast.RecordDef):
        if not t.fields:
            raise ValidationError("record type must have at least one field", off)
        nm.check_unique_labels([n for n, _ in t.fields], "record field", "field", off)
        return Defined("record", tuple((n, v(x, off)) for n, x in t.fields))
    if isinstance(t, ast.VariantDef):
        if not t.cases:
            raise ValidationError("variant type must have at least one case", off)
        nm.check_unique_labels([c.name for c in t.cases], "variant case", "case", off)
        return Defined("variant", tuple((c.name, None if c.type is None else v(c.type, off)) for c in t.cases))
    if isinstance(t, ast.ListDef):
        return Defined("list", (v(t.element, off),))
    if isinstance(t, ast.FixedListDef):
        if t.length == 0:
            raise ValidationError("Fixed-length lists must have more than zero elements", off)
        return Defined("fixed-list", (v(t.element, off), t.length))
    if isinstance(t, ast.TupleDef):
        if not t.elements:
            raise ValidationError("tuple type must have at least one type", off)
        return Defined("tuple", tuple(v(x, off) for x in t.elements))
    if isinstance(t, ast.FlagsDef):
        if not t.names:
            raise ValidationError("flags must have at least one entry", off)
        if len(t.names) > MAX_FLAGS:
            raise ValidationError("cannot have more than 32 flags", off)
        nm.check_unique_labels(list(t.names), "flag", "flag", off)
        return Defined("flags", tuple(t.names))
    if isinstance(t, ast.EnumDef):
        if not t.names:
            raise ValidationError("enum type must have at least one variant", off)
        nm.check_unique_labels(list(t.names), "enum tag", "tag", off)
        return Defined("enum", tuple(t.names))
    if isinstance(t, ast.OptionDef):
        return Defined("option", (v(t.payload, off),))
    if isinstance(t, ast.ResultDef):
        return Defined("result", (None if t.ok is None else v(t.ok, off), None if t.err is None else v(t.err, off)))
    if isinstance(t, ast.OwnDef):
        return Defined("own", (s.resource_at(t.type_index, off),))
    if isinstance(t, ast.BorrowDef):
        return Defined("borrow", (s.resource_at(t.type_index, off),))
    if isinstance(t, (ast.StreamDef, ast.FutureDef)):
        kind = "stream" if isinstance(t, ast.StreamDef) else "future"
        payload = None if t.payload is None else v(t.payload, off)
        if kind == "stream" and payload is not None and _prim_name(payload) == "char":
            raise ValidationError("`stream<char>` is not valid at this time, use `stream<u8>` instead", off)
        return Defined(kind, (payload,))
    if isinstance(t, ast.MapDef):
        return Defined("map", (v(t.key, off), v(t.value, off)))
    raise ValidationError("unsupported type definition", off)


def _prim_name(t: ValT) -> str:
    if isinstance(t, PrimType):
        return t.name
    if t.kind == "prim":
        return t.items[0].name
    return ""


# ------------------------------------------------------- component/instance types


def _component_type(s: State, t: ast.ComponentTypeDef) -> ComponentT:
    inner = State("component-type", s)
    inner.type_offset = t.offset
    for decl in t.decls:
        _decl(inner, decl)
    return ComponentT(dict(inner.imports), dict(inner.exports),
                      list(inner.imported_resources), list(inner.defined_resources))


def _instance_type(s: State, t: ast.InstanceTypeDef) -> InstanceT:
    inner = State("instance-type", s)
    inner.type_offset = t.offset
    for decl in t.decls:
        _decl(inner, decl)
    return InstanceT(dict(inner.exports), list(inner.defined_resources))


def _decl(s: State, decl: object) -> None:
    if isinstance(decl, ast.CoreTypeDecl):
        _add_core_type(s, decl.type, decl.offset)
    elif isinstance(decl, ast.TypeDecl):
        _add_type(s, decl.type, decl.type.offset or decl.offset)
    elif isinstance(decl, ast.AliasDecl):
        alias = decl.alias
        if isinstance(alias, ast.OuterAlias):
            if alias.sort not in (ast.Sort.TYPE, ast.Sort.CORE_TYPE):
                raise ValidationError(
                    "aliases in a component or instance type may only refer to types or instances", alias.offset
                )
        elif isinstance(alias, ast.InstanceExportAlias):
            if alias.sort not in (ast.Sort.TYPE, ast.Sort.INSTANCE):
                raise ValidationError(
                    "aliases in a component or instance type may only refer to types or instances", alias.offset
                )
        else:
            raise ValidationError(
                "aliases in a component or instance type may only refer to types or instances", alias.offset
            )
        _alias(s, alias)
    elif isinstance(decl, ast.ImportDecl):
        entity = _extern_entity(s, decl.desc, decl.offset, importing=True)
        _add_extern(s, decl.name, entity, "import", decl.offset)
    elif isinstance(decl, ast.ExportDecl):
        entity = _extern_entity(s, decl.desc, decl.offset, importing=False)
        _add_extern(s, decl.name, entity, "export", decl.offset)


# ===================================================================== externs


def _extern_entity(s: State, desc: ast.ExternDesc, offset: int, importing: bool) -> Entity:
    """The entity an import/export descriptor declares (fresh resources for ``sub resource``)."""
    if isinstance(desc, ast.ExternFunc):
        return ("func", s.func_type_at(desc.type_index, offset))
    if isinstance(desc, ast.ExternInstance):
        entry = s.type_at(desc.type_index, offset)
        if not isinstance(entry, InstanceT):
            raise ValidationError(f"type index {desc.type_index} is not an instance type", offset)
        return ("instance", entry)
    if isinstance(desc, ast.ExternComponent):
        entry = s.type_at(desc.type_index, offset)
        if not isinstance(entry, ComponentT):
            raise ValidationError(f"type index {desc.type_index} is not a component type", offset)
        return ("component", entry)
    if isinstance(desc, ast.ExternCoreModule):
        core = s.get("core_types", desc.type_index, offset)
        if not isinstance(core, ModuleT):
            raise ValidationError(f"core type index {desc.type_index} is not a module type", offset)
        return ("module", core)
    if isinstance(desc, ast.ExternType):
        bound = desc.bound
        if isinstance(bound, ast.TypeBoundSubResource):
            entry = ResourceEntry(Resource())
            return ("type", entry, entry)
        referenced = s.type_at(bound.type_index, offset)
        if importing and isinstance(referenced, ResourceEntry) and referenced.resource in s.defined_resources:
            # An import cannot be satisfied by a resource this component defines itself.
            raise ValidationError("local resource type found in imports", offset)
        return ("type", _unique(referenced), referenced)
    assert isinstance(desc, ast.ExternValue)
    bound_v = desc.bound
    if isinstance(bound_v, ast.ValueBoundType):
        return ("value", s.valtype(bound_v.type, offset))
    value = s.get("values", bound_v.value_index, offset)
    return ("value", value)


def _unique(entry: object) -> object:
    """A new index-space entry equal to ``entry`` (wasmparser's ``with_unique``)."""
    if isinstance(entry, ResourceEntry):
        return ResourceEntry(entry.resource)
    if isinstance(entry, Defined):
        return Defined(entry.kind, entry.items, entry.info)
    if isinstance(entry, Func):
        return Func(entry.params, entry.result, entry.is_async)
    if isinstance(entry, InstanceT):
        return InstanceT(entry.exports, entry.defined)
    if isinstance(entry, ComponentT):
        return ComponentT(entry.imports, entry.exports, entry.imported, entry.defined)
    return entry


def _freshen_instance(inst: InstanceT) -> tuple[InstanceT, list[Resource]]:
    """Give the abstract resources an instance type declares new identities."""
    if not inst.defined:
        return inst, []
    mapping = {r: Resource(r.name) for r in inst.defined}
    new = Subst(mapping).entry(inst)
    assert isinstance(new, InstanceT)
    return InstanceT(new.exports, []), list(mapping.values())


def _add_extern(s: State, name: ast.ExternName, entity: Entity, kind: str, offset: int) -> None:
    """Validate an import/export name and entity, then add it to the index spaces."""
    if entity[0] == "instance":
        inst, fresh = _freshen_instance(entity[1])
        entity = ("instance", inst)
        if kind == "import":
            s.imported_resources.extend(fresh)
        else:
            s.defined_resources.extend(fresh)
    parsed = _check_name(s, name, entity, kind, offset)
    s.tsize += entity_size(entity)
    _check_size(s.tsize, offset if s.type_offset is None else s.type_offset)
    _push_entity(s, entity)
    if entity[0] == "type" and isinstance(entity[1], ResourceEntry):
        created, referenced = entity[1], entity[2]
        if created is referenced:
            (s.imported_resources if kind == "import" else s.defined_resources).append(created.resource)
        if not created.resource.name:
            created.resource.name = name.name
        contexts = s.import_resource_names if kind == "import" else s.export_resource_names
        contexts[id(created)] = name.name
    if not _register_named(s, entity, kind):
        raise ValidationError(f"{entity[0]} not valid to be used as {kind}", offset)
    names = s.import_names if kind == "import" else s.export_names
    other = s.export_names if kind == "import" else s.import_names
    del other
    names.add(parsed, offset)
    (s.imports if kind == "import" else s.exports)[name.name] = entity


def _push_entity(s: State, entity: Entity) -> None:
    kind = entity[0]
    if kind == "func":
        s.funcs.append(entity[1])
    elif kind == "instance":
        s.instances.append(entity[1])
    elif kind == "component":
        s.components.append(entity[1])
    elif kind == "module":
        s.core_modules.append(entity[1])
    elif kind == "value":
        s.values.append(entity[1])
    else:
        s.types.append(entity[1])


def _check_name(s: State, name: ast.ExternName, entity: Entity, kind: str, offset: int,
                contexts: Optional[dict[int, str]] = None) -> nm.Name:
    try:
        parsed = nm.parse_name(name.name, offset, NESTED_NAMES in s.features)
    except ValidationError as err:
        raise err.with_context(f"{kind} name `{name.name}` is not a valid extern name") from None
    if kind == "export" and parsed.kind in ("hash", "url", "dependency"):
        raise ValidationError(f"name `{name.name}` is not a valid export name", offset)
    if name.implements is not None:
        if parsed.kind != "label":
            raise ValidationError(f"name `{name.name}` is not valid with `implements`", offset)
        if entity[0] != "instance":
            raise ValidationError("only instances can have an `implements`", offset)
        try:
            implements = nm.parse_name(name.implements, offset, NESTED_NAMES in s.features)
        except ValidationError as err:
            raise err.with_context(f"`{name.implements}` is not a valid name") from None
        if implements.kind != "interface":
            raise ValidationError(f"name `{name.implements}` must be an interface", offset)
    if name.version_suffix is not None and entity[0] != "instance":
        raise ValidationError("only instances can have an `versionsuffix`", offset)
    try:
        if contexts is None:
            contexts = s.import_resource_names if kind == "import" else s.export_resource_names
        _check_name_shape(parsed, name.version_suffix, entity, contexts, offset)
    except ValidationError as err:
        raise err.with_context(f"{kind} name `{name.name}` is not valid") from None
    return parsed


def _check_name_shape(name: nm.Name, suffix: Optional[str], entity: Entity, contexts: dict[int, str],
                      offset: int) -> None:
    if name.kind == "interface":
        nm.interface_version(name.raw, suffix, offset)
        return
    if name.kind not in ("constructor", "method", "static"):
        return
    if entity[0] != "func":
        raise ValidationError("item is not a func", offset)
    func: Func = entity[1]
    if name.kind == "constructor":
        if func.is_async:
            raise ValidationError("constructor function cannot be async", offset)
        if func.result is None:
            raise ValidationError("function should return one value", offset)
        resource = _own_of(func.result)
        if resource is None:
            raise ValidationError("function should return `(own $T)` or `(result (own $T))`", offset)
        _resource_name(contexts, resource, name.resource, offset)
    elif name.kind == "method":
        if not func.params:
            raise ValidationError("function should have at least one argument", offset)
        pname, ptype = func.params[0]
        if pname != "self":
            raise ValidationError("function should have a first argument called `self`", offset)
        if not (isinstance(ptype, Defined) and ptype.kind == "borrow"):
            raise ValidationError("function should take a first argument of `(borrow $T)`", offset)
        _resource_name(contexts, ptype.items[0], name.resource, offset)
    else:
        if name.resource not in contexts.values():
            raise ValidationError("static resource name is not known in this context", offset)


def _own_of(t: ValT) -> Optional[ResourceEntry]:
    if isinstance(t, Defined):
        if t.kind == "own":
            return t.items[0]  # type: ignore[no-any-return]
        if t.kind == "result" and isinstance(t.items[0], Defined) and t.items[0].kind == "own":
            return t.items[0].items[0]  # type: ignore[no-any-return]
    return None


def _resource_name(contexts: dict[int, str], entry: ResourceEntry, expected: str, offset: int) -> None:
    have = contexts.get(id(entry))
    if have is None:
        raise ValidationError("resource used in function does not have a name in this context", offset)
    if have != expected:
        raise ValidationError(f"function does not match expected resource name `{have}`", offset)


# ------------------------------------------------------------- named types


def _register_named(s: State, entity: Entity, kind: str, done: Optional[set[int]] = None) -> bool:
    """wasmparser's ``validate_and_register_named_types``.

    ``done`` holds the ids of the types and instances already found fine in
    this registration, so an instance type reused many times is walked once.
    """
    if s.kind == "instance-type":
        return True
    named = s.imported_types if kind == "import" else s.exported_types
    if done is None:
        done = set()
    tag = entity[0]
    if tag == "type":
        if not _entry_named(entity[2], named, done):
            return False
        s.exported_types.add(id(entity[1]))
        if kind == "import":
            s.imported_types.add(id(entity[1]))
        return True
    if tag == "instance":
        key = id(entity[1])
        if key in done:
            return True
        ok = all(_register_named(s, e, kind, done) for e in entity[1].exports.values())
        if ok:
            done.add(key)
        return ok
    if tag == "func":
        return _func_named(entity[1], named, done)
    if tag == "value":
        return _val_named(entity[1], named, done)
    return True


# These walks memoise the types already found fine (``done``, by id): a type
# reused in a doubling chain is walked once, keeping the walk linear in the
# number of type definitions rather than in the size of their expansion.


def _val_named(t: Optional[ValT], named: set[int], done: set[int]) -> bool:
    if t is None or isinstance(t, PrimType):
        return True
    kind = t.kind
    if kind in ("record", "variant", "flags", "enum"):
        return id(t) in named
    return _children_named(t, named, done)


def _children_named(t: Defined, named: set[int], done: set[int]) -> bool:
    if id(t) in done:
        return True
    kind = t.kind
    if kind == "prim" or kind in ("flags", "enum"):
        ok = True
    elif kind in ("own", "borrow"):
        ok = id(t.items[0]) in named
    elif kind in ("record", "variant"):
        ok = all(_val_named(x, named, done) for _, x in t.items)
    elif kind == "fixed-list":
        ok = _val_named(t.items[0], named, done)
    else:
        ok = all(_val_named(x, named, done) for x in t.items)
    if ok:
        done.add(id(t))
    return ok


def _func_named(f: Func, named: set[int], done: set[int]) -> bool:
    return all(_val_named(t, named, done) for _, t in f.params) and _val_named(f.result, named, done)


def _entry_named(entry: object, named: set[int], done: set[int]) -> bool:
    if isinstance(entry, ResourceEntry) or isinstance(entry, ComponentT):
        return True
    if isinstance(entry, Defined):
        return _children_named(entry, named, done)
    if isinstance(entry, Func):
        return _func_named(entry, named, done)
    if isinstance(entry, InstanceT):
        if id(entry) in done:
            return True
        ok = all(_entity_named(e, named, done) for e in entry.exports.values())
        if ok:
            done.add(id(entry))
        return ok
    return True


def _entity_named(e: Entity, named: set[int], done: set[int]) -> bool:
    tag = e[0]
    if tag == "func":
        return _func_named(e[1], named, done)
    if tag == "type":
        return _entry_named(e[1], named, done)
    if tag == "value":
        return _val_named(e[1], named, done) if isinstance(e[1], Defined) and e[1].kind not in (
            "record", "variant", "flags", "enum") else (
            isinstance(e[1], PrimType) or _children_named(e[1], named, done))
    if tag == "instance":
        return _entry_named(e[1], named, done)
    return True


# ===================================================================== exports


def _sort_entity(s: State, sort: ast.Sort, index: int, offset: int) -> Entity:
    """The entity of item ``index`` in ``sort``'s index space (for exports and arguments)."""
    if sort is ast.Sort.FUNC:
        return ("func", s.get("funcs", index, offset))
    if sort is ast.Sort.INSTANCE:
        return ("instance", s.get("instances", index, offset))
    if sort is ast.Sort.COMPONENT:
        return ("component", s.get("components", index, offset))
    if sort is ast.Sort.CORE_MODULE:
        return ("module", s.get("core_modules", index, offset))
    if sort is ast.Sort.VALUE:
        return ("value", s.get("values", index, offset))
    if sort is ast.Sort.TYPE:
        entry = s.type_at(index, offset)
        return ("type", entry, entry)
    raise ValidationError(f"cannot export a {sort}", offset)


def _export(s: State, exp: ast.Export) -> None:
    actual = _sort_entity(s, exp.sort, exp.index, exp.offset)
    ascribed: Entity
    entity: Entity
    if exp.desc is not None:
        ascribed = _extern_entity(s, exp.desc, exp.offset, importing=False)
        checker = Checker()
        if ascribed[0] == "type" and isinstance(ascribed[1], ResourceEntry) and ascribed[1] is ascribed[2]:
            # `(sub resource)` ascription: the export keeps the actual resource.
            if not isinstance(actual[1], ResourceEntry):
                raise ValidationError("ascribed type of export is not compatible with item's type", exp.offset)
            fresh = ResourceEntry(Resource())
            ascribed = ("type", fresh, fresh)
            entity = ascribed
            _add_extern(s, exp.name, entity, "export", exp.offset)
            return
        try:
            checker.entity(actual, ascribed)
        except Mismatch as m:
            raise m.within("ascribed type of export is not compatible with item's type").error(exp.offset) from None
        entity = ascribed
    else:
        entity = actual
    if entity[0] == "type":
        entity = ("type", _unique(entity[2]), entity[2])
    _add_extern(s, exp.name, entity, "export", exp.offset)


# =================================================================== instances


def _instance(s: State, inst: object) -> InstanceT:
    if isinstance(inst, ast.Instantiate):
        return _instantiate(s, inst)
    assert isinstance(inst, ast.InlineExports)
    exports: dict[str, Entity] = {}
    names = nm.NameSet("export")
    contexts: dict[int, str] = {}
    for exp in inst.exports:
        entity = _sort_entity(s, exp.sort, exp.index, inst.offset)
        if entity[0] == "type" and isinstance(entity[2], ResourceEntry):
            # A resource gets a new identity, named in this instance only.
            entity = ("type", _unique(entity[2]), entity[2])
        # Other types keep theirs, so the instance's other exports may use them (a variant
        # exported beside the record it carries, as wasmtime accepts).
        parsed = _check_name(s, exp.name, entity, "export", inst.offset, contexts)
        if entity[0] == "type" and isinstance(entity[1], ResourceEntry):
            contexts[id(entity[1])] = exp.name.name
        names.add(parsed, inst.offset)
        exports[exp.name.name] = entity
    instance = InstanceT(exports, [])
    _check_size(instance.tsize, inst.offset)
    return instance


def _instantiate(s: State, inst: ast.Instantiate) -> InstanceT:
    component = s.get("components", inst.component, inst.offset)
    assert isinstance(component, ComponentT)
    args: dict[str, Entity] = {}
    seen: dict[str, str] = {}
    for arg in inst.args:
        key = (nm.parse_name(arg.name, inst.offset, NESTED_NAMES in s.features).key()[1]
               if nm.is_kebab(arg.name) else arg.name)
        if key in seen:
            raise ValidationError(
                f"instantiation argument `{arg.name}` conflicts with previous argument `{seen[key]}`", inst.offset
            )
        seen[key] = arg.name
        args[arg.name] = _sort_entity(s, arg.sort, arg.index, inst.offset)
    checker = Checker(open_resources=set(component.imported))
    entries: dict[int, object] = {}
    for name, expected in component.imports.items():
        actual = args.get(name)
        if actual is None:
            raise ValidationError(f"missing import named `{name}`", inst.offset)
        if expected[0] == "type" and actual[0] == "type":
            entries[id(expected[1])] = actual[1]
        try:
            checker.entity(actual, expected)
        except Mismatch as m:
            raise m.within(f"type mismatch for component instantiation argument named `{name}`").error(
                inst.offset) from None
    mapping = dict(checker.resources)
    for r in component.defined:
        mapping[r] = Resource(r.name)
    subst = Subst(mapping, entries)
    exports = {name: subst.entity(e) for name, e in component.exports.items()}
    instance = InstanceT(exports, [])
    _check_size(instance.tsize, inst.offset)
    return instance


# ===================================================================== aliases


def _alias(s: State, alias: ast.Alias) -> None:
    if isinstance(alias, ast.InstanceExportAlias):
        inst = s.get("instances", alias.instance, alias.offset)
        assert isinstance(inst, InstanceT)
        entity = inst.exports.get(alias.name)
        if entity is None:
            raise ValidationError(f"instance {alias.instance} has no export named `{alias.name}`", alias.offset)
        want = {ast.Sort.FUNC: "func", ast.Sort.INSTANCE: "instance", ast.Sort.COMPONENT: "component",
                ast.Sort.CORE_MODULE: "module", ast.Sort.VALUE: "value", ast.Sort.TYPE: "type"}.get(alias.sort)
        if entity[0] != want:
            # wasmparser names the sort without `core ` ("is not a module").
            raise ValidationError(
                f"export `{alias.name}` for instance {alias.instance} is not a {want}", alias.offset
            )
        _push_entity(s, entity)
    elif isinstance(alias, ast.CoreInstanceExportAlias):
        exports = s.get("core_instances", alias.instance, alias.offset)
        kind = CORE_KIND.get(alias.sort)
        if kind is None:
            raise ValidationError(f"cannot alias a {alias.sort} from a core instance", alias.offset)
        if exports is None:
            _push_core(s, CoreExtern(kind, known=False))
            return
        assert isinstance(exports, dict)
        item = exports.get(alias.name)
        if item is None:
            raise ValidationError(
                f"core instance {alias.instance} has no export named `{alias.name}`", alias.offset
            )
        if item.kind != kind:
            word = {"func": "function"}.get(kind, kind)
            raise ValidationError(
                f"export `{alias.name}` for core instance {alias.instance} is not a {word}", alias.offset
            )
        _push_core(s, item)
    else:
        _outer_alias(s, alias)


def _outer_alias(s: State, alias: ast.OuterAlias) -> None:
    target = s.ancestor(alias.count, alias.offset)
    space = SORT_SPACE.get(alias.sort)
    if alias.sort not in (ast.Sort.TYPE, ast.Sort.CORE_TYPE, ast.Sort.CORE_MODULE, ast.Sort.COMPONENT):
        raise ValidationError(f"outer aliases of {alias.sort} are not allowed", alias.offset)
    assert space is not None
    item = target.get(space, alias.index, alias.offset)
    if alias.sort is ast.Sort.TYPE and alias.count > 0:
        # Crossing a component boundary: the type may not mention outside resources.
        state: Optional[State] = s
        crossed = False
        for _ in range(alias.count):
            assert state is not None
            if state.kind == "component":
                crossed = True
            state = state.parent
        if crossed and _free_resources(item):
            raise ValidationError(
                "cannot alias outer type which transitively refers to resources not defined in the current component",
                alias.offset,
            )
    getattr(s, space).append(item)


def _free_resources(entry: object) -> bool:
    found: set[Resource] = set()
    entry_resources(entry, found, set())
    if isinstance(entry, ComponentT):
        found -= set(entry.imported) | set(entry.defined)
    elif isinstance(entry, InstanceT):
        found -= set(entry.defined)
    return bool(found)


__all__ = ["validate_component", "State", "entity_resources"]
