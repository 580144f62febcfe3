"""Resolving decoded type definitions (``binary.ast``) into the type model.

A ``TypeSpace`` is one scope's type index spaces (component types and core
types) plus its lexical parent, which ``alias outer`` climbs.  Components,
component types and instance types each open one.

Resource types are nominal: each ``(type (resource ...))`` in a component and
each ``(export "r" (type (sub resource)))`` in a type declaration mints a new
``ResourceIdentity``; ``declared_resources`` records which identities each
instance type declares, so that every import of it can have its own
(``translate.imported``).
"""

from __future__ import annotations

from typing import Callable, Optional, Union, get_args

from ..binary import ast
from ..errors import UnsupportedError, ValidationError
from ..types import model

TypeEntry = Union[
    model.ValType,
    model.FuncType,
    model.InstanceType,
    model.ComponentType,
    model.ResourceIdentity,
]
CoreTypeEntry = Union[model.CoreFuncType, model.CoreModuleType, object]

# The classes of the value types, for isinstance checks.
VALUE_TYPE_CLASSES: tuple[type, ...] = get_args(model.ValType)


def lookup(items: list, index: int, what: str, offset: int = 0) -> object:
    """``items[index]`` or a ValidationError naming the index space."""
    if 0 <= index < len(items):
        return items[index]
    raise ValidationError(f"unknown {what} {index}: {what} index out of bounds", offset)


