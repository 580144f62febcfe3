"""What the bindings are generated from: a component's world, with Python names.

Built from the component's type (:mod:`wasmcomponent.types.model`): imported
and exported interfaces (instance types), root functions, and the named types
and resources that interfaces export.  Value types in the model are
structural, so a function's record is matched to its name by structural
equality with the interface's ``(type (eq ...))`` exports, first in its own
interface, then in the others in order; a type that an interface shares with
an earlier one under the same name (a WIT ``use``) is defined once, in the
earlier one.  WASI imports are left out (``Linker.add_wasip2()`` provides
them), and so are componentize-py's internal ``exports`` instance.

    >>> from wasmcomponent.types import model as m
    >>> point = m.RecordType((("x", m.S32), ("y", m.S32)))
    >>> iface = m.InstanceType({"point": m.TypeBound(eq=point),
    ...                         "echo-point": m.FuncType((("p", point),), point)})
    >>> world = build_world(m.ComponentType({}, {"my:pkg/shapes": iface}), "root")
    >>> shapes = world.exports[0]
    >>> shapes.module, shapes.class_name, [t.py_name for t in shapes.types]
    ('shapes', 'Shapes', ['Point'])
    >>> world.named(point, shapes).py_name, shapes.functions[0].py_name
    ('Point', 'echo_point')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Union

from ..errors import UnsupportedError
from ..types import model
from .docs import Docs
from .names import Namespace, pascal, snake, upper

__all__ = ["World", "Interface", "NamedType", "Resource", "Function", "build_world", "attach_docs", "MAX_ITEMS"]

# A bound on what one world may hold, so that a hostile component cannot make the
# generator write an unbounded package.
MAX_ITEMS = 100_000

Nominal = Union[model.RecordType, model.VariantType, model.EnumType, model.FlagsType]
_NOMINAL = (model.RecordType, model.VariantType, model.EnumType, model.FlagsType)

# Names the generated classes already use.
WORLD_RESERVED = frozenset({"close", "instantiate", "add_to_linker"})
RESOURCE_RESERVED = frozenset({"close"})
PARAM_RESERVED = frozenset({"self", "cls", "iface"})


@dataclass(eq=False)
class NamedType:
    """A record, variant, enum or flags type with its WIT and Python names."""

    wit_name: str
    py_name: str
    ty: Nominal
    home: Interface
    # Python names of the record's fields, the variant's case classes, or the enum/flags members.
    members: list[str] = field(default_factory=list)
    docs: Optional[str] = None
    case_docs: list[Optional[str]] = field(default_factory=list)


@dataclass(eq=False)
class Function:
    """A function, a resource constructor, method or static function."""

    wit_name: str  # as exported/imported: ``echo-point``, ``[method]counter.get``
    py_name: str  # the method (or Protocol method) name
    attr: str  # the attribute holding the ``Func`` (exports)
    ty: model.FuncType
    params: list[str]  # Python parameter names (without ``self`` of a method)
    kind: str = "func"  # func, constructor, method, static
    docs: Optional[str] = None


@dataclass(eq=False)
class Resource:
    wit_name: str
    py_name: str
    identity: model.ResourceIdentity
    home: Interface
    constructor: Optional[Function] = None
    methods: list[Function] = field(default_factory=list)
    docs: Optional[str] = None
    attr: str = ""  # imported: the host interface object's attribute holding the class


@dataclass(eq=False)
class Interface:
    """An imported or exported interface: one module of the package."""

    key: str  # the import/export name, ``test:bindgen/kinds@0.1.0``
    direction: str  # ``imports``, ``exports``, or ``world`` for the world's own types
    module: str  # the Python module name
    class_name: str  # the wrapper (exports) or Protocol (imports) class
    attr: str  # the attribute on the world object or the host object
    types: list[NamedType] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    local: dict[object, NamedType] = field(default_factory=dict)  # every named type in scope here
    namespace: Namespace = field(default_factory=Namespace)
    docs: Optional[str] = None


@dataclass(eq=False)
class World:
    wit_name: str
    class_name: str
    imports: list[Interface] = field(default_factory=list)
    exports: list[Interface] = field(default_factory=list)
    root_imports: list[Function] = field(default_factory=list)
    root_exports: list[Function] = field(default_factory=list)
    resources: dict[int, Resource] = field(default_factory=dict)  # exported, by id of the identity
    host_resources: dict[int, Resource] = field(default_factory=dict)  # imported (the host's)
    everywhere: dict[object, NamedType] = field(default_factory=dict)  # first definition of each type
    ctx_cache: dict[tuple[int, object], bool] = field(default_factory=dict)  # see Converter.needs_ctx
    root_types: Optional[Interface] = None  # the world's own named types (`PKG/types.py`)
    docs: Optional[str] = None

    def named(self, ty: model.ValType, scope: Optional[Interface]) -> Optional[NamedType]:
        """The named type ``ty`` is, seen from ``scope`` (its own interface first)."""
        if not isinstance(ty, _NOMINAL):
            return None
        if scope is not None:
            found = scope.local.get(ty)
            if found is not None:
                return found
        return self.everywhere.get(ty)

    def resource(self, identity: model.ResourceIdentity) -> Optional[Resource]:
        """The exported resource class of ``identity``, or None (an imported or unnamed one)."""
        return self.resources.get(id(identity))

    def host_resource(self, identity: model.ResourceIdentity) -> Optional[Resource]:
        """The imported (host-implemented, not WASI) resource of ``identity``, or None."""
        return self.host_resources.get(id(identity))


def build_world(ty: model.ComponentType, world_name: str = "root") -> World:
    """The world of a component of type ``ty``, named ``world_name``."""
    world = World(world_name, pascal(world_name))
    # Resources an export only re-exports (a `use` of an imported one, as wasi:http's handler
    # does with its request) belong to the host: they get no class.
    imported = _imported_resources(ty)
    count = 0
    import_modules, export_modules = Namespace({"__init__"}), Namespace({"__init__"})
    host_attrs = Namespace()
    world_attrs = Namespace(WORLD_RESERVED)
    for direction, items, modules, attrs in (
        ("imports", ty.imports, import_modules, host_attrs),
        ("exports", ty.exports, export_modules, world_attrs),
    ):
        for key, item in items.items():
            count += 1 + (len(item.exports) if isinstance(item, model.InstanceType) else 0)
            if count > MAX_ITEMS:
                raise UnsupportedError(f"bindgen: more than {MAX_ITEMS} imports, exports and interface items")
            if isinstance(item, model.FuncType):
                fn = _function(key, item, attrs, "_f_")
                (world.root_imports if direction == "imports" else world.root_exports).append(fn)
            elif isinstance(item, model.InstanceType) and not _skipped(key, direction):
                iface = _interface(world, key, direction, item, modules, attrs, imported)
                (world.imports if direction == "imports" else world.exports).append(iface)
    # Types the world itself defines or `use`s (WIT's world-level `type`/`use`): `PKG/types.py`.
    bounds = {k: v for items in (ty.imports, ty.exports) for k, v in items.items() if isinstance(v, model.TypeBound)}
    if bounds:
        # Re-exported by the package, next to the world's classes and componentize-py's values.
        taken = {world.class_name, f"{world.class_name}Imports", "Err", "Ok", "Result", "Some"}
        root = Interface("", "world", "types", "", "", namespace=Namespace(taken))
        _register_types(world, root, bounds, set())
        if root.types:
            world.root_types = root
    for iface in world.imports + world.exports:
        _functions(world, iface, iface_items(ty, iface))
    return world


def attach_docs(world: World, docs: Docs) -> None:
    """Give the world's parts the docs the component carries."""
    world.docs = docs.get("world")
    for fn in world.root_imports:
        fn.docs = docs.get("imports", None, "func", fn.wit_name)
    for fn in world.root_exports:
        fn.docs = docs.get("exports", None, "func", fn.wit_name)
    for iface in world.imports + world.exports:
        place = (iface.direction, iface.key)
        iface.docs = docs.get(*place, "interface", None)
        for named in iface.types:
            named.docs = docs.get(*place, "type", named.wit_name)
            if isinstance(named.ty, model.VariantType):
                named.case_docs = [docs.get(*place, "case", named.wit_name, c) for c, _ in named.ty.variant_cases]
        for resource in iface.resources:
            resource.docs = docs.get(*place, "type", resource.wit_name)
        for fn in iface.functions + [f for r in iface.resources for f in [*r.methods, r.constructor] if f]:
            fn.docs = docs.get(*place, "func", fn.wit_name)


