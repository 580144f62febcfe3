"""The abstract resource types of the root component's imports.

A ``(sub resource)`` declared in an instance type stands for a new resource
type each time that type is imported, as wasmparser does when it checks an
import: two imports of one declared instance type have two resource types,
each to be defined with ``add_resource``.  The declarations mint a
``ResourceIdentity`` once (``TypeSpace.declared_resources`` records which);
``ImportedResources.fresh`` gives every import after the first its own copies.

An ``(eq $r)`` bound mints nothing: it names the type of an earlier import,
which is why it needs no definition in the linker (``runtime.typecheck``).

    >>> from wasmcomponent.types import model
    >>> r = model.ResourceIdentity("r")
    >>> t = model.InstanceType({"r": model.TypeBound(resource=r)})
    >>> imports = ImportedResources({id(t): (t, (r,))})
    >>> imports.fresh(t) is t
    True
    >>> again = imports.fresh(t)
    >>> again.exports["r"].resource is r
    False
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..types import model

Declared = dict[int, tuple[model.InstanceType, tuple[model.ResourceIdentity, ...]]]


class ImportedResources:
    """The abstract resource types the root component's imports have introduced so far."""

    def __init__(self, declared: Declared) -> None:
        self.declared = declared
        self.taken: set[model.ResourceIdentity] = set()

    def fresh(self, extern: model.ExternType) -> model.ExternType:
        """``extern`` as a new root import sees it: itself, unless an earlier import took its resources."""
        minted: list[model.ResourceIdentity] = []
        self._collect(extern, minted, set())
        copies: dict[model.ResourceIdentity, model.ResourceIdentity] = {}
        for identity in minted:
            if identity in self.taken and identity not in copies:
                copy = model.ResourceIdentity(identity.name)
                copy.rep = identity.rep
                copies[identity] = copy
        self.taken.update(minted)
        if not copies:
            return extern
        self.taken.update(copies.values())
        return Substitution(copies).extern(extern)

    def _collect(self, extern: object, out: list[model.ResourceIdentity], seen: set[int]) -> None:
        """The identities declared by ``extern`` and the instance types in it (each visited once)."""
        if not isinstance(extern, model.InstanceType) or id(extern) in seen:
            return
        seen.add(id(extern))
        found = self.declared.get(id(extern))
        if found is not None and found[0] is extern:
            out.extend(found[1])
        for export in extern.exports.values():
            self._collect(export, out, seen)


class Substitution:
    """Resource identities replaced throughout a type; a node shared in the type is rebuilt once."""

    def __init__(self, mapping: dict[model.ResourceIdentity, model.ResourceIdentity]) -> None:
        self.mapping = mapping
        # id(node) -> (node, rebuilt); the node is kept so that its id stays unique.
        self.memo: dict[int, tuple[object, object]] = {}

    def resource(self, identity: model.ResourceIdentity) -> model.ResourceIdentity:
        return self.mapping.get(identity, identity)

    def _once(self, node: object, build: Callable[[], Any]) -> Any:
        """``build()``, once per node (the rebuilt node is of the same kind)."""
        found = self.memo.get(id(node))
        if found is None:
            found = self.memo[id(node)] = (node, build())
        return found[1]

    def extern(self, t: model.ExternType) -> model.ExternType:
        if isinstance(t, model.InstanceType):
            exports = t.exports
            return self._once(t, lambda: model.InstanceType({n: self.extern(e) for n, e in exports.items()}))
        if isinstance(t, model.FuncType):
            func = t
            return self._once(
                t,
                lambda: model.FuncType(
                    tuple((n, self.value(v)) for n, v in func.params), self.maybe(func.result), func.is_async
                ),
            )
        if isinstance(t, model.TypeBound):
            if t.resource is not None:
                return model.TypeBound(resource=self.resource(t.resource))
            return t if t.eq is None else model.TypeBound(eq=self.value(t.eq))
        if isinstance(t, (model.CoreModuleType, model.ComponentType)):
            return t  # core modules have no resources; component imports are refused
        return self.value(t)

    def maybe(self, v: Optional[model.ValType]) -> Optional[model.ValType]:
        return None if v is None else self.value(v)

    def value(self, v: model.ValType) -> model.ValType:
        if isinstance(v, (model.PrimType, model.EnumType, model.FlagsType)):
            return v
        return self._once(v, lambda: self._rebuild(v))

    def _rebuild(self, v: model.ValType) -> model.ValType:
        value, maybe = self.value, self.maybe
        if isinstance(v, model.OwnType):
            return model.OwnType(self.resource(v.resource))
        if isinstance(v, model.BorrowType):
            return model.BorrowType(self.resource(v.resource))
        if isinstance(v, model.ListType):
            return model.ListType(value(v.element), v.length)
        if isinstance(v, model.RecordType):
            return model.RecordType(tuple((n, value(f)) for n, f in v.fields))
        if isinstance(v, model.TupleType):
            return model.TupleType(tuple(value(e) for e in v.elements))
        if isinstance(v, model.VariantType):
            return model.VariantType(tuple((n, maybe(c)) for n, c in v.variant_cases))
        if isinstance(v, model.OptionType):
            return model.OptionType(value(v.payload))
        if isinstance(v, model.ResultType):
            return model.ResultType(maybe(v.ok), maybe(v.err))
        if isinstance(v, model.StreamType):
            return model.StreamType(maybe(v.payload))
        if isinstance(v, model.FutureType):
            return model.FutureType(maybe(v.payload))
        if isinstance(v, model.MapType):
            return model.MapType(value(v.key), value(v.value))
        return v
