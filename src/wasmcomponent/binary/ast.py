"""The decoded component binary: one frozen dataclass per grammar production.

This is the *unresolved* form of a component, exactly as ``design/mvp/Binary.md``
lays it out: every reference to another definition is still an index into one
of the component's index spaces, and sections stay in binary order because the
index spaces are built incrementally from them.  Validation and translation
(``validate``, ``translate``) turn this into ``types.model`` types.

Conventions:

* Component value types (``ValTypeRef``) are either a ``types.model.PrimType``
  (the primitive is written inline in the binary) or an ``int`` type index.
* Core value types (``CoreValType``) are the strings ``'i32' 'i64' 'f32' 'f64'
  'v128'`` or a :class:`CoreRefType`.
* Every item that a later stage can reject carries ``offset``: the byte offset
  of the item in the *outermost* binary.  ``offset`` is excluded from equality,
  so tests can compare decoded trees against hand-built ones.
* Core modules are kept as raw bytes (:class:`CoreModuleSection`); nested
  components are decoded recursively (:class:`ComponentSection`).
* Canonical built-ins other than lift/lower/resource.* decode into
  :class:`CanonBuiltin` with their spec name and immediates, so the translator
  can name them in an ``UnsupportedError``.

Example::

    >>> from wasmcomponent.types.model import U32
    >>> RecordDef((("x", U32), ("y", 0))) == RecordDef((("x", U32), ("y", 0)), offset=12)
    True
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Union

from .primitives import PrimType

# --------------------------------------------------------------------------- sorts


class Sort(enum.Enum):
    """A ``sort`` or ``core:sort``; the value is the text-format spelling."""

    CORE_FUNC = "core func"
    CORE_TABLE = "core table"
    CORE_MEMORY = "core memory"
    CORE_GLOBAL = "core global"
    CORE_TAG = "core tag"
    CORE_TYPE = "core type"
    CORE_MODULE = "core module"
    CORE_INSTANCE = "core instance"
    FUNC = "func"
    VALUE = "value"
    TYPE = "type"
    COMPONENT = "component"
    INSTANCE = "instance"

    @property
    def is_core(self) -> bool:
        """True for the ``core:sort`` members."""
        return self.value.startswith("core ")

    def __str__(self) -> str:
        return self.value


# ---------------------------------------------------------------------- core types

CoreHeapType = Union[str, int]
"""An abstract heap type name (``'func'``, ``'extern'``, ``'any'``, ...) or a type index."""


@dataclass(frozen=True, slots=True)
class CoreRefType:
    """A core reference type, e.g. ``funcref`` = ``CoreRefType(True, 'func')``."""

    nullable: bool
    heap: CoreHeapType
    shared: bool = False
    exact: bool = False

    def __str__(self) -> str:
        null = "null " if self.nullable else ""
        shared = "shared " if self.shared else ""
        return f"(ref {null}{shared}{self.heap})"


CoreValType = Union[str, CoreRefType]


@dataclass(frozen=True, slots=True)
class CoreFuncType:
    """``(func (param ..) (result ..))``; the common case of a core type."""

    params: tuple[CoreValType, ...]
    results: tuple[CoreValType, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CoreFieldType:
    """A GC struct field / array element; ``storage`` is a CoreValType or ``'i8'``/``'i16'``."""

    storage: CoreValType
    mutable: bool


@dataclass(frozen=True, slots=True)
class CoreStructType:
    fields: tuple[CoreFieldType, ...]


@dataclass(frozen=True, slots=True)
class CoreArrayType:
    element: CoreFieldType


@dataclass(frozen=True, slots=True)
class CoreContType:
    """Stack-switching continuation type over function type ``type_index``."""

    type_index: int


CoreCompositeType = Union[CoreFuncType, CoreStructType, CoreArrayType, CoreContType]


@dataclass(frozen=True, slots=True)
class CoreSubType:
    """``(sub final? supertypes composite)``; ``shared`` is the shared-everything prefix."""

    final: bool
    supertypes: tuple[int, ...]
    composite: CoreCompositeType
    shared: bool = False


@dataclass(frozen=True, slots=True)
class CoreRecGroup:
    """A GC-proposal type definition: a ``rec`` group (``explicit``) or one ``sub`` type.

    A plain final function type without supertypes is decoded as :class:`CoreFuncType`
    instead, so ``CoreRecGroup`` only appears for GC / shared-everything encodings.
    """

    types: tuple[CoreSubType, ...]
    explicit: bool
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CoreFuncDesc:
    """Core extern type ``(func (type i))``; ``exact`` for the custom-descriptors form."""

    type_index: int
    exact: bool = False


@dataclass(frozen=True, slots=True)
class CoreTableDesc:
    element: CoreRefType
    minimum: int
    maximum: int | None
    table64: bool = False
    shared: bool = False


@dataclass(frozen=True, slots=True)
class CoreMemoryDesc:
    minimum: int
    maximum: int | None
    memory64: bool = False
    shared: bool = False
    page_size_log2: int | None = None


@dataclass(frozen=True, slots=True)
class CoreGlobalDesc:
    type: CoreValType
    mutable: bool
    shared: bool = False


@dataclass(frozen=True, slots=True)
class CoreTagDesc:
    type_index: int


CoreExternDesc = Union[CoreFuncDesc, CoreTableDesc, CoreMemoryDesc, CoreGlobalDesc, CoreTagDesc]


@dataclass(frozen=True, slots=True)
class CoreImportDecl:
    """``(import "module" "name" desc)`` inside a core module type."""

    module: str
    name: str
    desc: CoreExternDesc
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CoreTypeDeclInModule:
    """``(type ...)`` inside a core module type."""

    type: Union[CoreFuncType, CoreRecGroup]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CoreOuterAliasDecl:
    """``(alias outer count index (type))`` inside a core module type."""

    count: int
    index: int
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CoreExportDecl:
    name: str
    desc: CoreExternDesc
    offset: int = field(default=0, compare=False)


CoreModuleDecl = Union[CoreImportDecl, CoreTypeDeclInModule, CoreOuterAliasDecl, CoreExportDecl]


@dataclass(frozen=True, slots=True)
class CoreModuleType:
    decls: tuple[CoreModuleDecl, ...]
    offset: int = field(default=0, compare=False)


CoreType = Union[CoreFuncType, CoreRecGroup, CoreModuleType]


# ------------------------------------------------------------------ component types

ValTypeRef = Union[PrimType, int]
"""A component ``valtype``: an inline primitive or a type index."""


@dataclass(frozen=True, slots=True)
class PrimDef:
    """A primitive used as a whole type definition, e.g. ``(type u32)``."""

    type: PrimType
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class RecordDef:
    fields: tuple[tuple[str, ValTypeRef], ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class VariantCaseDef:
    name: str
    type: ValTypeRef | None


@dataclass(frozen=True, slots=True)
class VariantDef:
    cases: tuple[VariantCaseDef, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ListDef:
    element: ValTypeRef
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class FixedListDef:
    """``(list t len)`` (gated 🔧)."""

    element: ValTypeRef
    length: int
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class TupleDef:
    elements: tuple[ValTypeRef, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class FlagsDef:
    names: tuple[str, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class EnumDef:
    names: tuple[str, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class OptionDef:
    payload: ValTypeRef
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ResultDef:
    ok: ValTypeRef | None
    err: ValTypeRef | None
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class OwnDef:
    type_index: int
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class BorrowDef:
    type_index: int
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class StreamDef:
    payload: ValTypeRef | None
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class FutureDef:
    payload: ValTypeRef | None
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class MapDef:
    """``(map k v)`` (gated 🗺️)."""

    key: ValTypeRef
    value: ValTypeRef
    offset: int = field(default=0, compare=False)


DefValType = Union[
    PrimDef,
    RecordDef,
    VariantDef,
    ListDef,
    FixedListDef,
    TupleDef,
    FlagsDef,
    EnumDef,
    OptionDef,
    ResultDef,
    OwnDef,
    BorrowDef,
    StreamDef,
    FutureDef,
    MapDef,
]


@dataclass(frozen=True, slots=True)
class FuncTypeDef:
    """``(func async? (param "name" t)* (result t)?)``."""

    params: tuple[tuple[str, ValTypeRef], ...]
    result: ValTypeRef | None
    is_async: bool = False
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ResourceTypeDef:
    """``(resource (rep i32) (dtor f)?)``; ``rep`` is a core value type string."""

    rep: CoreValType
    dtor: int | None
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ComponentTypeDef:
    decls: tuple[ComponentDecl, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class InstanceTypeDef:
    decls: tuple[InstanceDecl, ...]
    offset: int = field(default=0, compare=False)


DefType = Union[DefValType, FuncTypeDef, ComponentTypeDef, InstanceTypeDef, ResourceTypeDef]


# ---------------------------------------------------------------- names and externs


@dataclass(frozen=True, slots=True)
class ExternName:
    """A ``nameattributes``: the name string plus its optional attributes.

    ``encoding`` is the leading byte (0x00 and 0x01 are equivalent; 0x02 carries
    attributes).  Use :func:`parse_extern_name` for the lexical structure.
    """

    name: str
    implements: str | None = None
    version_suffix: str | None = None
    external_id: str | None = None
    encoding: int = field(default=0, compare=False)
    offset: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return self.name

    @property
    def parsed(self) -> ParsedName:
        """The lexical shape of ``name`` (see :func:`parse_extern_name`)."""
        return parse_extern_name(self.name)


@dataclass(frozen=True, slots=True)
class ParsedName:
    """The lexical shape of an extern name; nothing here is validated.

    ``kind`` is one of ``'label'`` (``foo``), ``'constructor'``
    (``[constructor]r``), ``'method'`` (``[method]r.m``), ``'static'``
    (``[static]r.m``), ``'interface'`` (``ns:pkg/iface@1.2.3``), ``'dependency'``
    (``locked-dep=<..>``/``unlocked-dep=<..>``), ``'url'``, ``'hash'`` or ``'other'``.
    """

    kind: str
    label: str = ""
    resource: str | None = None
    namespace: str | None = None
    package: str | None = None
    interface: str | None = None
    version: str | None = None


def parse_extern_name(name: str) -> ParsedName:
    """Split an extern name into its annotation / interface parts.

    >>> parse_extern_name("[method]file.read")
    ParsedName(kind='method', label='read', resource='file', namespace=None, package=None, interface=None, version=None)
    >>> p = parse_extern_name("wasi:cli/environment@0.2.3")
    >>> (p.kind, p.namespace, p.package, p.interface, p.version)
    ('interface', 'wasi', 'cli', 'environment', '0.2.3')
    """
    for prefix, kind in (("[constructor]", "constructor"), ("[method]", "method"), ("[static]", "static")):
        if name.startswith(prefix):
            rest = name[len(prefix):]
            if kind == "constructor":
                return ParsedName(kind, label=rest, resource=rest)
            resource, dot, label = rest.partition(".")
            if not dot:
                return ParsedName("other", label=name)
            return ParsedName(kind, label=label, resource=resource)
    for prefix, kind in (
        ("locked-dep=", "dependency"),
        ("unlocked-dep=", "dependency"),
        ("url=", "url"),
        ("integrity=", "hash"),
    ):
        if name.startswith(prefix):
            return ParsedName(kind, label=name)
    if name.startswith("["):
        return ParsedName("other", label=name)
    if ":" in name and "/" in name:
        path, at, version = name.partition("@")
        colon = path.rfind(":")
        namespace, rest = path[:colon], path[colon + 1:]
        package, _, interface = rest.partition("/")
        return ParsedName(
            "interface",
            label=name,
            namespace=namespace,
            package=package,
            interface=interface,
            version=version if at else None,
        )
    return ParsedName("label", label=name)


@dataclass(frozen=True, slots=True)
class TypeBoundEq:
    """``(eq i)``."""

    type_index: int


@dataclass(frozen=True, slots=True)
class TypeBoundSubResource:
    """``(sub resource)``."""


TypeBound = Union[TypeBoundEq, TypeBoundSubResource]


@dataclass(frozen=True, slots=True)
class ValueBoundEq:
    """``(value (eq i))`` 🪙."""

    value_index: int


@dataclass(frozen=True, slots=True)
class ValueBoundType:
    """``(value t)`` 🪙."""

    type: ValTypeRef


ValueBound = Union[ValueBoundEq, ValueBoundType]


@dataclass(frozen=True, slots=True)
class ExternCoreModule:
    type_index: int


@dataclass(frozen=True, slots=True)
class ExternFunc:
    type_index: int


@dataclass(frozen=True, slots=True)
class ExternValue:
    bound: ValueBound


@dataclass(frozen=True, slots=True)
class ExternType:
    bound: TypeBound


@dataclass(frozen=True, slots=True)
class ExternComponent:
    type_index: int


@dataclass(frozen=True, slots=True)
class ExternInstance:
    type_index: int


ExternDesc = Union[
    ExternCoreModule, ExternFunc, ExternValue, ExternType, ExternComponent, ExternInstance
]

INDEX_SPACE: dict[Sort, str] = {
    Sort.CORE_FUNC: "core_funcs",
    Sort.CORE_TABLE: "core_tables",
    Sort.CORE_MEMORY: "core_memories",
    Sort.CORE_GLOBAL: "core_globals",
    Sort.CORE_TAG: "core_tags",
    Sort.CORE_TYPE: "core_types",
    Sort.CORE_MODULE: "core_modules",
    Sort.CORE_INSTANCE: "core_instances",
    Sort.FUNC: "funcs",
    Sort.VALUE: "values",
    Sort.TYPE: "types",
    Sort.COMPONENT: "components",
    Sort.INSTANCE: "instances",
}
"""The name of each sort's index space, as validator and translator state call them."""

