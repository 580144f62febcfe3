"""Decode a component's type into the WIT model (:mod:`wasmcomponent.wit.model`).

This follows wit-parser's ``decoding.rs`` (what ``wasm-tools component wit``
runs), so that printing the result gives the same text:

* the component's world is ``root`` in package ``root:component``;
* imports and exports are visited in binary order.  An instance named
  ``ns:pkg/iface@ver`` (imported or exported) becomes interface ``iface``
  of the package ``ns:pkg@ver``, created on first sight and filled with
  what this component's instances have of it; a plain-named instance
  becomes an inline ``interface { ... }`` of the world;
* a type export of an instance either defines a new named type or, when it
  is an alias of a type already seen (an exported type of another instance,
  reached through ``alias export``/``alias outer``), becomes ``type x = y``
  -- which the printer writes as ``use iface.{y as x}`` when ``y`` belongs
  to another interface.  "Already seen" is tracked by the identity of the
  validator's type entries (``validate.types``), which, like wasmparser's
  type ids, get a fresh identity at every type export and remember the
  entry they alias;
* anonymous types (``list<u8>``, ``option<t>``, handles) are one
  :class:`~wasmcomponent.wit.model.TypeDef` per type entry, memoised, so the
  work is linear in the number of type definitions, not in their expansion.

A WIT package encoded as wasm (``wasm-tools component wit --wasm``: only
exports, each of a component type wrapping one world or interface) decodes
as that package instead (wit-parser's v2 package decoding), with no
component world.  Docs and feature gates come from the ``package-docs``
custom section (:mod:`wasmcomponent.wit.docs`), as wasm-tools reads them.

The component's type is the validator's (``validate.component``), run again
here with every gated feature on: printing a type needs no engine settings.

Something valid that WIT cannot express (an instance nested in an
instance, a component exporting a type, one type exported twice under
different names) raises :class:`~wasmcomponent.errors.UnsupportedError`
naming it, as wasm-tools fails on it.  Malformed or invalid binaries raise
``DecodeError``/``ValidationError`` from the decoder and validator.

Example::

    >>> resolve = decode(b'''(component
    ...   (type $point (record (field "x" u32) (field "y" u32)))
    ...   (import "my:geo/types" (instance $t (export "point" (type (eq $point)))))
    ... )''')
    >>> iface = resolve.world.imports["my:geo/types"].interface
    >>> iface.qualified_name, list(iface.types)
    ('my:geo/types', ['point'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Optional, Union

from ..binary import ast
from ..binary.decoder import decode_component
from ..errors import DecodeError, UnsupportedError
from ..types.model import PrimType
from ..validate.component import State, _validate_sections
from ..validate.features import GATED
from ..validate.types import ComponentT, Defined, Func, InstanceT, ResourceEntry
from . import model as w

if TYPE_CHECKING:
    from ..runtime.component import Component

__all__ = ["decode", "component_bytes", "parse_interface_id"]

Entity = tuple
_Owner = Union[w.Interface, w.World]


def component_bytes(source: Union[Component, bytes, bytearray, memoryview, str]) -> bytes:
    """The binary of ``source``: a ``Component``, component bytes, or component text."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if data.startswith(b"\0asm"):
            return data
        source = data.decode("utf-8", "replace")
    if isinstance(source, str):
        from .._engine.core import wat_to_wasm

        try:
            return bytes(wat_to_wasm(source))
        except Exception as err:  # the text parser's message, as one line
            raise DecodeError(f"invalid component text: {str(err).splitlines()[0] if str(err) else err}") from None
    kept = getattr(source, "_bytes", None)  # what `Component` was built from
    if not isinstance(kept, bytes):
        raise TypeError("expected a Component, bytes or component text")
    if not kept:
        raise UnsupportedError("printing the WIT of a deserialized component (its binary is not kept)")
    return kept


