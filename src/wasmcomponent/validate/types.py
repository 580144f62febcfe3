"""The validator's own view of component types: identity-carrying and structural.

Every type definition becomes a fresh object (compared by identity, like
wasmparser's type ids), because validation needs to know *which* definition
an export refers to (a record must be exported itself before a function using
it can be).  Subtyping (:func:`check_subtype`) compares structurally, with
resources compared by their :class:`Resource` identity.

* :class:`Resource` -- one nominal resource type.
* :class:`ResourceEntry` -- a type-index-space entry naming a resource (an
  alias of a resource gets a new entry with the same ``resource``).
* :class:`Defined` -- a defined value type (``kind`` + ``items``).
* :class:`Func`, :class:`InstanceT`, :class:`ComponentT` -- function,
  instance and component types; :class:`ModuleT` wraps a core module type.
* Entities (what an import/export/instance export is): ``('func', Func)``,
  ``('instance', InstanceT)``, ``('component', ComponentT)``,
  ``('module', ModuleT)``, ``('value', ValT)`` and ``('type', created, referenced)``.
"""

from __future__ import annotations

from typing import Optional, Union

from ..errors import ValidationError
from ..types.model import PrimType
from .core_module import CoreExtern, CoreModuleInfo


class Resource:
    """One resource identity; ``rep`` is None for abstract (imported/declared) resources."""

    __slots__ = ("name", "rep")

    def __init__(self, name: str = "", rep: Optional[str] = None) -> None:
        self.name = name
        self.rep = rep

    def __repr__(self) -> str:
        return f"<resource {self.name or '?'}>"


class ResourceEntry:
    """A type index space entry that names ``resource``."""

    __slots__ = ("resource",)

    def __init__(self, resource: Resource) -> None:
        self.resource = resource


class Defined:
    """A defined value type.

    ``kind``/``items``: record ((name, t)...), variant ((name, t|None)...),
    list (t,), fixed-list (t, n), tuple (t...), flags (names), enum (names),
    option (t,), result (ok, err), own (ResourceEntry,), borrow
    (ResourceEntry,), stream (t|None,), future (t|None,), map (k, v), prim (p,).
    """

    __slots__ = ("kind", "items", "info")

    def __init__(self, kind: str, items: tuple, info: Optional[TypeInfo] = None) -> None:
        self.kind = kind
        self.items = items
        self.info = info if info is not None else TypeInfo.of(kind, items)

    def __repr__(self) -> str:
        return f"Defined({self.kind}, {self.items!r})"


ValT = Union[PrimType, Defined]


MAX_TYPE_SIZE = 1_000_000
"""wasmparser's ``MAX_WASM_TYPE_SIZE``: the cap on a type's effective size."""

TYPE_SIZE_MESSAGE = f"effective type size exceeds the limit of {MAX_TYPE_SIZE}"


class TypeInfo:
    """Cached facts about a value type: nesting depth, resources, pointers, size.

    ``tsize`` is wasmparser's effective type size: 1 plus the sizes of the
    parts, so that a type used twice counts twice.  Capping it (at
    :data:`MAX_TYPE_SIZE`) bounds the work of anything that walks a type's
    expansion; the validator itself never expands types.
    """

    __slots__ = ("depth", "resources", "has_ptr", "has_borrow", "size", "align", "tsize", "flat")

    def __init__(self, depth: int, resources: frozenset, has_ptr: bool, has_borrow: bool,
                 size: int, align: int, tsize: int = 1) -> None:
        self.tsize = tsize
        # Flat core types per pointer width, None past FLAT_CAP (see `flatten`).
        self.flat: dict[str, Optional[tuple[str, ...]]] = {}
        self.depth = depth
        self.resources = resources
        self.has_ptr = has_ptr
        self.has_borrow = has_borrow
        self.size = size
        self.align = align

    @staticmethod
    def of(kind: str, items: tuple) -> TypeInfo:
        children: list[ValT] = []
        if kind in ("record", "variant"):
            children = [t for _, t in items if t is not None]
        elif kind in ("tuple", "result", "map", "list", "fixed-list", "option", "stream", "future"):
            children = [t for t in items if isinstance(t, (PrimType, Defined))]
        infos = [info_of(t) for t in children]
        depth = 1 + max((i.depth for i in infos), default=0)
        resources = frozenset().union(*(i.resources for i in infos)) if infos else frozenset()
        has_ptr = any(i.has_ptr for i in infos) and kind not in ("stream", "future")
        has_borrow = any(i.has_borrow for i in infos)
        if kind in ("own", "borrow"):
            resources = frozenset((items[0].resource,))
            has_borrow = kind == "borrow"
        if kind in ("list", "map"):
            has_ptr = True
        size, align = _size_align(kind, items, infos)
        tsize = 1 + sum(i.tsize for i in infos)
        return TypeInfo(depth, resources, has_ptr, has_borrow, size, align, tsize)


