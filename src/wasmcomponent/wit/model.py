"""The WIT model: packages, worlds, interfaces, type definitions and functions.

This is what :mod:`wasmcomponent.wit.decode` builds from a component's type
and what :mod:`wasmcomponent.wit.printer` prints.  It follows wit-parser's
``Resolve`` (the model behind ``wasm-tools component wit``), with Python
object references where wit-parser has arena ids: a :class:`TypeDef` is one
object however often it is used, so ``is`` tells whether two uses are the same
definition.

Walking a decoded component (``resolve = decode(component)``)::

    world = resolve.world                      # always `root`, in package `root:component`
    for item in world.imports.values():        # then world.exports, the same way
        if isinstance(item, InterfaceItem):    # `import wasi:io/poll@0.2.9;` or `import x: interface {..}`
            iface = item.interface
            iface.qualified_name               # 'wasi:io/poll@0.2.9' (None for an inline interface)
            for name, typedef in iface.types.items():   # named definitions, in order
                typedef.kind                    # Record, Variant, Enum, Flags, Resource, Alias, List, ...
                typedef.used_from()             # the Interface a `use`d type comes from, else None
            for func in iface.functions.values():
                func.kind, func.resource        # 'method' and the resource's TypeDef, ...
                func.params, func.result        # WIT types: a Primitive or a TypeDef
        elif isinstance(item, FunctionItem):   # `import f: func(..)` at the world's root
            item.function
        elif isinstance(item, TypeItem):       # a type imported at the world's root
            item.typedef

A WIT *type* (:data:`Type`) is either a :class:`Primitive` (``u32``,
``string``, ``error-context``, ...) or a :class:`TypeDef`.  A ``TypeDef`` with
a ``name`` is a named definition of an interface or world (``owner``); one
with no name is an anonymous structural type (``list<u8>``,
``option<point>``, ``own<r>``...), printed inline.  A named ``TypeDef`` whose
kind is :class:`Alias` of another *named* type owned by another interface is a
``use`` (``use types.{point};`` or ``use types.{point as p};``);
:meth:`TypeDef.used_from` says so.

Interfaces named ``ns:pkg/iface@ver`` belong to the package ``ns:pkg@ver``
(one of :meth:`Resolve.foreign_packages`), whether the component imports or
exports them, as in wasm-tools.  An interface both imported and exported is
*one* :class:`Interface` object in ``world.imports`` and ``world.exports``
(WIT has one definition of it); its types are those the import declared, plus
what the export adds.  Plain-named instances are inline interfaces
(``name`` None, ``InterfaceItem.named`` False).

Resources: a resource is a ``TypeDef`` of kind :class:`Resource`;
``own<r>`` and ``borrow<r>`` are anonymous ``TypeDef`` of kind :class:`Handle`
pointing to it.  Its constructor, methods and statics are functions of the
interface (or world) with ``kind`` ``constructor``/``method``/``static`` and
``resource`` set; :meth:`Interface.resource_functions` groups them.

Example::

    >>> pkg = Package(PackageName("my", "pkg", "1.0.0"))
    >>> iface = Interface("shapes", pkg)
    >>> point = TypeDef("point", Record((Field("x", U32), Field("y", U32))), iface)
    >>> iface.types["point"] = point
    >>> iface.qualified_name
    'my:pkg/shapes@1.0.0'
    >>> point.used_from() is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from ..errors import UnsupportedError
from ..types.model import (
    BOOL,
    CHAR,
    ERROR_CONTEXT,
    F32,
    F64,
    S8,
    S16,
    S32,
    S64,
    STRING,
    U8,
    U16,
    U32,
    U64,
    PrimType,
)

__all__ = [
    "Primitive", "Type", "BOOL", "CHAR", "ERROR_CONTEXT", "F32", "F64", "S8", "S16", "S32", "S64", "STRING",
    "U8", "U16", "U32", "U64",
    "Stability", "NO_GATE", "Field", "Case", "EnumCase", "Flag",
    "Record", "Variant", "Enum", "Flags", "Resource", "Handle", "Tuple", "Option", "Result", "List",
    "FixedList", "Map", "Future", "Stream", "Alias", "TypeDefKind",
    "TypeDef", "Param", "Function", "Interface", "InterfaceItem", "FunctionItem", "TypeItem", "WorldItem",
    "World", "PackageName", "Package", "Resolve",
]

Primitive = PrimType
"""A primitive WIT type; ``.name`` is its WIT spelling (``u32``, ``string``, ``error-context``)."""


@dataclass(frozen=True)
class Stability:
    """A feature gate: ``@since(version = ...)`` or ``@unstable(feature = ...)``, maybe ``@deprecated``.

    ``Stability()`` (no gate) is the default.
    """

    since: Optional[str] = None
    unstable_feature: Optional[str] = None
    deprecated: Optional[str] = None

    @property
    def is_unknown(self) -> bool:
        return self.since is None and self.unstable_feature is None


NO_GATE = Stability()


# ------------------------------------------------------------ type kinds


@dataclass(eq=False)
class Field:
    name: str
    type: Type
    docs: Optional[str] = None


@dataclass(eq=False)
class Case:
    name: str
    type: Optional[Type]
    docs: Optional[str] = None


@dataclass(eq=False)
class EnumCase:
    name: str
    docs: Optional[str] = None


@dataclass(eq=False)
class Flag:
    name: str
    docs: Optional[str] = None


@dataclass(eq=False)
class Record:
    fields: tuple[Field, ...]


@dataclass(eq=False)
class Variant:
    cases: tuple[Case, ...]


@dataclass(eq=False)
class Enum:
    cases: tuple[EnumCase, ...]


@dataclass(eq=False)
class Flags:
    flags: tuple[Flag, ...]


@dataclass(eq=False)
class Resource:
    """A resource type; its functions live in its owner (see :meth:`Interface.resource_functions`)."""


@dataclass(eq=False)
class Handle:
    """``own<resource>`` (``borrow=False``) or ``borrow<resource>``; ``resource`` is a Resource TypeDef."""

    resource: TypeDef
    borrow: bool = False


@dataclass(eq=False)
class Tuple:
    types: tuple[Type, ...]


@dataclass(eq=False)
class Option:
    type: Type


@dataclass(eq=False)
class Result:
    ok: Optional[Type]
    err: Optional[Type]


@dataclass(eq=False)
class List:
    type: Type


@dataclass(eq=False)
class FixedList:
    """``list<T, N>``."""

    type: Type
    length: int


@dataclass(eq=False)
class Map:
    key: Type
    value: Type


@dataclass(eq=False)
class Future:
    type: Optional[Type]


@dataclass(eq=False)
class Stream:
    type: Optional[Type]


@dataclass(eq=False)
class Alias:
    """``type name = T;``, or a ``use`` when ``T`` is a named type of another interface."""

    type: Type


TypeDefKind = Union[Record, Variant, Enum, Flags, Resource, Handle, Tuple, Option, Result, List, FixedList, Map,
                    Future, Stream, Alias]


@dataclass(eq=False)
class TypeDef:
    """One type definition: named (``owner`` is its Interface or World) or anonymous (``name`` None)."""

    name: Optional[str]
    kind: TypeDefKind
    owner: Union[Interface, World, None] = None
    docs: Optional[str] = None
    stability: Stability = NO_GATE
    external_id: Optional[str] = None

    def __repr__(self) -> str:
        return f"<TypeDef {self.name or '(anonymous)'} {type(self.kind).__name__}>"

    def used_from(self) -> Optional[Interface]:
        """The interface this type is ``use``\\ d from, when it is a ``use``; else None."""
        if not isinstance(self.kind, Alias):
            return None
        target = self.kind.type
        if isinstance(target, TypeDef) and target.name is not None and isinstance(target.owner, Interface) \
                and target.owner is not self.owner:
            return target.owner
        return None

    def resolved(self) -> TypeDef:
        """The definition behind any chain of aliases and ``use``\\ s (bounded by the chain's length)."""
        seen: set[int] = set()
        current = self
        while isinstance(current.kind, Alias) and isinstance(current.kind.type, TypeDef) and id(current) not in seen:
            seen.add(id(current))
            current = current.kind.type
        return current


Type = Union[PrimType, TypeDef]


# ------------------------------------------------------------ functions


@dataclass(eq=False)
class Param:
    name: str
    type: Type


@dataclass(eq=False)
class Function:
    """A function; ``name`` is as in the component (``[method]file.read`` for a method).

    ``kind`` is ``freestanding``, ``constructor``, ``method`` or ``static``;
    ``resource`` the resource TypeDef of the last three.  A method's first
    parameter is ``self`` (a ``borrow``).
    """

    name: str
    kind: str
    params: tuple[Param, ...]
    result: Optional[Type]
    is_async: bool = False
    resource: Optional[TypeDef] = None
    docs: Optional[str] = None
    stability: Stability = NO_GATE
    external_id: Optional[str] = None

    @property
    def item_name(self) -> str:
        """The name WIT writes: ``read`` for ``[method]file.read``, the resource's for a constructor."""
        if self.kind == "constructor":
            return self.name.partition("]")[2]
        if self.kind in ("method", "static"):
            return self.name.partition(".")[2]
        return self.name

    def is_constructor_shorthand(self) -> bool:
        """A constructor returning ``own`` of its resource (printed without ``-> ...``)."""
        result = self.result
        return (self.kind == "constructor" and isinstance(result, TypeDef) and isinstance(result.kind, Handle)
                and not result.kind.borrow and result.kind.resource is self.resource)


# ------------------------------------------------------------ interfaces and worlds


@dataclass(eq=False)
class Interface:
    """An interface: named (in ``package``) or inline in a world (``name`` None)."""

    name: Optional[str]
    package: Optional[Package] = None
    types: dict[str, TypeDef] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    docs: Optional[str] = None
    stability: Stability = NO_GATE

    def __repr__(self) -> str:
        return f"<Interface {self.qualified_name or '(inline)'}>"

    @property
    def qualified_name(self) -> Optional[str]:
        """``ns:pkg/name@version``, or None for an inline interface."""
        if self.name is None or self.package is None:
            return self.name
        return self.package.name.interface_id(self.name)

    def resource_functions(self, resource: TypeDef) -> list[Function]:
        """The constructor, methods and statics of ``resource``, in order."""
        return [f for f in self.functions.values() if f.resource is resource]

    def freestanding_functions(self) -> list[Function]:
        return [f for f in self.functions.values() if f.resource is None]


@dataclass(eq=False)
class InterfaceItem:
    """A world import/export of an interface: ``import wasi:io/poll@0.2.9;`` or ``export name: interface {..}``.

    ``named`` is False for ``import name: interface {..}`` (the key is a plain name).
    """

    name: str
    interface: Interface
    named: bool = True
    docs: Optional[str] = None
    stability: Stability = NO_GATE
    external_id: Optional[str] = None


@dataclass(eq=False)
class FunctionItem:
    name: str
    function: Function


@dataclass(eq=False)
class TypeItem:
    name: str
    typedef: TypeDef


WorldItem = Union[InterfaceItem, FunctionItem, TypeItem]


@dataclass(eq=False)
class World:
    """A world: ``imports`` and ``exports`` keyed by name (an interface's qualified name, or a plain name)."""

    name: str
    package: Optional[Package] = None
    imports: dict[str, WorldItem] = field(default_factory=dict)
    exports: dict[str, WorldItem] = field(default_factory=dict)
    docs: Optional[str] = None
    stability: Stability = NO_GATE

    def __repr__(self) -> str:
        return f"<World {self.name}>"


# ------------------------------------------------------------ packages


@dataclass(frozen=True)
class PackageName:
    """``namespace:name@version``.

    >>> PackageName("wasi", "io", "0.2.9").interface_id("poll")
    'wasi:io/poll@0.2.9'
    """

    namespace: str
    name: str
    version: Optional[str] = None

    def __str__(self) -> str:
        return f"{self.namespace}:{self.name}" + (f"@{self.version}" if self.version else "")

    def interface_id(self, interface: str) -> str:
        return f"{self.namespace}:{self.name}/{interface}" + (f"@{self.version}" if self.version else "")


@dataclass(eq=False)
class Package:
    name: PackageName
    interfaces: dict[str, Interface] = field(default_factory=dict)
    worlds: dict[str, World] = field(default_factory=dict)
    docs: Optional[str] = None

    def __repr__(self) -> str:
        return f"<Package {self.name}>"


@dataclass(eq=False)
class Resolve:
    """Everything decoded from one binary, in printing order: foreign packages
    (dependencies first), then ``main``.

    For a component, ``main`` is ``root:component`` and :attr:`world` its
    world ``root``.  For a WIT package encoded as wasm (``wasm-tools component
    wit --wasm``), ``main`` is that package, with its interfaces and worlds,
    and there is no component world (:attr:`is_component` is False).
    """

    packages: list[Package]
    main: Package
    root: Optional[World] = None

    @property
    def is_component(self) -> bool:
        return self.root is not None

    @property
    def world(self) -> World:
        """The component's world (``UnsupportedError`` for a WIT package, which has none)."""
        if self.root is None:
            raise UnsupportedError(f"`{self.main.name}` is a WIT package, not a component: it has no component world")
        return self.root

    def foreign_packages(self) -> list[Package]:
        return [p for p in self.packages if p is not self.main]