def parse_interface_id(name: str) -> Optional[tuple[w.PackageName, str]]:
    """``(package, interface)`` of ``ns:pkg/iface@ver``, or None for a plain name.

    >>> parse_interface_id("wasi:io/poll@0.2.9")
    (PackageName(namespace='wasi', name='io', version='0.2.9'), 'poll')
    """
    if ":" not in name or "/" not in name:
        return None
    path, _, version = name.partition("@")
    package, _, interface = path.rpartition("/")
    namespace, _, pkg = package.partition(":")
    return w.PackageName(namespace, pkg, version or None), interface


def decode(source: Union[Component, bytes, bytearray, memoryview, str]) -> w.Resolve:
    """The WIT world (and the packages it uses) of a component.

    ``source`` is a :class:`~wasmcomponent.Component`, or a component's
    bytes or text.  Docs and gates from a ``package-docs`` section are
    applied.
    """
    data = component_bytes(source)
    tree = decode_component(data)
    state = State("component", None)
    state.features = frozenset(GATED)
    ctype = _validate_sections(state, tree)
    resolve = _Decoder(ctype).run(tree)
    from .docs import apply_package_docs

    apply_package_docs(tree, resolve)
    return resolve


def _externs(tree: ast.ComponentAST) -> list[tuple[str, ast.ExternName]]:
    """``("import"|"export", name)`` of the top-level imports and exports, in binary order."""
    out: list[tuple[str, ast.ExternName]] = []
    for section in tree.sections:
        if isinstance(section, ast.ImportSection):
            out.extend(("import", imp.name) for imp in section.imports)
        elif isinstance(section, ast.ExportSection):
            out.extend(("export", exp.name) for exp in section.exports)
    return out


def _adds_type(item: object) -> bool:
    """Whether an import/export/alias (or its decl) adds an entry to the type index space."""
    if isinstance(item, (ast.ImportDecl, ast.ExportDecl, ast.Import)):
        return isinstance(item.desc, ast.ExternType)
    if isinstance(item, ast.Export):
        return item.sort is ast.Sort.TYPE
    if isinstance(item, ast.AliasDecl):
        item = item.alias
    return getattr(item, "sort", None) is ast.Sort.TYPE


def _type_space(items: list[object]) -> list[Optional[object]]:
    """The type index space of a component's sections or a type's decls: definitions, None for the rest."""
    space: list[Optional[object]] = []
    for item in items:
        if isinstance(item, ast.TypeSection):
            space.extend(item.types)
        elif isinstance(item, ast.TypeDecl):
            space.append(item.type)
        else:
            members = getattr(item, "imports", None) or getattr(item, "exports", None) or getattr(item, "aliases", None)
            for member in members if isinstance(members, tuple) else (item,):
                if _adds_type(member):
                    space.append(None)
    return space


def _world_names(tree: ast.ComponentAST, export: str) -> dict[str, ast.ExternName]:
    """The import/export names (with their ``implements``) of the world a WIT package exports as ``export``.

    The validator's types keep plain names only; the attributes are read from
    the type definitions themselves (a WIT package is type sections and exports).
    """
    space = _type_space(list(tree.sections))
    for section in tree.sections:
        if not isinstance(section, ast.ExportSection):
            continue
        for exp in section.exports:
            if exp.name.name != export or exp.sort is not ast.Sort.TYPE or not 0 <= exp.index < len(space):
                continue
            wrapper = space[exp.index]
            if not isinstance(wrapper, ast.ComponentTypeDef):
                return {}
            inner = _type_space(list(wrapper.decls))
            for decl in wrapper.decls:
                if isinstance(decl, ast.ExportDecl) and isinstance(decl.desc, ast.ExternComponent) \
                        and 0 <= decl.desc.type_index < len(inner):
                    world = inner[decl.desc.type_index]
                    if isinstance(world, ast.ComponentTypeDef):
                        return {d.name.name: d.name for d in world.decls
                                if isinstance(d, (ast.ImportDecl, ast.ExportDecl))}
    return {}