def iface_items(ty: model.ComponentType, iface: Interface) -> Mapping[str, model.ExternType]:
    items = (ty.imports if iface.direction == "imports" else ty.exports)[iface.key]
    assert isinstance(items, model.InstanceType)
    return items.exports


def _skipped(key: str, direction: str) -> bool:
    # WASI comes from add_wasip2(); ``exports`` is componentize-py's own init interface.
    return (direction == "imports" and key.startswith("wasi:")) or (direction == "exports" and key == "exports")


def _short_name(key: str) -> str:
    """``ns:pkg/name@1.0`` -> ``name`` (a plain name is its own)."""
    return key.split("@", 1)[0].rsplit("/", 1)[-1]


def _imported_resources(ty: model.ComponentType) -> set[int]:
    found: set[int] = set()
    for item in ty.imports.values():
        bounds = item.exports.values() if isinstance(item, model.InstanceType) else [item]
        found.update(id(b.resource) for b in bounds if isinstance(b, model.TypeBound) and b.resource is not None)
    return found


def _interface(
    world: World, key: str, direction: str, ty: model.InstanceType, modules: Namespace, attrs: Namespace,
    imported: set[int],
) -> Interface:
    short = _short_name(key)
    module = modules.add(snake(short))
    iface = Interface(key, direction, module, "", attrs.add(snake(short)))
    iface.class_name = iface.namespace.add(pascal(short))
    _register_types(world, iface, ty.exports, imported)
    return iface