class TypeSpace:
    """The type index spaces of one scope."""

    def __init__(self, parent: Optional[TypeSpace]) -> None:
        self.parent = parent
        self.types: list[TypeEntry] = []
        self.core_types: list[CoreTypeEntry] = []
        # The `sub resource`s each instance type declares: id(type) -> (type, identities).
        # One dict for all the scopes of a translation.
        self.declared_resources: dict[int, tuple[model.InstanceType, tuple[model.ResourceIdentity, ...]]] = (
            {} if parent is None else parent.declared_resources
        )

    def ancestor(self, count: int, offset: int) -> TypeSpace:
        space: Optional[TypeSpace] = self
        for _ in range(count):
            space = space.parent if space is not None else None
        if space is None:
            raise ValidationError("invalid outer alias count", offset)
        return space

    # ------------------------------------------------------------ value types

    def type_at(self, index: int, offset: int = 0) -> TypeEntry:
        return lookup(self.types, index, "type", offset)  # type: ignore[return-value]

    def valtype(self, ref: ast.ValTypeRef, offset: int = 0) -> model.ValType:
        if isinstance(ref, model.PrimType):
            return ref
        entry = self.type_at(ref, offset)
        if not isinstance(entry, VALUE_TYPE_CLASSES):
            raise ValidationError(f"type index {ref} is not a defined type", offset)
        return entry  # type: ignore[return-value]  # narrowed by VALUE_TYPE_CLASSES

    def resource_at(self, index: int, offset: int) -> model.ResourceIdentity:
        entry = self.type_at(index, offset)
        if not isinstance(entry, model.ResourceIdentity):
            raise ValidationError(f"type index {index} is not a resource type", offset)
        return entry

    def functype_at(self, index: int, offset: int) -> model.FuncType:
        entry = self.type_at(index, offset)
        if not isinstance(entry, model.FuncType):
            raise ValidationError(f"type index {index} is not a function type", offset)
        return entry

    def defvaltype(self, d: ast.DefValType) -> model.ValType:
        v = self.valtype
        off = d.offset
        if isinstance(d, ast.PrimDef):
            return d.type
        if isinstance(d, ast.RecordDef):
            return model.RecordType(tuple((name, v(t, off)) for name, t in d.fields))
        if isinstance(d, ast.VariantDef):
            return model.VariantType(
                tuple((c.name, None if c.type is None else v(c.type, off)) for c in d.cases)
            )
        if isinstance(d, ast.ListDef):
            return model.ListType(v(d.element, off))
        if isinstance(d, ast.FixedListDef):
            return model.ListType(v(d.element, off), d.length)
        if isinstance(d, ast.TupleDef):
            return model.TupleType(tuple(v(t, off) for t in d.elements))
        if isinstance(d, ast.FlagsDef):
            if len(d.names) > 32:
                raise ValidationError("cannot have more than 32 flags", off)
            return model.FlagsType(d.names)
        if isinstance(d, ast.EnumDef):
            return model.EnumType(d.names)
        if isinstance(d, ast.OptionDef):
            return model.OptionType(v(d.payload, off))
        if isinstance(d, ast.ResultDef):
            return model.ResultType(
                None if d.ok is None else v(d.ok, off), None if d.err is None else v(d.err, off)
            )
        if isinstance(d, ast.OwnDef):
            return model.OwnType(self.resource_at(d.type_index, off))
        if isinstance(d, ast.BorrowDef):
            return model.BorrowType(self.resource_at(d.type_index, off))
        if isinstance(d, ast.StreamDef):
            return model.StreamType(None if d.payload is None else v(d.payload, off))
        if isinstance(d, ast.FutureDef):
            return model.FutureType(None if d.payload is None else v(d.payload, off))
        if isinstance(d, ast.MapDef):
            return model.MapType(v(d.key, off), v(d.value, off))
        raise AssertionError(f"unhandled type definition {d!r}")

    def functype(self, d: ast.FuncTypeDef) -> model.FuncType:
        params = tuple((name, self.valtype(t, d.offset)) for name, t in d.params)
        result = None if d.result is None else self.valtype(d.result, d.offset)
        return model.FuncType(params, result, d.is_async)

    def deftype(
        self,
        d: ast.DefType,
        define_resource: Callable[[ast.ResourceTypeDef], model.ResourceIdentity],
    ) -> TypeEntry:
        """Resolve a type definition; ``define_resource`` mints resource types (components only)."""
        if isinstance(d, ast.FuncTypeDef):
            return self.functype(d)
        if isinstance(d, ast.ResourceTypeDef):
            return define_resource(d)
        if isinstance(d, ast.InstanceTypeDef):
            return DeclSpace(self).instance_type(d)
        if isinstance(d, ast.ComponentTypeDef):
            return DeclSpace(self).component_type(d)
        return self.defvaltype(d)

    # ------------------------------------------------------------ core types

    def core_type(self, d: ast.CoreType) -> CoreTypeEntry:
        if isinstance(d, ast.CoreFuncType):
            return core_functype(d)
        if isinstance(d, ast.CoreModuleType):
            return CoreModuleSpace(self).module_type(d)
        return d  # GC rec groups: kept opaque

    def outer_alias(self, alias: ast.OuterAlias) -> object:
        space = self.ancestor(alias.count, alias.offset)
        if alias.sort is ast.Sort.TYPE:
            return lookup(space.types, alias.index, "type", alias.offset)
        if alias.sort is ast.Sort.CORE_TYPE:
            return lookup(space.core_types, alias.index, "core type", alias.offset)
        raise ValidationError(f"outer alias of sort {alias.sort} is not allowed here", alias.offset)

    # ------------------------------------------------------------ extern descriptors

    def extern_type(self, desc: ast.ExternDesc, offset: int) -> model.ExternType:
        """The model type of an import/export descriptor."""
        if isinstance(desc, ast.ExternFunc):
            return self.functype_at(desc.type_index, offset)
        if isinstance(desc, ast.ExternInstance):
            entry = self.type_at(desc.type_index, offset)
            if not isinstance(entry, model.InstanceType):
                raise ValidationError(f"type index {desc.type_index} is not an instance type", offset)
            return entry
        if isinstance(desc, ast.ExternComponent):
            entry = self.type_at(desc.type_index, offset)
            if not isinstance(entry, model.ComponentType):
                raise ValidationError(f"type index {desc.type_index} is not a component type", offset)
            return entry
        if isinstance(desc, ast.ExternCoreModule):
            core = lookup(self.core_types, desc.type_index, "core type", offset)
            if not isinstance(core, model.CoreModuleType):
                raise ValidationError(f"core type index {desc.type_index} is not a module type", offset)
            return core
        if isinstance(desc, ast.ExternType):
            bound = desc.bound
            if isinstance(bound, ast.TypeBoundSubResource):
                return model.TypeBound(resource=model.ResourceIdentity())
            eq = self.type_at(bound.type_index, offset)
            if isinstance(eq, model.ResourceIdentity):
                return model.TypeBound(resource=eq)
            return model.TypeBound(eq=eq)  # type: ignore[arg-type]
        raise UnsupportedError("value imports and exports are not supported yet")


