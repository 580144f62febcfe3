"""Print component types in WIT syntax.

Works on the resolved type model (:mod:`wasmcomponent.types.model`), which
keeps no source names for value types.  Names come from the type exports
that sit next to the functions: an instance type exporting
``point`` as ``(type (eq record ...))`` makes every structurally equal record
in that instance print as ``point``, and a ``(type (sub resource))`` export
names its resource.  Only nominal kinds (record, variant, enum, flags,
resource) are replaced by their names; aliases of other types (``type
duration = u64``) are printed as definitions, but their uses keep the
structure.  Types with no name in scope are printed inline, as
``record { x: u32 }`` (not valid WIT, but readable).

A type that an interface shares with an interface printed earlier (same name
and type, or the same resource) is printed as ``use other.{name};``.  Resource
functions (``[constructor]r``, ``[method]r.m``, ``[static]r.m``) are grouped
into their ``resource r { ... }`` block.

Printing is bounded: each type expression stops after :data:`MAX_TYPE_CHARS`
characters (ending in ``...``) and nesting deeper than :data:`MAX_DEPTH`
prints ``...``, so a hostile component's expanded types cannot take unbounded
time or memory.  Structural names are looked up through a memo keyed by node
identity, so shared subtrees are keyed once.

Example::

    >>> from wasmcomponent.types import model as m
    >>> wit_func(m.FuncType((("name", m.STRING),), m.STRING))
    'func(name: string) -> string'
    >>> point = m.RecordType((("x", m.S32), ("y", m.S32)))
    >>> shapes = m.InstanceType({
    ...     "point": m.TypeBound(eq=point),
    ...     "move": m.FuncType((("p", point), ("type", m.U8)), m.OptionType(point)),
    ... })
    >>> print(wit_component(m.ComponentType({}, {"my:pkg/shapes": shapes})))
    export my:pkg/shapes: interface {
      record point { x: s32, y: s32 }
      move: func(p: point, %type: u8) -> option<point>;
    }
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping, Optional, Union

from .types import model

__all__ = [
    "KEYWORDS",
    "MAX_DEPTH",
    "MAX_TYPE_CHARS",
    "Scope",
    "ident",
    "wit_type",
    "wit_func",
    "wit_component",
    "function_signatures",
]

KEYWORDS = frozenset(
    (
        "as async bool borrow char constructor enum error-context export f32 f64 flags float32 float64 "
        "from func future import include interface list map option own package record resource result "
        "s8 s16 s32 s64 static stream string tuple type u8 u16 u32 u64 use variant with world"
    ).split()
)
"""WIT keywords: identifiers spelled like one are written with a ``%`` prefix."""

MAX_DEPTH = 200
MAX_TYPE_CHARS = 4096
INDENT = "  "
LINE_WIDTH = 100  # a definition longer than this is printed one member per line

_Nominal = (model.RecordType, model.VariantType, model.EnumType, model.FlagsType)
_Extern = Union[
    model.FuncType, model.InstanceType, model.ComponentType, model.CoreModuleType, model.TypeBound, model.ValType
]


def ident(name: str) -> str:
    """``name`` as a WIT identifier: ``%``-prefixed when it is a keyword.

    >>> ident("type"), ident("point")
    ('%type', 'point')
    """
    return f"%{name}" if name in KEYWORDS else name


class _Interner:
    """Structural keys for model value types, memoized by node identity (linear in a shared DAG)."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[object, int]] = {}  # id -> (node kept alive, key)
        self._keys: dict[tuple[object, ...], int] = {}

    def key(self, ty: model.ValType, depth: int = 0) -> int:
        hit = self._by_id.get(id(ty))
        if hit is not None:
            return hit[1]
        if depth > MAX_DEPTH:
            return -1  # too deep to name; never equal to a defined type's key
        shape = self._shape(ty, depth + 1)
        key = self._keys.setdefault(shape, len(self._keys))
        self._by_id[id(ty)] = (ty, key)
        return key

    def _opt(self, ty: Optional[model.ValType], depth: int) -> int:
        return -2 if ty is None else self.key(ty, depth)

    def _shape(self, ty: model.ValType, depth: int) -> tuple[object, ...]:
        if isinstance(ty, model.PrimType):
            return ("prim", ty.name)
        if isinstance(ty, (model.OwnType, model.BorrowType)):
            return (type(ty).__name__, id(ty.resource))
        if isinstance(ty, model.RecordType):
            return ("record", tuple((n, self.key(t, depth)) for n, t in ty.fields))
        if isinstance(ty, model.VariantType):
            return ("variant", tuple((n, self._opt(t, depth)) for n, t in ty.variant_cases))
        if isinstance(ty, model.EnumType):
            return ("enum", ty.names)
        if isinstance(ty, model.FlagsType):
            return ("flags", ty.names)
        if isinstance(ty, model.ListType):
            return ("list", self.key(ty.element, depth), ty.length)
        if isinstance(ty, model.TupleType):
            return ("tuple", tuple(self.key(t, depth) for t in ty.elements))
        if isinstance(ty, model.OptionType):
            return ("option", self.key(ty.payload, depth))
        if isinstance(ty, model.ResultType):
            return ("result", self._opt(ty.ok, depth), self._opt(ty.err, depth))
        if isinstance(ty, (model.StreamType, model.FutureType)):
            return (type(ty).__name__, self._opt(ty.payload, depth))
        if isinstance(ty, model.MapType):
            return ("map", self.key(ty.key, depth), self.key(ty.value, depth))
        return ("other", id(ty))