def _register_types(world: World, iface: Interface, items: Mapping[str, model.ExternType], imported: set[int]) -> None:
    """Name the types ``iface`` exports (``(type (eq ...))``, resources) and define the new ones."""
    direction = iface.direction
    for name, item in items.items():
        if not isinstance(item, model.TypeBound):
            continue
        if item.resource is not None:
            if direction == "world":
                continue  # a world-level resource: its handles stay the runtime's values
            # An exported interface's own resource gets a class wrapping the guest's handles;
            # an imported one a Protocol the host implements.
            table = world.resources if direction == "exports" else world.host_resources
            identity = id(item.resource)
            if identity not in table and (direction == "imports" or identity not in imported):
                resource = Resource(name, iface.namespace.add(pascal(name)), item.resource, iface)
                iface.resources.append(resource)
                table[identity] = resource
            continue
        if not isinstance(item.eq, _NOMINAL):
            continue  # an alias: uses spell out its target, as componentize-py's do
        earlier = world.everywhere.get(item.eq)
        if earlier is not None and earlier.wit_name == name:
            iface.local.setdefault(item.eq, earlier)  # a `use` of an earlier interface's type
            continue
        named = NamedType(name, iface.namespace.add(pascal(name)), item.eq, iface)
        iface.types.append(named)
        iface.local.setdefault(item.eq, named)
        world.everywhere.setdefault(item.eq, named)
    for named in iface.types:
        _members(named, iface.namespace)


def _members(named: NamedType, module: Namespace) -> None:
    ty = named.ty
    if isinstance(ty, model.RecordType):
        fields = Namespace({"self"})
        named.members = [fields.add(snake(n)) for n, _ in ty.fields]
    elif isinstance(ty, model.VariantType):
        named.members = [module.add(f"{named.py_name}_{pascal(n)}") for n, _ in ty.variant_cases]
    else:
        members = Namespace({"name", "value"})
        named.members = [members.add(upper(n)) for n in ty.names]


def _function(wit_name: str, ty: model.FuncType, names: Namespace, attr_prefix: str,
              attrs: Optional[Namespace] = None, kind: str = "func", py_name: Optional[str] = None) -> Function:
    params = Namespace(PARAM_RESERVED)
    wit_params = ty.params[1:] if kind == "method" else ty.params
    py = names.add(snake(py_name if py_name is not None else wit_name))
    attr = (attrs or names).add(attr_prefix + snake(wit_name))
    return Function(wit_name, py, attr, ty, [params.add(snake(n)) for n, _ in wit_params], kind)


def _functions(world: World, iface: Interface, items: Mapping[str, model.ExternType]) -> None:
    methods = Namespace()  # the wrapper class's attributes
    attrs = Namespace()
    by_name = {r.wit_name: r for r in iface.resources}
    members: dict[str, Namespace] = {r.wit_name: Namespace(RESOURCE_RESERVED) for r in iface.resources}
    for owned in iface.resources:
        if iface.direction == "imports":  # the attribute of the host's interface object holding its class
            owned.attr = methods.add(snake(owned.wit_name))
    for name, item in items.items():
        if not isinstance(item, model.FuncType):
            continue
        kind, resource, member = _resource_function(name)
        owner = by_name.get(resource) if resource is not None else None
        if owner is None or kind == "func":
            iface.functions.append(_function(name, item, methods, "_f_", attrs))
            continue
        fn = _function(name, item, members[owner.wit_name], "_f_", attrs, kind,
                       py_name=member if kind != "constructor" else "__init__")
        if kind == "constructor":
            fn.py_name = "__init__"
            owner.constructor = fn
        else:
            owner.methods.append(fn)


def _resource_function(name: str) -> tuple[str, Optional[str], str]:
    """``[method]r.m`` -> ``("method", "r", "m")``; a plain function -> ``("func", None, name)``."""
    for kind in ("constructor", "method", "static"):
        prefix = f"[{kind}]"
        if name.startswith(prefix):
            rest = name[len(prefix):]
            if kind == "constructor":
                return kind, rest, rest
            resource, _, member = rest.partition(".")
            if member:
                return kind, resource, member
    return "func", None, name