def bound_entry(extern: model.ExternType) -> TypeEntry:
    """The type index entry an imported/exported type descriptor introduces."""
    if isinstance(extern, model.TypeBound):
        if extern.resource is not None:
            return extern.resource
        assert extern.eq is not None
        return extern.eq  # type: ignore[return-value]
    return extern  # type: ignore[return-value]


class DeclSpace(TypeSpace):
    """The scope of a component type or instance type declaration.

    Besides types, a declaration has its own instance index space (filled by
    instance imports/exports), so that ``alias export $i "t" (type)`` can name
    a type exported by an instance declared earlier in the same declaration.
    """

    def __init__(self, parent: Optional[TypeSpace]) -> None:
        super().__init__(parent)
        self.instances: list[model.InstanceType] = []
        self.minted: list[model.ResourceIdentity] = []  # by `sub resource` imports/exports

    def _declare(self, decl: object, imports: Optional[dict], exports: dict) -> None:
        if isinstance(decl, ast.CoreTypeDecl):
            self.core_types.append(self.core_type(decl.type))
        elif isinstance(decl, ast.TypeDecl):
            if isinstance(decl.type, ast.ResourceTypeDef):
                raise ValidationError("resources can only be defined within a concrete component", decl.offset)
            self.types.append(self.deftype(decl.type, _no_resource))
        elif isinstance(decl, ast.AliasDecl):
            self._alias(decl.alias)
        elif isinstance(decl, (ast.ImportDecl, ast.ExportDecl)):
            extern = self.extern_type(decl.desc, decl.offset)
            target = exports if isinstance(decl, ast.ExportDecl) else imports
            if target is None:
                raise ValidationError("imports are not allowed in instance types", decl.offset)
            target[decl.name.name] = extern
            if isinstance(decl.desc, ast.ExternType):
                entry = bound_entry(extern)
                if isinstance(entry, model.ResourceIdentity) and not entry.name:
                    entry.name = decl.name.name
                if isinstance(decl.desc.bound, ast.TypeBoundSubResource):
                    self.minted.append(entry)  # type: ignore[arg-type]  # a sub bound is a resource
                self.types.append(entry)
            elif isinstance(extern, model.InstanceType):
                self.instances.append(extern)
        else:
            raise AssertionError(f"unhandled declaration {decl!r}")

    def _alias(self, alias: ast.Alias) -> None:
        if isinstance(alias, ast.OuterAlias):
            value = self.outer_alias(alias)
            if alias.sort is ast.Sort.TYPE:
                self.types.append(value)  # type: ignore[arg-type]
            else:
                self.core_types.append(value)
            return
        if isinstance(alias, ast.InstanceExportAlias):
            instance = lookup(self.instances, alias.instance, "instance", alias.offset)
            assert isinstance(instance, model.InstanceType)
            extern = instance.exports.get(alias.name)
            if extern is None:
                raise ValidationError(f"instance {alias.instance} has no export named `{alias.name}`", alias.offset)
            if alias.sort is ast.Sort.TYPE:
                if not isinstance(extern, model.TypeBound):
                    raise ValidationError(f"export `{alias.name}` for instance {alias.instance} is not a type", alias.offset)
                self.types.append(bound_entry(extern))
            elif alias.sort is ast.Sort.INSTANCE:
                if not isinstance(extern, model.InstanceType):
                    raise ValidationError(f"export `{alias.name}` for instance {alias.instance} is not an instance", alias.offset)
                self.instances.append(extern)
            return
        raise ValidationError("core export aliases are not allowed in type declarations", alias.offset)

    def instance_type(self, d: ast.InstanceTypeDef) -> model.InstanceType:
        exports: dict[str, model.ExternType] = {}
        for decl in d.decls:
            self._declare(decl, None, exports)
        found = model.InstanceType(exports)
        if self.minted:
            self.declared_resources[id(found)] = (found, tuple(self.minted))
        return found

    def component_type(self, d: ast.ComponentTypeDef) -> model.ComponentType:
        imports: dict[str, model.ExternType] = {}
        exports: dict[str, model.ExternType] = {}
        for decl in d.decls:
            self._declare(decl, imports, exports)
        return model.ComponentType(imports, exports)