class Scope:
    """The names visible where a type is printed: nominal value types and resources.

    ``resources`` is shared by every scope of one printing run (a resource
    keeps its name everywhere); value type names are per scope, as in WIT.
    """

    def __init__(self, interner: Optional[_Interner] = None, resources: Optional[dict[int, str]] = None) -> None:
        self.interner = interner if interner is not None else _Interner()
        self.resources: dict[int, str] = resources if resources is not None else {}
        self._local_resources: dict[int, str] = {}
        self._types: dict[int, str] = {}
        self._keep: list[object] = []  # resource identities whose id() is a key above
        self.fallback: Optional[Callable[[int], Optional[str]]] = None  # names for types not bound here

    @classmethod
    def of(cls, items: Mapping[str, _Extern], parent: Optional[Scope] = None) -> Scope:
        """The scope of an instance's exports (or a component's imports and exports)."""
        scope = cls(parent.interner, parent.resources) if parent is not None else cls()
        for name, ty in items.items():
            scope.bind(name, ty)
        return scope

    def bind(self, name: str, ty: _Extern) -> None:
        """Name the type of a type export/import ``name`` (other kinds of items are ignored)."""
        if not isinstance(ty, model.TypeBound):
            return
        resource = ty.resource if ty.resource is not None else getattr(ty.eq, "resource", None)
        if isinstance(resource, model.ResourceIdentity):  # `sub resource`, or an `eq` bound to a handle
            self._keep.append(resource)
            self._local_resources.setdefault(id(resource), name)
            self.resources.setdefault(id(resource), name)
        elif isinstance(ty.eq, _Nominal):
            self._types.setdefault(self.interner.key(ty.eq), name)

    def type_name(self, ty: model.ValType) -> Optional[str]:
        """The name of a nominal type in this scope (or given by :attr:`fallback`), if it has one."""
        if not isinstance(ty, _Nominal):
            return None
        key = self.interner.key(ty)
        name = self._types.get(key)
        if name is None and self.fallback is not None:
            name = self.fallback(key)
        return name

    def resource_name(self, resource: model.ResourceIdentity) -> str:
        """The resource's name here, else where it was first named, else the name it was declared with."""
        key = id(resource)
        return self._local_resources.get(key) or self.resources.get(key) or resource.name or "resource"


class _Full(Exception):
    """The type expression reached :data:`MAX_TYPE_CHARS`."""


