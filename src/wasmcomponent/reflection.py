"""Public type reflection, wasmcomponent's or wasmtime-py's, translated to the type model.

The command line works on :mod:`wasmcomponent.types.model` (WAVE parsing,
WIT printing, name lookup).  With wasmcomponent, ``Component.type`` and the
reflection views carry their model node (``_model``) and are used as they
are.  wasmtime-py's objects (the CLI's ``WASMCOMPONENT_CLI_BACKEND=wasmtime``
reference backend) are read through the public attributes both APIs share:
class names, ``params``/``result``, ``fields``, ``cases``, ``imports(engine)``
and so on.  Each distinct ``ResourceType`` (compared with ``==``) becomes one
model identity, named after the type export where it is first met.

Example::

    >>> from wasmcomponent.runtime.types import valtype_from_model
    >>> model_valtype(valtype_from_model(model.ListType(model.U8)))
    ListType(element=PrimType(name='u8'), length=None)
"""

from __future__ import annotations

from typing import Any

import wasmtime

from .errors import UnsupportedError
from .types import model

__all__ = ["model_valtype", "model_functype", "model_component_type"]


_PRIMITIVE_CLASS_NAMES: dict[str, model.PrimType] = {
    "Bool": model.BOOL,
    "S8": model.S8,
    "S16": model.S16,
    "S32": model.S32,
    "S64": model.S64,
    "U8": model.U8,
    "U16": model.U16,
    "U32": model.U32,
    "U64": model.U64,
    "F32": model.F32,
    "F64": model.F64,
    "Char": model.CHAR,
    "String": model.STRING,
    "ErrorContext": model.ERROR_CONTEXT,
}


class _Reflection:
    """Translates one backend's public reflection objects to the model.

    Resource types become model identities, one per distinct ``ResourceType``
    (compared with ``==``, which both APIs define), named after the type
    export where first met.
    """

    def __init__(self) -> None:
        self._resources: list[tuple[Any, model.ResourceIdentity]] = []

    def resource(self, ty: Any, name: str = "") -> model.ResourceIdentity:
        own = getattr(ty, "_identity", None)
        if isinstance(own, model.ResourceIdentity):
            return own
        for seen, identity in self._resources:
            if seen == ty:
                return identity
        identity = model.ResourceIdentity(name or "resource")
        self._resources.append((ty, identity))
        return identity

    def optional(self, ty: Any) -> model.ValType | None:
        return None if ty is None else self.valtype(ty)

    def valtype(self, ty: Any) -> model.ValType:
        own = getattr(ty, "_model", None)
        if own is not None and type(ty).__module__.startswith("wasmcomponent."):
            result: model.ValType = own
            return result
        kind = type(ty).__name__
        prim = _PRIMITIVE_CLASS_NAMES.get(kind)
        if prim is not None:
            return prim
        if kind == "ListType":
            return model.ListType(self.valtype(ty.element))
        if kind == "RecordType":
            return model.RecordType(tuple((n, self.valtype(t)) for n, t in ty.fields))
        if kind == "TupleType":
            return model.TupleType(tuple(self.valtype(t) for t in ty.elements))
        if kind == "VariantType":
            return model.VariantType(tuple((n, self.optional(t)) for n, t in ty.cases))
        if kind == "EnumType":
            return model.EnumType(tuple(ty.names))
        if kind == "OptionType":
            return model.OptionType(self.valtype(ty.payload))
        if kind == "ResultType":
            return model.ResultType(self.optional(ty.ok), self.optional(ty.err))
        if kind == "FlagsType":
            return model.FlagsType(tuple(ty.names))
        if kind == "OwnType":
            return model.OwnType(self.resource(ty.ty))
        if kind == "BorrowType":
            return model.BorrowType(self.resource(ty.ty))
        if kind == "StreamType":
            return model.StreamType(self.optional(ty.payload))
        if kind == "FutureType":
            return model.FutureType(self.optional(ty.payload))
        raise UnsupportedError(f"unsupported value type `{kind}`")

    def functype(self, ty: Any) -> model.FuncType:
        own = getattr(ty, "_model", None)
        if isinstance(own, model.FuncType):
            return own
        params = tuple((name, self.valtype(t)) for name, t in ty.params)
        return model.FuncType(params, self.optional(ty.result))

    def item(self, name: str, ty: Any, engine: wasmtime.Engine) -> model.ExternType:
        kind = type(ty).__name__
        if kind == "FuncType":
            return self.functype(ty)
        if kind == "ComponentInstanceType":
            return model.InstanceType(self.externs(ty.exports(engine), engine))
        if kind == "ComponentType":
            return self.component(ty, engine)
        if kind == "ModuleType":
            return model.CoreModuleType((), ())  # core signatures are not shown by `inspect`
        if kind == "ResourceType":
            return model.TypeBound(resource=self.resource(ty, name))
        return model.TypeBound(eq=self.valtype(ty))

    def externs(self, items: Any, engine: wasmtime.Engine) -> dict[str, model.ExternType]:
        return {name: self.item(name, extern.ty, engine) for name, extern in items.items()}

    def component(self, ty: Any, engine: wasmtime.Engine) -> model.ComponentType:
        own = getattr(ty, "_model", None)
        if isinstance(own, model.ComponentType):
            return own
        return model.ComponentType(self.externs(ty.imports(engine), engine), self.externs(ty.exports(engine), engine))


def model_valtype(ty: Any) -> model.ValType:
    """The model type of a public ``ValType`` from wasmcomponent or wasmtime-py.

    Our own views carry their model node; wasmtime-py's are read through the
    attributes both APIs share.  Resource types become fresh identities (only
    their shape matters to WAVE, which has no resource values).
    """
    return _Reflection().valtype(ty)


def model_functype(ty: Any) -> model.FuncType:
    """The model type of a public ``FuncType`` from wasmcomponent or wasmtime-py."""
    return _Reflection().functype(ty)


def model_component_type(ty: Any, engine: wasmtime.Engine) -> model.ComponentType:
    """The model of a public ``ComponentType`` (``Component.type``) from wasmcomponent or wasmtime-py.

    wasmcomponent's carries its model; wasmtime-py's is rebuilt from
    ``imports(engine)``/``exports(engine)``: functions, instances, nested
    components, resources (``TypeBound(resource=...)``) and type exports
    (``TypeBound(eq=...)``).  Core module types are left empty.
    """
    return _Reflection().component(ty, engine)