def _no_resource(d: ast.ResourceTypeDef) -> model.ResourceIdentity:
    raise ValidationError("resources can only be defined within a concrete component", d.offset)


class CoreModuleSpace:
    """The scope of a core module type declaration."""

    def __init__(self, parent: TypeSpace) -> None:
        self.parent = parent
        self.types: list[object] = []

    def _functype(self, index: int, offset: int) -> Optional[model.CoreFuncType]:
        entry = lookup(self.types, index, "core type", offset)
        return entry if isinstance(entry, model.CoreFuncType) else None

    def _extern(self, desc: ast.CoreExternDesc, offset: int) -> model.CoreExternType:
        """The model type; ``detail`` tuples match those of ``_engine.core.module_exports``."""
        if isinstance(desc, ast.CoreFuncDesc):
            return model.CoreExternType("func", self._functype(desc.type_index, offset))
        if isinstance(desc, ast.CoreTableDesc):
            return model.CoreExternType(
                "table", detail=(core_valtype_name(desc.element), desc.minimum, desc.maximum)
            )
        if isinstance(desc, ast.CoreMemoryDesc):
            return model.CoreExternType(
                "memory", detail=(desc.minimum, desc.maximum, desc.memory64, desc.shared)
            )
        if isinstance(desc, ast.CoreGlobalDesc):
            return model.CoreExternType("global", detail=(core_valtype_name(desc.type), desc.mutable))
        return model.CoreExternType("tag", detail=self._functype(desc.type_index, offset))

    def module_type(self, d: ast.CoreModuleType) -> model.CoreModuleType:
        imports: list[tuple[str, str, model.CoreExternType]] = []
        exports: list[tuple[str, model.CoreExternType]] = []
        for decl in d.decls:
            if isinstance(decl, ast.CoreTypeDeclInModule):
                t = decl.type
                self.types.append(core_functype(t) if isinstance(t, ast.CoreFuncType) else t)
            elif isinstance(decl, ast.CoreOuterAliasDecl):
                space = self.parent.ancestor(decl.count - 1, decl.offset) if decl.count > 0 else None
                if space is None:
                    self.types.append(lookup(self.types, decl.index, "core type", decl.offset))
                else:
                    self.types.append(lookup(space.core_types, decl.index, "core type", decl.offset))
            elif isinstance(decl, ast.CoreImportDecl):
                imports.append((decl.module, decl.name, self._extern(decl.desc, decl.offset)))
            else:
                exports.append((decl.name, self._extern(decl.desc, decl.offset)))
        return model.CoreModuleType(tuple(imports), tuple(exports))


def core_valtype_name(t: ast.CoreValType) -> str:
    """A core value type as the core engine's reflection names it (``funcref``, ``i32``, ...)."""
    if isinstance(t, ast.CoreRefType):
        if t.nullable and t.heap in ("func", "extern"):
            return f"{t.heap}ref"
        return str(t)
    return t


def core_functype(d: ast.CoreFuncType) -> model.CoreFuncType:
    return model.CoreFuncType(
        tuple(map(core_valtype_name, d.params)), tuple(map(core_valtype_name, d.results))
    )