class _Decoder:
    """One decoding run: wit-parser's ``WitPackageDecoder`` over our validator's types."""

    def __init__(self, ctype: ComponentT) -> None:
        self.ctype = ctype
        self.type_map: dict[int, w.TypeDef] = {}  # id(validator type entry) -> its TypeDef
        self.aliases: dict[int, object] = {}  # id(created entry) -> the entry it aliases
        self.resources: dict[int, dict[str, w.TypeDef]] = {}  # id(owner) -> resource name -> TypeDef
        self.named_interfaces: dict[str, w.Interface] = {}
        self.foreign: dict[str, w.Package] = {}
        self.iface_package: dict[int, w.Package] = {}
        self.main = w.Package(w.PackageName("root", "component"))
        self.world = w.World("root", self.main)  # replaced by the component's world in `run`
        self._collect_aliases()

    # ------------------------------------------------------------ aliases

    def _collect_aliases(self) -> None:
        """Record, for every type export reachable from the component's type, what it aliases."""
        seen: set[int] = set()
        stack: list[object] = [*self.ctype.imports.values(), *self.ctype.exports.values()]
        while stack:
            entity = stack.pop()
            if not isinstance(entity, tuple) or not entity:
                continue
            if entity[0] == "type":
                created, referenced = entity[1], entity[2]
                if created is not referenced:
                    self.aliases.setdefault(id(created), referenced)
                inner = created
            elif entity[0] in ("instance", "component"):
                inner = entity[1]
            else:
                continue
            if id(inner) in seen:
                continue
            seen.add(id(inner))
            if isinstance(inner, InstanceT):
                stack.extend(inner.exports.values())
            elif isinstance(inner, ComponentT):
                stack.extend(inner.imports.values())
                stack.extend(inner.exports.values())

    def find_alias(self, entry: object) -> Optional[w.TypeDef]:
        """The TypeDef of ``entry`` or of the first entry it (transitively) aliases that has one."""
        seen: set[int] = set()
        current: Optional[object] = entry
        while current is not None and id(current) not in seen:
            hit = self.type_map.get(id(current))
            if hit is not None:
                return hit
            seen.add(id(current))
            current = self.aliases.get(id(current))
        return None

    # ------------------------------------------------------------ top level

    def run(self, tree: ast.ComponentAST) -> w.Resolve:
        self.tree = tree
        externs = _externs(tree)
        if self._is_wit_package(externs):
            return self._run_package(externs)
        self.world = w.World("root", self.main)
        self.main.worlds["root"] = self.world
        for direction, name in externs:
            items = self.ctype.imports if direction == "import" else self.ctype.exports
            entity = items.get(name.name)
            if entity is None:
                continue
            try:
                if direction == "import":
                    self.component_import(name, entity)
                else:
                    self.component_export(name, entity)
            except UnsupportedError as err:
                raise err.with_context(f"cannot print WIT for {direction} `{name.name}`") from None
        return w.Resolve([*self._ordered_foreign(), self.main], self.main, self.world)

    def component_import(self, name: ast.ExternName, entity: Entity) -> None:
        kind = entity[0]
        item: w.WorldItem
        if kind == "instance":
            item = self.instance_item(name.name, entity[1], name.implements, name.external_id)
        elif kind == "func":
            item = w.FunctionItem(name.name, self.function(name.name, entity[1], self.world, name.external_id))
        elif kind == "type":
            item = w.TypeItem(name.name, self.type_export(name.name, entity, self.world, name.external_id))
        else:
            return  # modules, components and values are not part of a WIT world
        self.world.imports[name.name] = item

    def component_export(self, name: ast.ExternName, entity: Entity) -> None:
        kind = entity[0]
        item: w.WorldItem
        if kind == "func":
            item = w.FunctionItem(name.name, self.function(name.name, entity[1], self.world, name.external_id))
        elif kind == "instance":
            item = self.instance_item(name.name, entity[1], name.implements, name.external_id)
        else:
            raise UnsupportedError(f"component export `{name.name}` was not a function or instance")
        self.world.exports[name.name] = item

    def instance_item(self, name: str, inst: InstanceT, implements: Optional[str] = None,
                      external_id: Optional[str] = None) -> w.InterfaceItem:
        """wit-parser's ``decode_world_instance``: an ID-named, ``implements`` or inline interface."""
        if implements is not None:
            iface = self.register_import(implements, inst)
            return w.InterfaceItem(name, iface, named=False, external_id=external_id)
        if parse_interface_id(name) is not None:
            iface = self.register_import(name, inst)
            return w.InterfaceItem(name, iface, named=True, external_id=external_id)
        iface = self.register_interface(name, inst)
        return w.InterfaceItem(name, iface, named=False, external_id=external_id)

    # ------------------------------------------------------------ WIT packages

    def _is_wit_package(self, externs: list[tuple[str, ast.ExternName]]) -> bool:
        """wit-parser's ``is_wit_package``: only exports, each of a component type."""
        if not externs:
            return False
        for direction, name in externs:
            entity = self.ctype.exports.get(name.name) if direction == "export" else None
            if entity is None or entity[0] != "type" or not isinstance(entity[1], ComponentT):
                return False
        first = externs[0][1].name
        parsed = parse_interface_id(first)
        if parsed is not None and parsed[1] == "wit":
            raise UnsupportedError("the first (v1) binary encoding of WIT packages")
        return parsed is None

    def _run_package(self, externs: list[tuple[str, ast.ExternName]]) -> w.Resolve:
        """wit-parser's ``decode_wit_v2_package``: one world or interface per exported component type."""
        package_name: Optional[w.PackageName] = None
        for _, extern in externs:
            ctype = self.ctype.exports[extern.name][1]
            if len(ctype.exports) != 1:
                raise UnsupportedError(f"WIT package item `{extern.name}`: expected a single export, "
                                       f"but found {len(ctype.exports)} instead")
            (name, entity), = ctype.exports.items()
            parsed = parse_interface_id(name)
            if parsed is None:
                raise UnsupportedError(f"WIT package item `{name}`: expected a fully qualified name")
            if package_name is None:
                package_name = parsed[0]
                self.main.name = package_name
            elif parsed[0] != package_name:
                raise UnsupportedError("item defined with mismatched package name")
            if entity[0] == "component":
                self.register_world(parsed[1], entity[1], _world_names(self.tree, extern.name))
            elif entity[0] == "instance":
                for import_name, imported in ctype.imports.items():
                    if imported[0] != "instance":
                        raise UnsupportedError(f"import `{import_name}` is not an instance")
                    self.register_import(import_name, imported[1])
                self.register_interface(name, entity[1])
            else:
                raise UnsupportedError(f"WIT package item `{name}` is not a world or an interface")
        return w.Resolve([*self._ordered_foreign(), self.main], self.main, None)

    def register_world(self, name: str, ctype: ComponentT, names: dict[str, ast.ExternName]) -> w.World:
        world = w.World(name, self.main)
        for direction, items in (("import", ctype.imports), ("export", ctype.exports)):
            for item_name, entity in items.items():
                extern = names.get(item_name)
                implements = extern.implements if extern is not None else None
                external_id = extern.external_id if extern is not None else None
                kind = entity[0]
                item: w.WorldItem
                if kind == "instance":
                    item = self.instance_item(item_name, entity[1], implements, external_id)
                elif kind == "func":
                    item = w.FunctionItem(item_name, self.function(item_name, entity[1], world, external_id))
                elif kind == "type" and direction == "import":
                    item = w.TypeItem(item_name, self.type_export(item_name, entity, world, external_id))
                else:
                    raise UnsupportedError(f"component {direction} `{item_name}` is not an instance, func, or type")
                (world.imports if direction == "import" else world.exports)[item_name] = item
        self.main.worlds[name] = world
        return world

    # ------------------------------------------------------------ interfaces

    def register_import(self, name: str, inst: InstanceT) -> w.Interface:
        """An interface of a foreign package (or a local one seen before), filled with what ``inst`` has."""
        local = self.named_interfaces.get(name)
        iface = local if local is not None else self.dep_interface(name)
        for export_name, entity in inst.exports.items():
            kind = entity[0]
            if kind == "type":
                existing = iface.types.get(export_name)
                if existing is not None:
                    self._remember(entity[1], existing, export_name)
                    continue
                if local is not None:
                    raise UnsupportedError(f"instance type export `{export_name}` not defined in interface")
                iface.types[export_name] = self.type_export(export_name, entity, iface, None)
            elif kind == "func":
                if export_name in iface.functions:
                    continue
                if local is not None:
                    raise UnsupportedError(f"instance function export `{export_name}` not defined in interface")
                iface.functions[export_name] = self.function(export_name, entity[1], iface, None)
            else:
                raise UnsupportedError(f"instance type export `{export_name}` is not a type")
        return iface

    def dep_interface(self, name: str) -> w.Interface:
        parsed = parse_interface_id(name)
        if parsed is None:
            raise UnsupportedError(f"package name is not a valid id: {name}")
        package_name, iface_name = parsed
        key = str(package_name)
        package = self.foreign.get(key)
        if package is None:
            package = self.foreign[key] = w.Package(package_name)
        iface = package.interfaces.get(iface_name)
        if iface is None:
            iface = package.interfaces[iface_name] = w.Interface(iface_name, package)
            self.iface_package[id(iface)] = package
        return iface

    def register_interface(self, name: str, inst: InstanceT) -> w.Interface:
        """An interface defined by this component: inline (plain name)."""
        if name in self.named_interfaces:
            return self.register_import(name, inst)
        parsed = parse_interface_id(name)
        iface = w.Interface(None if parsed is None else parsed[1], self.main)
        for export_name, entity in inst.exports.items():
            kind = entity[0]
            if kind == "type":
                iface.types[export_name] = self.type_export(export_name, entity, iface, None)
            elif kind == "func":
                iface.functions[export_name] = self.function(export_name, entity[1], iface, None)
            else:
                raise UnsupportedError(f"instance type export `{export_name}` is not a type or function")
        if parsed is not None:
            self.main.interfaces[parsed[1]] = iface
            self.named_interfaces[name] = iface
        return iface

    # ------------------------------------------------------------ types

    def _remember(self, created: object, typedef: w.TypeDef, name: str) -> None:
        if id(created) in self.type_map:
            raise UnsupportedError(
                f"cannot represent this component in WIT: the type `{name}` appears more than once "
                "(for example, when an imported instance is re-exported under a new name)"
            )
        self.type_map[id(created)] = typedef

    def type_export(self, name: str, entity: Entity, owner: _Owner, external_id: Optional[str]) -> w.TypeDef:
        """wit-parser's ``register_type_export``: a new named type, or an alias of one seen before."""
        created, referenced = entity[1], entity[2]
        previous = self.find_alias(referenced)
        kind: w.TypeDefKind
        if previous is not None:
            kind = w.Alias(previous)
        elif isinstance(referenced, ResourceEntry):
            kind = w.Resource()
        elif isinstance(referenced, (Defined, PrimType)):
            kind = self.defined(referenced)
        else:
            raise UnsupportedError(f"type export `{name}` is not a value type or resource")
        typedef = w.TypeDef(name, kind, owner, external_id=external_id)
        if isinstance(kind, w.Resource):
            self.resources.setdefault(id(owner), {})[name] = typedef
        self._remember(created, typedef, name)
        return typedef

    def valtype(self, t: object) -> w.Type:
        if isinstance(t, PrimType):
            return t
        hit = self.type_map.get(id(t))
        if hit is not None:
            return hit
        if not isinstance(t, Defined):
            raise UnsupportedError("a value type refers to something that is not a value type")
        kind = self.defined(t)
        if isinstance(kind, (w.Record, w.Variant, w.Enum, w.Flags)):
            raise UnsupportedError(f"unexpected unnamed type of kind '{t.kind}'")
        typedef = w.TypeDef(None, kind)
        self.type_map[id(t)] = typedef
        return typedef

    def _maybe(self, t: object) -> Optional[w.Type]:
        return None if t is None else self.valtype(t)

    def _handle(self, entry: object, borrow: bool) -> w.Handle:
        resource = self.type_map.get(id(entry))
        if resource is None:
            raise UnsupportedError("a handle refers to a resource that has no name in WIT")
        return w.Handle(resource, borrow)

    def defined(self, t: Union[Defined, PrimType]) -> w.TypeDefKind:
        """wit-parser's ``convert_defined``."""
        if isinstance(t, PrimType):
            return w.Alias(t)
        kind, items = t.kind, t.items
        if kind == "prim":
            return w.Alias(items[0])
        if kind == "record":
            return w.Record(tuple(w.Field(n, self.valtype(x)) for n, x in items))
        if kind == "variant":
            return w.Variant(tuple(w.Case(n, self._maybe(x)) for n, x in items))
        if kind == "enum":
            return w.Enum(tuple(w.EnumCase(n) for n in items))
        if kind == "flags":
            return w.Flags(tuple(w.Flag(n) for n in items))
        if kind == "list":
            return w.List(self.valtype(items[0]))
        if kind == "fixed-list":
            return w.FixedList(self.valtype(items[0]), items[1])
        if kind == "tuple":
            return w.Tuple(tuple(self.valtype(x) for x in items))
        if kind == "option":
            return w.Option(self.valtype(items[0]))
        if kind == "result":
            return w.Result(self._maybe(items[0]), self._maybe(items[1]))
        if kind in ("own", "borrow"):
            return self._handle(items[0], kind == "borrow")
        if kind == "future":
            return w.Future(self._maybe(items[0]))
        if kind == "stream":
            return w.Stream(self._maybe(items[0]))
        if kind == "map":
            return w.Map(self.valtype(items[0]), self.valtype(items[1]))
        raise UnsupportedError(f"type kind `{kind}` in WIT")

    # ------------------------------------------------------------ functions

    def function(self, name: str, func: Func, owner: _Owner, external_id: Optional[str]) -> w.Function:
        params = tuple(w.Param(n, self.valtype(t)) for n, t in func.params)
        result = self._maybe(func.result)
        kind, resource = "freestanding", None
        for prefix in ("constructor", "method", "static"):
            if name.startswith(f"[{prefix}]"):
                kind = prefix
                rest = name[len(prefix) + 2:]
                resource_name = rest if prefix == "constructor" else rest.partition(".")[0]
                resource = self.resources.get(id(owner), {}).get(resource_name)
                if resource is None:
                    raise UnsupportedError(f"function `{name}` names resource `{resource_name}`, "
                                           "which is not defined beside it")
        return w.Function(name, kind, params, result, func.is_async, resource, external_id=external_id)

    # ------------------------------------------------------------ packages

    def _ordered_foreign(self) -> list[w.Package]:
        """Foreign packages, each after the packages its interfaces ``use`` (wit-parser's ``finish``)."""
        packages = list(self.foreign.values())
        index = {id(p): i for i, p in enumerate(packages)}
        order: list[int] = []
        placed: set[int] = set()

        def deps(i: int) -> Iterator[int]:
            """The packages whose interfaces package ``i`` uses a type from (each once)."""
            seen: set[int] = set()
            for iface in packages[i].interfaces.values():
                for typedef in iface.types.values():
                    source = typedef.used_from()
                    target = self.iface_package.get(id(source)) if source is not None else None
                    if target is not None and index[id(target)] not in seen and index[id(target)] != i:
                        seen.add(index[id(target)])
                        yield index[id(target)]

        # Iterative depth-first post-order (package graphs come from the input: no recursion limit),
        # each edge followed once.
        for start in range(len(packages)):
            if start in placed:
                continue
            stack: list[tuple[int, Iterator[int]]] = [(start, deps(start))]
            visiting = {start}
            while stack:
                node, pending = stack[-1]
                nxt = next((d for d in pending if d not in placed and d not in visiting), None)
                if nxt is not None:
                    visiting.add(nxt)
                    stack.append((nxt, deps(nxt)))
                    continue
                stack.pop()
                visiting.discard(node)
                placed.add(node)
                order.append(node)
        return [packages[i] for i in order]