class _Writer:
    """One type expression, with a size budget."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.parts: list[str] = []
        self.size = 0

    def put(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > MAX_TYPE_CHARS:
            raise _Full

    def text(self) -> str:
        return "".join(self.parts)

    def value(self, ty: model.ValType, depth: int = 0, top: bool = False) -> None:
        if depth > MAX_DEPTH:
            self.put("...")
            return
        if isinstance(ty, model.PrimType):
            self.put(ty.name)
            return
        if isinstance(ty, model.OwnType):
            self.put(ident(self.scope.resource_name(ty.resource)))
            return
        if isinstance(ty, model.BorrowType):
            self.put(f"borrow<{ident(self.scope.resource_name(ty.resource))}>")
            return
        name = None if top else self.scope.type_name(ty)
        if name is not None:
            self.put(ident(name))
            return
        inner = depth + 1
        if isinstance(ty, model.RecordType):
            self.put("record { ")
            self._members([(n, t) for n, t in ty.fields], ": ", inner)
            self.put(" }")
        elif isinstance(ty, model.VariantType):
            self.put("variant { ")
            self._members(list(ty.variant_cases), "(", inner, close=")")
            self.put(" }")
        elif isinstance(ty, (model.EnumType, model.FlagsType)):
            self.put(f"{'enum' if isinstance(ty, model.EnumType) else 'flags'} {{ ")
            self.put(", ".join(ident(n) for n in ty.names))
            self.put(" }")
        elif isinstance(ty, model.ListType):
            self.put("list<")
            self.value(ty.element, inner)
            self.put(">" if ty.length is None else f", {ty.length}>")
        elif isinstance(ty, model.TupleType):
            self._generic("tuple", list(ty.elements), inner)
        elif isinstance(ty, model.OptionType):
            self._generic("option", [ty.payload], inner)
        elif isinstance(ty, model.ResultType):
            self._result(ty, inner)
        elif isinstance(ty, (model.StreamType, model.FutureType)):
            word = "stream" if isinstance(ty, model.StreamType) else "future"
            if ty.payload is None:
                self.put(word)
            else:
                self._generic(word, [ty.payload], inner)
        elif isinstance(ty, model.MapType):
            self._generic("map", [ty.key, ty.value], inner)
        else:
            self.put(f"<{type(ty).__name__}>")

    def _generic(self, word: str, args: list[model.ValType], depth: int) -> None:
        self.put(f"{word}<")
        for i, arg in enumerate(args):
            if i:
                self.put(", ")
            self.value(arg, depth)
        self.put(">")

    def _result(self, ty: model.ResultType, depth: int) -> None:
        if ty.ok is None and ty.err is None:
            self.put("result")
            return
        self.put("result<")
        if ty.ok is None:
            self.put("_")
        else:
            self.value(ty.ok, depth)
        if ty.err is not None:
            self.put(", ")
            self.value(ty.err, depth)
        self.put(">")

    def _members(
        self, members: list[tuple[str, Optional[model.ValType]]], sep: str, depth: int, close: str = ""
    ) -> None:
        for i, (name, ty) in enumerate(members):
            if i:
                self.put(", ")
            self.put(ident(name))
            if ty is not None:
                self.put(sep)
                self.value(ty, depth)
                self.put(close)

    def func(self, ty: model.FuncType, skip_self: bool = False, show_result: bool = True) -> None:
        params = ty.params[1:] if skip_self else ty.params
        self.put("(")
        for i, (name, param) in enumerate(params):
            if i:
                self.put(", ")
            self.put(f"{ident(name)}: ")
            self.value(param)
        self.put(")")
        if show_result and ty.result is not None:
            self.put(" -> ")
            self.value(ty.result)


def _bounded(scope: Scope, write: Callable[[_Writer], None]) -> str:
    writer = _Writer(scope)
    try:
        write(writer)
    except _Full:
        return writer.text()[:MAX_TYPE_CHARS] + "..."
    return writer.text()


def wit_type(ty: model.ValType, scope: Optional[Scope] = None) -> str:
    """``ty`` as a WIT type expression, using the names of ``scope``.

    >>> wit_type(model.ResultType(None, model.ListType(model.U8)))
    'result<_, list<u8>>'
    """
    return _bounded(scope or Scope(), lambda w: w.value(ty))


def wit_func(ty: model.FuncType, scope: Optional[Scope] = None) -> str:
    """A function type in WIT: ``func(a: u32) -> string`` (``async func`` for async ones)."""
    prefix = "async func" if ty.is_async else "func"
    return prefix + _bounded(scope or Scope(), lambda w: w.func(ty))


# ---------------------------------------------------------------- definitions


def _definition(name: str, ty: model.ValType, scope: Scope, indent: str) -> list[str]:
    """The WIT definition of type export ``name``: ``record name { ... }``, ``type name = ...;``."""
    other = scope.type_name(ty)
    if other is not None and other != name:  # an alias of a type named earlier
        return [f"{indent}type {ident(name)} = {ident(other)};"]
    members: list[str]
    if isinstance(ty, model.RecordType):
        word, members = "record", [f"{ident(n)}: {wit_type(t, scope)}" for n, t in ty.fields]
    elif isinstance(ty, model.VariantType):
        word = "variant"
        members = [ident(n) if t is None else f"{ident(n)}({wit_type(t, scope)})" for n, t in ty.variant_cases]
    elif isinstance(ty, (model.EnumType, model.FlagsType)):
        word = "enum" if isinstance(ty, model.EnumType) else "flags"
        members = [ident(n) for n in ty.names]
    else:
        return [f"{indent}type {ident(name)} = {wit_type(ty, scope)};"]
    head = f"{indent}{word} {ident(name)}"
    one_line = f"{head} {{ {', '.join(members)} }}" if members else f"{head} {{}}"
    if len(one_line) <= LINE_WIDTH:
        return [one_line]
    return [f"{head} {{", *(f"{indent}{INDENT}{m}," for m in members), f"{indent}}}"]


def _resource_function(name: str) -> Optional[tuple[str, str, str]]:
    """``(kind, resource, member)`` for ``[constructor]r``, ``[method]r.m`` and ``[static]r.m`` names."""
    for kind in ("constructor", "method", "static"):
        prefix = f"[{kind}]"
        if name.startswith(prefix):
            rest = name[len(prefix) :]
            if kind == "constructor":
                return kind, rest, ""
            resource, dot, member = rest.partition(".")
            if dot:
                return kind, resource, member
    return None


def _resource_member(kind: str, member: str, ty: model.FuncType, scope: Scope) -> str:
    asynchronous = "async " if ty.is_async else ""
    if kind == "constructor":
        plain = isinstance(ty.result, model.OwnType)
        return "constructor" + _bounded(scope, lambda w: w.func(ty, show_result=not plain)) + ";"
    if kind == "method":
        takes_self = bool(ty.params) and ty.params[0][0] == "self"
        sig = _bounded(scope, lambda w: w.func(ty, skip_self=takes_self))
        return f"{ident(member)}: {asynchronous}func{sig};"
    sig = _bounded(scope, lambda w: w.func(ty))
    return f"{ident(member)}: {asynchronous}static func{sig};"


class _Printer:
    """One run over a component type: remembers where each type was defined, for ``use``."""

    def __init__(self) -> None:
        self.root = Scope()
        self.interfaces: dict[tuple[str, object], str] = {}  # (type name, key) -> defining interface
        self.resource_homes: dict[int, tuple[str, str]] = {}  # id(resource) -> (interface, name)
        self.nominal_homes: dict[int, tuple[str, str]] = {}  # key of a record/variant/... -> (interface, name)
        self.world_names: set[str] = set()
        self.pending_uses: dict[str, list[tuple[str, str]]] = {}
        self.done_uses: set[tuple[str, str]] = set()
        self._keep: list[object] = []

    def _world_fallback(self, key: int) -> Optional[str]:
        """At world level, a type defined by an interface is named through a ``use`` of it."""
        home = self.nominal_homes.get(key)
        if home is None or home[1] in self.world_names:
            return None
        if home not in self.done_uses:
            self.done_uses.add(home)
            self.pending_uses.setdefault(home[0], []).append((home[1], home[1]))
        return home[1]

    def _home_key(self, ty: model.TypeBound, scope: Scope) -> Optional[tuple[str, object]]:
        if ty.resource is not None:
            return ("resource", id(ty.resource))
        if ty.eq is not None:
            return ("type", scope.interner.key(ty.eq))
        return None

    def component(
        self, ty: model.ComponentType, indent: str = "", directions: tuple[str, ...] = ("import", "export")
    ) -> list[str]:
        scope = Scope.of({**ty.imports, **ty.exports}, self.root)
        world = not indent
        if world:
            self.world_names = set(ty.imports) | set(ty.exports)
            scope.fallback = self._world_fallback
        lines: list[str] = []
        for direction, items in (("import", ty.imports), ("export", ty.exports)):
            for name, item in items.items():
                item_lines = self.item(direction, name, item, scope, indent)
                # Items of a direction not asked for are still visited: they define what later ones `use`.
                shown = direction in directions
                if world:  # the `use`s this item needed go just before it
                    if shown:
                        lines.extend(_use(source, names) for source, names in self.pending_uses.items())
                    self.pending_uses.clear()
                if shown:
                    lines.extend(item_lines)
        return lines

    def item(self, direction: str, name: str, ty: _Extern, scope: Scope, indent: str) -> list[str]:
        head = f"{indent}{direction} {name}"
        if isinstance(ty, model.FuncType):
            return [f"{head}: {wit_func(ty, scope)};"]
        if isinstance(ty, model.InstanceType):
            body = self.instance(name, ty, indent + INDENT)
            return [f"{head}: interface {{", *body, f"{indent}}}"] if body else [f"{head}: interface {{}}"]
        if isinstance(ty, model.ComponentType):
            body = self.component(ty, indent + INDENT)
            return [f"{head}: component {{", *body, f"{indent}}}"] if body else [f"{head}: component {{}}"]
        if isinstance(ty, model.CoreModuleType):
            return [f"{head}: core module {{", *_core_module(ty, indent + INDENT), f"{indent}}}"]
        if isinstance(ty, model.TypeBound):
            return self.type_item(name, ty, scope, indent, world_level=True)
        return [f"{head}: value<{wit_type(ty, scope)}>;"]

    def type_item(self, name: str, ty: model.TypeBound, scope: Scope, indent: str, world_level: bool) -> list[str]:
        """A type export or import outside an interface (``use`` when it comes from one)."""
        if ty.resource is not None or isinstance(ty.eq, model.OwnType):
            resource = ty.resource if ty.resource is not None else ty.eq.resource  # type: ignore[union-attr]
            home = self.resource_homes.get(id(resource))
            if home is not None:
                return [f"{indent}{_use(home[0], [(home[1], name)])}"]
            return [f"{indent}resource {ident(name)};"]
        if ty.eq is None:
            return []
        home_iface = self.interfaces.get((name, ("type", scope.interner.key(ty.eq))))
        if home_iface is not None:
            return [f"{indent}{_use(home_iface, [(name, name)])}"]
        return _definition(name, ty.eq, scope, indent)

    def instance(self, iface: str, ty: model.InstanceType, indent: str) -> list[str]:
        scope = Scope.of(ty.exports, self.root)
        uses: dict[str, list[tuple[str, str]]] = {}
        blocks: list[list[str]] = []  # one per item; a resource's block collects its functions
        resources: dict[str, list[str]] = {}
        inner = indent + INDENT
        for name, item in ty.exports.items():
            if isinstance(item, model.TypeBound):
                home = self._use_source(iface, name, item, scope)
                if home is not None:
                    uses.setdefault(home[0], []).append((home[1], name))
                elif item.resource is not None:
                    resources[name] = [f"{indent}resource {ident(name)}"]
                    blocks.append(resources[name])
                elif item.eq is not None:
                    blocks.append(_definition(name, item.eq, scope, indent))
            elif isinstance(item, model.FuncType):
                member = _resource_function(name)
                if member is not None and member[1] in resources:
                    resources[member[1]].append(inner + _resource_member(member[0], member[2], item, scope))
                else:
                    blocks.append([f"{indent}{ident(name) if member is None else name}: {wit_func(item, scope)};"])
            else:
                blocks.append(self.item("export", name, item, scope, indent))
        for block in resources.values():
            if len(block) == 1:
                block[0] += ";"
            else:
                block[0] += " {"
                block.append(f"{indent}}}")
        lines = [f"{indent}{_use(source, names)}" for source, names in uses.items()]
        return lines + [line for block in blocks for line in block]

    def _use_source(
        self, iface: str, name: str, ty: model.TypeBound, scope: Scope
    ) -> Optional[tuple[str, str]]:
        """``(interface, original name)`` when this type export is one of an earlier interface; else record it."""
        if ty.resource is not None:
            home = self.resource_homes.get(id(ty.resource))
            if home is not None and home[0] != iface:
                return home
            self._keep.append(ty.resource)
            self.resource_homes.setdefault(id(ty.resource), (iface, name))
            return None
        key = self._home_key(ty, scope)
        if key is None:
            return None
        source = self.interfaces.get((name, key))
        if source is not None and source != iface:
            return source, name
        self.interfaces.setdefault((name, key), iface)
        if isinstance(ty.eq, _Nominal):
            self.nominal_homes.setdefault(scope.interner.key(ty.eq), (iface, name))
        return None


def _use(source: str, names: list[tuple[str, str]]) -> str:
    items = ", ".join(ident(a) if a == b else f"{ident(a)} as {ident(b)}" for a, b in names)
    return f"use {source}.{{{items}}};"


def _core_module(ty: model.CoreModuleType, indent: str) -> list[str]:
    def describe(extern: model.CoreExternType) -> str:
        if extern.kind == "func" and extern.func is not None:
            params = "".join(f" (param {p})" for p in extern.func.params)
            results = "".join(f" (result {r})" for r in extern.func.results)
            return f"(func{params}{results})"
        return f"({extern.kind})"

    lines = [f'{indent}(import "{m}" "{n}" {describe(t)})' for m, n, t in ty.imports]
    lines += [f'{indent}(export "{n}" {describe(t)})' for n, t in ty.exports]
    return lines


def wit_component(ty: model.ComponentType, imports: bool = True, exports: bool = True) -> str:
    """A component type's imports and exports (or only one side), one WIT item (or interface block) each."""
    directions = tuple(d for d, wanted in (("import", imports), ("export", exports)) if wanted)
    return "\n".join(_Printer().component(ty, directions=directions))


def function_signatures(ty: model.ComponentType) -> Iterator[tuple[str, str]]:
    """``(call name, signature)`` for every exported function reachable by a WAVE call.

    Functions inside exported instances are named ``instance#function``
    (nested instances chain with ``#``).  Resource constructors, methods and
    statics are left out: their names cannot be written in a call.
    """
    root = Scope.of(ty.exports)

    def walk(prefix: str, items: Mapping[str, _Extern], scope: Scope, depth: int) -> Iterator[tuple[str, str]]:
        if depth > MAX_DEPTH:
            return
        for name, item in items.items():
            if isinstance(item, model.FuncType) and not name.startswith("["):
                yield prefix + name, wit_func(item, scope)
            elif isinstance(item, model.InstanceType):
                yield from walk(f"{prefix}{name}#", item.exports, Scope.of(item.exports, scope), depth + 1)

    yield from walk("", ty.exports, root, 0)