EXTERN_DESC_SORT: dict[type, Sort] = {
    ExternCoreModule: Sort.CORE_MODULE,
    ExternFunc: Sort.FUNC,
    ExternValue: Sort.VALUE,
    ExternType: Sort.TYPE,
    ExternComponent: Sort.COMPONENT,
    ExternInstance: Sort.INSTANCE,
}
"""The sort an extern descriptor introduces (read-only table)."""


# -------------------------------------------------------------------------- aliases


@dataclass(frozen=True, slots=True)
class InstanceExportAlias:
    """``(alias export instance "name" (sort))``."""

    sort: Sort
    instance: int
    name: str
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CoreInstanceExportAlias:
    """``(alias core export core-instance "name" (core sort))``."""

    sort: Sort
    instance: int
    name: str
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class OuterAlias:
    """``(alias outer count index (sort))``."""

    sort: Sort
    count: int
    index: int
    offset: int = field(default=0, compare=False)


Alias = Union[InstanceExportAlias, CoreInstanceExportAlias, OuterAlias]


# ----------------------------------------------------- component/instance type decls


@dataclass(frozen=True, slots=True)
class CoreTypeDecl:
    type: CoreType
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class TypeDecl:
    type: DefType
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class AliasDecl:
    alias: Alias
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ImportDecl:
    name: ExternName
    desc: ExternDesc
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ExportDecl:
    name: ExternName
    desc: ExternDesc
    offset: int = field(default=0, compare=False)