_PRIM_SIZE = {
    "bool": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "s32": 4, "u32": 4, "s64": 8, "u64": 8,
    "f32": 4, "f64": 8, "char": 4, "string": 16, "error-context": 4,
}
_PRIM_INFO = {
    name: TypeInfo(1, frozenset(), name == "string", False, size, min(size, 8))
    for name, size in _PRIM_SIZE.items()
}


def info_of(t: ValT) -> TypeInfo:
    if isinstance(t, PrimType):
        return _PRIM_INFO.get(t.name) or TypeInfo(1, frozenset(), False, False, 4, 4)
    return t.info


def _align_to(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _size_align(kind: str, items: tuple, infos: list[TypeInfo]) -> tuple[int, int]:
    """Canonical ABI size/alignment with 64-bit pointers (for the value-size limit)."""
    if kind == "prim":
        i = info_of(items[0])
        return i.size, i.align
    if kind in ("list", "map"):
        return 16, 8
    if kind == "fixed-list":
        return infos[0].size * items[1], infos[0].align
    if kind in ("record", "tuple"):
        size, align = 0, 1
        for i in infos:
            size = _align_to(size, i.align) + i.size
            align = max(align, i.align)
        return _align_to(size, align), align
    if kind in ("variant", "option", "result", "enum"):
        n = len(items) if kind in ("variant", "enum") else 2
        disc = 1 if n <= 256 else 2 if n <= 65536 else 4
        payload = max((i.size for i in infos), default=0)
        align = max([disc] + [i.align for i in infos])
        size = _align_to(disc, align) + payload
        return _align_to(size, align), align
    if kind == "flags":
        n = len(items)
        size = 1 if n <= 8 else 2 if n <= 16 else 4
        return size, size
    return 4, 4


class Func:
    """A function type; ``tsize`` is 1 plus its parameters' and result's sizes."""

    __slots__ = ("params", "result", "is_async", "tsize")

    def __init__(self, params: tuple[tuple[str, ValT], ...], result: Optional[ValT], is_async: bool) -> None:
        self.params = params
        self.result = result
        self.is_async = is_async
        self.tsize = 1 + sum(info_of(t).tsize for _, t in params) + (
            0 if result is None else info_of(result).tsize
        )


class InstanceT:
    """An instance type; ``defined`` lists resources it declares abstractly.

    ``tsize`` is 1 plus the sizes of the exports (as wasmparser sums them).
    """

    __slots__ = ("exports", "defined", "tsize")

    def __init__(self, exports: dict[str, tuple], defined: list[Resource]) -> None:
        self.exports = exports
        self.defined = defined
        self.tsize = 1 + sum(entity_size(e) for e in exports.values())


class ComponentT:
    """A component type; ``tsize`` is 1 plus the sizes of imports and exports."""

    __slots__ = ("imports", "exports", "imported", "defined", "tsize")

    def __init__(self, imports: dict[str, tuple], exports: dict[str, tuple],
                 imported: list[Resource], defined: list[Resource]) -> None:
        self.imports = imports
        self.exports = exports
        self.imported = imported
        self.defined = defined
        self.tsize = 1 + sum(entity_size(e) for e in imports.values()) + sum(
            entity_size(e) for e in exports.values()
        )


class ModuleT:
    """A core module type; ``info`` None means "not known" (every check passes)."""

    __slots__ = ("info",)

    def __init__(self, info: Optional[CoreModuleInfo]) -> None:
        self.info = info


def entry_size(entry: object) -> int:
    """The effective size of a type-index-space entry (a resource counts 1)."""
    if isinstance(entry, Defined):
        return entry.info.tsize
    if isinstance(entry, (Func, InstanceT, ComponentT)):
        return entry.tsize
    return 1


def entity_size(entity: tuple) -> int:
    """The effective size of an import/export/instance export (wasmparser's ``info``)."""
    kind = entity[0]
    if kind == "value":
        return info_of(entity[1]).tsize
    if kind == "type":
        return entry_size(entity[2])  # the referenced type, as wasmparser
    if kind == "module":
        return 1  # core module types are bounded by the core limits
    return entry_size(entity[1])


TypeEntry = Union[ResourceEntry, Defined, Func, InstanceT, ComponentT, PrimType]
Entity = tuple


# ------------------------------------------------------------------ resources


def entity_resources(entity: Entity, out: set[Resource], seen: set[int]) -> None:
    """Collect every resource an entity mentions."""
    kind = entity[0]
    if kind == "func":
        func_resources(entity[1], out)
    elif kind == "value":
        out.update(info_of(entity[1]).resources)
    elif kind == "type":
        entry_resources(entity[1], out, seen)
    elif kind in ("instance", "component"):
        entry_resources(entity[1], out, seen)


def func_resources(f: Func, out: set[Resource]) -> None:
    for _, t in f.params:
        out.update(info_of(t).resources)
    if f.result is not None:
        out.update(info_of(f.result).resources)


def entry_resources(entry: object, out: set[Resource], seen: set[int]) -> None:
    if id(entry) in seen:
        return
    seen.add(id(entry))
    if isinstance(entry, ResourceEntry):
        out.add(entry.resource)
    elif isinstance(entry, Defined):
        out.update(entry.info.resources)
    elif isinstance(entry, Func):
        func_resources(entry, out)
    elif isinstance(entry, InstanceT):
        for e in entry.exports.values():
            entity_resources(e, out, seen)
    elif isinstance(entry, ComponentT):
        for e in list(entry.imports.values()) + list(entry.exports.values()):
            entity_resources(e, out, seen)


# --------------------------------------------------------------- substitution


class Subst:
    """Rewrites types replacing resources by ``mapping`` and entries by ``entries``.

    ``entries`` maps ``id(entry)`` of a component's imported type to the
    argument given for it.  Unchanged types keep their identity.
    """

    def __init__(self, mapping: dict[Resource, Resource], entries: Optional[dict[int, object]] = None) -> None:
        self.mapping = mapping
        self.entries = entries or {}
        self.memo: dict[int, object] = {}

    def val(self, t: Optional[ValT]) -> Optional[ValT]:
        if t is None or isinstance(t, PrimType):
            return t
        swapped = self.entries.get(id(t))
        if swapped is not None:
            return swapped  # type: ignore[return-value]
        if not self.entries and not (t.info.resources & self.mapping.keys()):
            return t
        done = self.memo.get(id(t))
        if done is not None:
            return done  # type: ignore[return-value]
        if t.kind in ("own", "borrow"):
            items: tuple = (self.entry(t.items[0]),)
        elif t.kind in ("record", "variant"):
            items = tuple((n, self.val(x)) for n, x in t.items)
        elif t.kind in ("flags", "enum", "prim"):
            items = t.items
        elif t.kind == "fixed-list":
            items = (self.val(t.items[0]), t.items[1])
        else:
            items = tuple(self.val(x) for x in t.items)
        same = all(
            (x is y) if not isinstance(x, tuple) else (x[0] == y[0] and x[1] is y[1])
            for x, y in zip(items, t.items, strict=False)
        )
        new = t if same else Defined(t.kind, items)
        self.memo[id(t)] = new
        return new

    def entry(self, e: object) -> object:
        swapped = self.entries.get(id(e))
        if swapped is not None:
            return swapped
        if isinstance(e, ResourceEntry):
            r = self.mapping.get(e.resource)
            if r is None:
                return e
            done = self.memo.get(id(e))
            if done is None:
                done = ResourceEntry(r)
                self.memo[id(e)] = done
            return done
        if isinstance(e, Defined):
            return self.val(e)
        if isinstance(e, Func):
            return self.func(e)
        if isinstance(e, InstanceT):
            done = self.memo.get(id(e))
            if done is None:
                done = InstanceT({k: self.entity(v) for k, v in e.exports.items()},
                                 [self.mapping.get(r, r) for r in e.defined])
                self.memo[id(e)] = done
            return done
        if isinstance(e, ComponentT):
            done = self.memo.get(id(e))
            if done is None:
                done = ComponentT({k: self.entity(v) for k, v in e.imports.items()},
                                  {k: self.entity(v) for k, v in e.exports.items()},
                                  [self.mapping.get(r, r) for r in e.imported],
                                  [self.mapping.get(r, r) for r in e.defined])
                self.memo[id(e)] = done
            return done
        return e

    def func(self, f: Func) -> Func:
        done = self.memo.get(id(f))
        if done is None:
            done = Func(tuple((n, self.val(t)) for n, t in f.params),  # type: ignore[misc]
                        self.val(f.result), f.is_async)
            self.memo[id(f)] = done
        return done  # type: ignore[return-value]

    def entity(self, e: Entity) -> Entity:
        kind = e[0]
        if kind == "type":
            return ("type", self.entry(e[1]), self.entry(e[2]))
        if kind == "value":
            return ("value", self.val(e[1]))
        if kind == "module":
            return e
        return (kind, self.entry(e[1]))


# ------------------------------------------------------------------ subtyping


class Mismatch(Exception):
    """A subtyping failure; ``path`` collects the "type mismatch in ..." context."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.context: list[str] = []

    def within(self, text: str) -> Mismatch:
        self.context.append(text)
        return self

    def error(self, offset: int) -> ValidationError:
        err = ValidationError(self.message, offset)
        for text in self.context:
            err = err.with_context(text)  # type: ignore[assignment]
        return err


_KIND_DESC = {"fixed-list": "fixed-length list"}
"""wasmparser's description of an expected defined type, where it differs from ``kind``."""


def _found_desc(t: Defined) -> str:
    """wasmparser's word for the found type (a fixed-length list is found as `list`)."""
    return "list" if t.kind == "fixed-list" else t.kind


class Checker:
    """Structural subtyping; ``resources`` maps expected resources to actual ones as found."""

    def __init__(self, resources: Optional[dict[Resource, Resource]] = None,
                 open_resources: Optional[set[Resource]] = None) -> None:
        self.resources: dict[Resource, Resource] = resources if resources is not None else {}
        self.open: set[Resource] = open_resources if open_resources is not None else set()
        self.flipped = False
        # Pairs already found to be subtypes, keyed by identity (the values keep
        # both alive): a type reused many times is compared once per pair of
        # definitions, not once per path through a doubling chain.
        self.done: dict[tuple[int, int, bool], tuple[object, object]] = {}

    def _seen(self, a: object, b: object) -> bool:
        return (id(a), id(b), self.flipped) in self.done

    def _passed(self, a: object, b: object) -> None:
        self.done[(id(a), id(b), self.flipped)] = (a, b)

    def resource(self, actual: Resource, expected: Resource) -> None:
        if self.flipped:  # inside a parameter: the two sides are swapped
            actual, expected = expected, actual
        if self.resources.get(expected, expected) is not actual:
            raise Mismatch("resource types are not the same")

    def val(self, a: Optional[ValT], b: Optional[ValT]) -> None:
        """``a`` (actual) must be a subtype of ``b`` (expected)."""
        if a is b or a is None or b is None or self._seen(a, b):
            return
        self._val(a, b)
        self._passed(a, b)

    def _val(self, a: ValT, b: ValT) -> None:
        # As wasmparser: an inline primitive is named (`u32`), a defined
        # primitive type is described as `primitive`.
        a_prim = a if isinstance(a, PrimType) else a.items[0] if a.kind == "prim" else None
        b_prim = b if isinstance(b, PrimType) else b.items[0] if b.kind == "prim" else None
        if a_prim is not None and b_prim is not None:
            if a_prim != b_prim:
                raise Mismatch(f"expected primitive `{b_prim.name}` found primitive `{a_prim.name}`")
            return
        if a_prim is not None:
            assert isinstance(b, Defined)
            raise Mismatch(f"expected {_KIND_DESC.get(b.kind, b.kind)}, found {a_prim.name}")
        if b_prim is not None:
            assert isinstance(a, Defined)
            expected = b.name if isinstance(b, PrimType) else "primitive"
            raise Mismatch(f"expected {expected}, found {_found_desc(a)}")
        assert isinstance(a, Defined) and isinstance(b, Defined)
        if a.kind != b.kind:
            raise Mismatch(f"expected {_KIND_DESC.get(b.kind, b.kind)}, found {_found_desc(a)}")
        kind = a.kind
        if kind == "record":
            if len(a.items) != len(b.items):
                raise Mismatch(f"expected {len(b.items)} fields, found {len(a.items)}")
            for (an, at), (bn, bt) in zip(a.items, b.items, strict=False):
                if an != bn:
                    raise Mismatch(f"expected field name `{bn}`, found `{an}`")
                try:
                    self.val(at, bt)
                except Mismatch as m:
                    raise m.within(f"type mismatch in record field `{an}`") from None
        elif kind == "variant":
            if len(a.items) != len(b.items):
                raise Mismatch(f"expected {len(b.items)} cases, found {len(a.items)}")
            for (an, at), (bn, bt) in zip(a.items, b.items, strict=False):
                if an != bn:
                    raise Mismatch(f"expected case named `{bn}`, found `{an}`")
                if (at is None) != (bt is None):
                    if bt is not None:
                        raise Mismatch(f"expected case `{an}` to have a type, found none")
                    raise Mismatch(f"expected case `{an}` to have no type")
                try:
                    self.val(at, bt)
                except Mismatch as m:
                    raise m.within(f"type mismatch in variant case `{an}`") from None
        elif kind == "tuple":
            if len(a.items) != len(b.items):
                raise Mismatch(f"expected {len(b.items)} types, found {len(a.items)}")
            for i, (at, bt) in enumerate(zip(a.items, b.items, strict=False)):
                try:
                    self.val(at, bt)
                except Mismatch as m:
                    raise m.within(f"type mismatch in tuple field {i}") from None
        elif kind in ("flags", "enum"):
            if a.items != b.items:
                raise Mismatch(f"mismatch in {kind} elements")
        elif kind == "result":
            for which, at, bt in (("ok", a.items[0], b.items[0]), ("err", a.items[1], b.items[1])):
                if at is None and bt is not None:
                    raise Mismatch(f"expected {which} type, but found none")
                if at is not None and bt is None:
                    raise Mismatch(f"expected {which} type to not be present")
                try:
                    self.val(at, bt)
                except Mismatch as m:
                    raise m.within(f"type mismatch in {which} variant") from None
        elif kind in ("own", "borrow"):
            self.resource(a.items[0].resource, b.items[0].resource)
        elif kind == "fixed-list":
            if a.items[1] != b.items[1]:
                raise Mismatch(f"expected fixed-length {b.items[1]}, found size {a.items[1]}")
            self.val(a.items[0], b.items[0])
        elif kind in ("stream", "future"):
            at, bt = a.items[0], b.items[0]
            if at is None and bt is not None:
                raise Mismatch(f"expected {kind} type, but found none")
            if at is not None and bt is None:
                raise Mismatch(f"expected {kind} type to not be present")
            try:
                self.val(at, bt)
            except Mismatch as m:
                raise m.within(f"type mismatch in {kind}") from None
        elif kind == "map":
            for which, at, bt in (("key", a.items[0], b.items[0]), ("value", a.items[1], b.items[1])):
                try:
                    self.val(at, bt)
                except Mismatch as m:
                    raise m.within(f"type mismatch in map {which}") from None
        else:  # list, option
            self.val(a.items[0], b.items[0])

    def func(self, a: Func, b: Func) -> None:
        if a is b or self._seen(a, b):
            return
        self._func(a, b)
        self._passed(a, b)

    def _func(self, a: Func, b: Func) -> None:
        if a.is_async != b.is_async:
            raise Mismatch("async type mismatch")
        if len(a.params) != len(b.params):
            raise Mismatch(f"expected {len(b.params)} parameters, found {len(a.params)}")
        for (an, at), (bn, bt) in zip(a.params, b.params, strict=False):
            if an != bn:
                raise Mismatch(f"expected parameter named `{bn}`, found `{an}`")
            # Function types must match exactly, so wasmparser compares
            # parameters in the same direction as results (and its messages
            # say so).
            try:
                self.val(at, bt)
            except Mismatch as m:
                raise m.within(f"type mismatch in function parameter `{an}`") from None
        # wasmparser's wording, which names the actual side first.
        if a.result is not None and b.result is None:
            raise Mismatch("expected a result, found none")
        if a.result is None and b.result is not None:
            raise Mismatch("expected no result, found one")
        try:
            self.val(a.result, b.result)
        except Mismatch as m:
            raise m.within("type mismatch with result type") from None

    def entry(self, a: object, b: object) -> None:
        """Type-index entries (``type`` exports): equal-ish types."""
        if isinstance(a, ResourceEntry) or isinstance(b, ResourceEntry):
            if not (isinstance(a, ResourceEntry) and isinstance(b, ResourceEntry)):
                raise Mismatch("expected resource, found defined type"
                               if isinstance(b, ResourceEntry) else "expected defined type, found resource")
            self.resource(a.resource, b.resource)
            return
        if isinstance(a, (Defined, PrimType)) and isinstance(b, (Defined, PrimType)):
            self.val(a, b)
            self.flipped = not self.flipped
            try:
                self.val(b, a)
            finally:
                self.flipped = not self.flipped
            return
        if isinstance(a, Func) and isinstance(b, Func):
            self.func(a, b)
            return
        if isinstance(a, InstanceT) and isinstance(b, InstanceT):
            self.instance(a, b)
            return
        if isinstance(a, ComponentT) and isinstance(b, ComponentT):
            self.component(a, b)
            return
        raise Mismatch(f"expected {_entry_desc(b)}, found {_entry_desc(a)}")

    def entity(self, a: Entity, b: Entity) -> None:
        if a[0] != b[0]:
            raise Mismatch(f"expected {b[0]}, found {a[0]}")
        kind = a[0]
        if kind == "func":
            self.func(a[1], b[1])
        elif kind == "type":
            # Abstract expected resources bind to the actual resource on first sight.
            if isinstance(b[1], ResourceEntry) and isinstance(a[1], ResourceEntry):
                expected = b[1].resource
                if expected in self.open and expected not in self.resources:
                    self.resources[expected] = a[1].resource
                    self.resources.setdefault(a[1].resource, expected)
            self.entry(a[1], b[1])
        elif kind == "instance":
            self.instance(a[1], b[1])
        elif kind == "component":
            self.component(a[1], b[1])
        elif kind == "module":
            module_subtype(a[1], b[1])
        elif kind == "value":
            self.val(a[1], b[1])

    def instance(self, a: InstanceT, b: InstanceT) -> None:
        if self._seen(a, b):
            return
        self._instance(a, b)
        self._passed(a, b)

    def _instance(self, a: InstanceT, b: InstanceT) -> None:
        for name, expected in b.exports.items():
            actual = a.exports.get(name)
            if actual is None:
                raise Mismatch(f"missing expected export `{name}`")
            try:
                self.entity(actual, expected)
            except Mismatch as m:
                raise m.within(f"type mismatch in instance export `{name}`") from None

    def component(self, a: ComponentT, b: ComponentT) -> None:
        # Imports are contravariant: everything `a` imports must be provided by `b`'s imports.
        inner = Checker(dict(self.resources), set(self.open) | set(a.imported) | set(b.defined))
        for name, needed in a.imports.items():
            have = b.imports.get(name)
            if have is None:
                raise Mismatch(f"missing expected import `{name}`")
            try:
                inner.entity(have, needed)
            except Mismatch as m:
                raise m.within(f"type mismatch in import `{name}`") from None
        for name, expected in b.exports.items():
            actual = a.exports.get(name)
            if actual is None:
                raise Mismatch(f"missing expected export `{name}`")
            try:
                inner.entity(actual, expected)
            except Mismatch as m:
                raise m.within(f"type mismatch in export `{name}`") from None


def _entry_desc(e: object) -> str:
    if isinstance(e, Func):
        return "func"
    if isinstance(e, InstanceT):
        return "instance"
    if isinstance(e, ComponentT):
        return "component"
    if isinstance(e, ResourceEntry):
        return "resource"
    return "defined type"


# ----------------------------------------------------------------- core types


def core_extern_subtype(a: CoreExtern, b: CoreExtern) -> None:
    """``a`` (provided) must match ``b`` (required by an import)."""
    if a.kind != b.kind:
        raise Mismatch(f"expected {b.kind}, found {a.kind}")
    if not (a.known and b.known):
        return
    if a.kind in ("func", "tag"):
        if a.sig is not None and b.sig is not None and a.sig != b.sig:
            raise Mismatch(f"expected: {b.sig}\nfound:    {a.sig}")
    elif a.kind == "global":
        if a.mutable != b.mutable:
            raise Mismatch("global types differ in mutability")
        if a.content != b.content and _plain(a.content) and _plain(b.content):
            raise Mismatch(f"expected global type {b.content}, found {a.content}")
    elif a.kind == "table":
        if a.element != b.element and _plain(a.element) and _plain(b.element):
            raise Mismatch(f"expected table element type {b.element}, found {a.element}")
        if a.wide != b.wide or a.shared != b.shared or not _limits_ok(a, b):
            raise Mismatch("mismatch in table limits")
    elif a.kind == "memory":
        if a.shared != b.shared:
            raise Mismatch("mismatch in the shared flag for memories")
        if a.wide != b.wide:
            raise Mismatch("mismatch in index type used for memories")
        if not _limits_ok(a, b):
            raise Mismatch("mismatch in memory limits")


def _plain(t: str) -> bool:
    return t in ("i32", "i64", "f32", "f64", "v128", "funcref", "externref")


def _limits_ok(a: CoreExtern, b: CoreExtern) -> bool:
    if a.minimum < b.minimum:
        return False
    if b.maximum is None:
        return True
    return a.maximum is not None and a.maximum <= b.maximum


def module_subtype(a: ModuleT, b: ModuleT) -> None:
    if a.info is None or b.info is None:
        return
    provided = {(m, n): t for m, n, t in b.info.imports}
    for m, n, t in a.info.imports:
        have = provided.get((m, n))
        if have is None:
            raise Mismatch(f"missing expected import `{m}::{n}`")
        try:
            core_extern_subtype(have, t)
        except Mismatch as mm:
            raise mm.within(f"type mismatch in import `{m}::{n}`") from None
    for name, t in b.info.exports.items():
        have = a.info.exports.get(name)
        if have is None:
            raise Mismatch(f"missing expected export `{name}`")
        try:
            core_extern_subtype(have, t)
        except Mismatch as mm:
            raise mm.within(f"type mismatch in export `{name}`") from None


# ------------------------------------------------------------------ flattening

_FLAT_PRIM = {
    "bool": ("i32",), "s8": ("i32",), "u8": ("i32",), "s16": ("i32",), "u16": ("i32",),
    "s32": ("i32",), "u32": ("i32",), "char": ("i32",), "s64": ("i64",), "u64": ("i64",),
    "f32": ("f32",), "f64": ("f64",), "string": ("i32", "i32"), "error-context": ("i32",),
}


def _join(a: str, b: str) -> str:
    if a == b:
        return a
    if {a, b} == {"i32", "f32"}:
        return "i32"
    return "i64"


FLAT_CAP = 16
"""The most flat values any caller asks for (``MAX_FLAT_PARAMS``)."""


def flatten(t: ValT, limit: int, ptr: str = "i32") -> Optional[list[str]]:
    """The flat core types of ``t``, or None once more than ``limit`` are needed.

    Each defined type's flattening is computed once (per pointer width) and
    kept on its ``TypeInfo``, capped at :data:`FLAT_CAP` values, so a type
    reused many times (a doubling chain) costs one visit per definition.
    """
    if limit > FLAT_CAP:
        raise ValueError(f"flatten() supports limits up to {FLAT_CAP}")
    flat = _flat(t, ptr)
    if flat is None or len(flat) > limit:
        return None
    return list(flat)


def _flat(t: ValT, ptr: str) -> Optional[tuple[str, ...]]:
    if isinstance(t, PrimType):
        if t.name == "string":
            return (ptr, ptr)
        return _FLAT_PRIM.get(t.name, ("i32",))
    cache = t.info.flat
    if ptr in cache:
        return cache[ptr]
    result = _flat_defined(t, ptr)
    if result is not None and len(result) > FLAT_CAP:
        result = None
    cache[ptr] = result
    return result


def _flat_defined(t: Defined, ptr: str) -> Optional[tuple[str, ...]]:
    kind, items = t.kind, t.items
    if kind == "prim":
        return _flat(items[0], ptr)
    if kind in ("list", "map"):
        return (ptr, ptr)
    parts: list[ValT]
    if kind == "fixed-list":
        element = _flat(items[0], ptr)
        if element is None or len(element) * items[1] > FLAT_CAP:
            return None
        return element * items[1]
    if kind in ("record", "tuple"):
        parts = [x for _, x in items] if kind == "record" else list(items)
        out: list[str] = []
        for x in parts:
            sub = _flat(x, ptr)
            if sub is None:
                return None
            out.extend(sub)
            if len(out) > FLAT_CAP:
                return None
        return tuple(out)
    if kind in ("variant", "option", "result"):
        payloads = [x for _, x in items] if kind == "variant" else list(items) if kind == "result" else [items[0]]
        joined: list[str] = []
        for p in payloads:
            if p is None:
                continue
            sub = _flat(p, ptr)
            if sub is None:
                return None
            for i, c in enumerate(sub):
                if i < len(joined):
                    joined[i] = _join(joined[i], c)
                else:
                    joined.append(c)
        return ("i32", *joined)
    return ("i32",)  # flags, enum, own, borrow, stream, future