InstanceDecl = Union[CoreTypeDecl, TypeDecl, AliasDecl, ExportDecl]
ComponentDecl = Union[CoreTypeDecl, TypeDecl, AliasDecl, ImportDecl, ExportDecl]


# ------------------------------------------------------------------------ instances


@dataclass(frozen=True, slots=True)
class CoreInstantiateArg:
    """``(with "name" (instance i))``."""

    name: str
    instance: int


@dataclass(frozen=True, slots=True)
class CoreInstantiate:
    module: int
    args: tuple[CoreInstantiateArg, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CoreInlineExport:
    name: str
    sort: Sort
    index: int


@dataclass(frozen=True, slots=True)
class CoreInlineExports:
    exports: tuple[CoreInlineExport, ...]
    offset: int = field(default=0, compare=False)


CoreInstance = Union[CoreInstantiate, CoreInlineExports]


@dataclass(frozen=True, slots=True)
class InstantiateArg:
    name: str
    sort: Sort
    index: int


@dataclass(frozen=True, slots=True)
class Instantiate:
    component: int
    args: tuple[InstantiateArg, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class InlineExport:
    name: ExternName
    sort: Sort
    index: int


@dataclass(frozen=True, slots=True)
class InlineExports:
    exports: tuple[InlineExport, ...]
    offset: int = field(default=0, compare=False)


Instance = Union[Instantiate, InlineExports]


# ---------------------------------------------------------------------------- canon


@dataclass(frozen=True, slots=True)
class CanonOpt:
    """One ``canonopt``.

    ``kind`` is ``'utf8'``, ``'utf16'``, ``'latin1+utf16'``, ``'memory'``,
    ``'realloc'``, ``'post-return'``, ``'async'``, ``'callback'``,
    ``'core-type'`` or ``'gc'``; ``index`` is set for the ones with an immediate.
    """

    kind: str
    index: int | None = None
    offset: int = field(default=0, compare=False)


STRING_ENCODINGS = ("utf8", "utf16", "latin1+utf16")


@dataclass(frozen=True, slots=True)
class CanonOptions:
    """A ``canonopt*`` list in binary order (duplicates kept for the validator).

    The properties return the first occurrence of each option.
    """

    items: tuple[CanonOpt, ...] = ()

    def _index(self, kind: str) -> int | None:
        for opt in self.items:
            if opt.kind == kind:
                return opt.index
        return None

    @property
    def string_encoding(self) -> str | None:
        """The explicit string encoding, or None (which means utf8)."""
        for opt in self.items:
            if opt.kind in STRING_ENCODINGS:
                return opt.kind
        return None

    @property
    def memory(self) -> int | None:
        return self._index("memory")

    @property
    def realloc(self) -> int | None:
        return self._index("realloc")

    @property
    def post_return(self) -> int | None:
        return self._index("post-return")

    @property
    def callback(self) -> int | None:
        return self._index("callback")

    @property
    def core_type(self) -> int | None:
        return self._index("core-type")

    @property
    def is_async(self) -> bool:
        return any(opt.kind == "async" for opt in self.items)

    @property
    def gc(self) -> bool:
        return any(opt.kind == "gc" for opt in self.items)


@dataclass(frozen=True, slots=True)
class CanonLift:
    core_func: int
    options: CanonOptions
    type_index: int
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CanonLower:
    func: int
    options: CanonOptions
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CanonResourceNew:
    type_index: int
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CanonResourceDrop:
    type_index: int
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CanonResourceRep:
    type_index: int
    offset: int = field(default=0, compare=False)


CanonImmediate = Union[int, bool, str, PrimType, None]


@dataclass(frozen=True, slots=True)
class CanonBuiltin:
    """Any other ``canon`` definition (async, threads, error-context, ...).

    ``name`` is the spec's spelling (``'task.return'``, ``'stream.read'``,
    ``'waitable-set.wait'``, ...); ``immediates`` holds ``(name, value)`` pairs
    in binary order, e.g. ``(('type', 3),)`` or ``(('cancellable', True),
    ('memory', 0))``; ``task.return``'s result is ``('result', ValTypeRef | None)``.
    ``options`` is set for the built-ins that take ``opts``.
    """

    name: str
    opcode: int
    immediates: tuple[tuple[str, CanonImmediate], ...] = ()
    options: CanonOptions | None = None
    offset: int = field(default=0, compare=False)

    def get(self, key: str) -> CanonImmediate:
        """The immediate called ``key``, or None."""
        for name, value in self.immediates:
            if name == key:
                return value
        return None


Canon = Union[CanonLift, CanonLower, CanonResourceNew, CanonResourceDrop, CanonResourceRep, CanonBuiltin]


# ------------------------------------------------------------ start/import/export/value


@dataclass(frozen=True, slots=True)
class Start:
    """``(start f (value arg)* (result (value))^results)`` 🪙."""

    func: int
    args: tuple[int, ...]
    results: int
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Import:
    name: ExternName
    desc: ExternDesc
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Export:
    name: ExternName
    sort: Sort
    index: int
    desc: ExternDesc | None
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Value:
    """``(value t v)`` 🪙; ``data`` is the still-encoded ``val(t)`` bytes."""

    type: ValTypeRef
    data: bytes
    offset: int = field(default=0, compare=False)


# ------------------------------------------------------------------------- sections


@dataclass(frozen=True, slots=True)
class CustomSection:
    name: str
    data: bytes
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CoreModuleSection:
    """A core module, undecoded; ``offset`` is where its ``\\0asm`` starts."""

    data: bytes
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CoreInstanceSection:
    instances: tuple[CoreInstance, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CoreTypeSection:
    types: tuple[CoreType, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ComponentSection:
    component: ComponentAST
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class InstanceSection:
    instances: tuple[Instance, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class AliasSection:
    aliases: tuple[Alias, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class TypeSection:
    types: tuple[DefType, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CanonSection:
    funcs: tuple[Canon, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class StartSection:
    start: Start
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ImportSection:
    imports: tuple[Import, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ExportSection:
    exports: tuple[Export, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ValueSection:
    values: tuple[Value, ...]
    offset: int = field(default=0, compare=False)


Section = Union[
    CoreModuleSection,
    CoreInstanceSection,
    CoreTypeSection,
    ComponentSection,
    InstanceSection,
    AliasSection,
    TypeSection,
    CanonSection,
    StartSection,
    ImportSection,
    ExportSection,
    ValueSection,
]


@dataclass(frozen=True, slots=True)
class ComponentAST:
    """One decoded component.

    ``sections`` are the non-custom sections in binary order (repeated kinds keep
    their order); ``custom_sections`` the custom ones, also in order.  ``offset``
    is where the preamble starts and ``end`` one past the last byte.
    """

    sections: tuple[Section, ...]
    custom_sections: tuple[CustomSection, ...] = ()
    offset: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)
