"""Public type reflection: the classes of wasmtime-py 50's ``wasmtime.component._types``.

Every public type here is a thin, immutable *view* over a node of the frozen
type model (:mod:`wasmcomponent.types.model`).  The view is cheap to create and
never copies anything: properties such as ``ListType.element`` build child views
on demand.  Reflection only — converting Python values lives in
:mod:`wasmcomponent.types.values`.

Compatibility with wasmtime-py 50:

* Primitive types (``Bool()``, ``U32()``, ...) are fieldless dataclasses, equal
  to every other instance of their class, and may be built directly.
* Compound value types (``ListType``, ``RecordType``, ...) compare
  structurally, as wasmtime's ``PartialEq`` does (resource types inside compare
  by identity).  Building them directly raises ``WasmtimeError``.
* ``OwnType(ty)`` / ``BorrowType(ty)`` hold the ``ResourceType`` in ``.ty``.
* ``FuncType``, ``ComponentType``, ``ComponentInstanceType``, ``ModuleType`` and
  ``ComponentExtern`` cannot be built directly and compare by identity.
* Those and the compound value types have ``close()`` and ``with`` (see
  :mod:`.managed`); a closed view raises ``ValueError("already closed")`` when
  used.  Closing a view never affects the component it came from.
* ``ValType.add_classes(s)`` adds the Python classes of the type's values to
  ``s``, as wasmtime-py's (``types.values.python_classes``).
* Divergences: views are hashable (wasmtime-py's are not); a ``MapType`` view
  exists for the gated ``map`` type; ``StreamType.payload`` / ``FutureType.payload``
  return ``None`` for payload-less streams and futures; ``ModuleType`` returns
  :class:`ModuleImport` / :class:`ModuleExport` named tuples instead of core
  ``wasmtime.ImportType`` / ``ExportType`` (those can only be created by the
  native library); their ``.type`` is the core ``wasmtime.FuncType``,
  ``GlobalType``, ``MemoryType``, ``TableType`` or ``TagType``, or the model's
  ``CoreExternType`` for value types wasmtime-py cannot name (``v128``, GC refs).

Example::

    >>> from wasmcomponent.types import model
    >>> ty = valtype_from_model(model.ListType(model.U8))
    >>> ty.element == U8()
    True
    >>> ty == valtype_from_model(model.ListType(model.U8))
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, NamedTuple, TypeVar, Union

import wasmtime
from wasmtime import Engine, WasmtimeError

from ..types import model
from .managed import Managed, guarded
from .resources import ResourceType

__all__ = [
    "ComponentType",
    "ComponentInstanceType",
    "ModuleType",
    "ModuleImport",
    "ModuleExport",
    "ComponentExtern",
    "ComponentItem",
    "ExternData",
    "FuncType",
    "ValType",
    "Bool",
    "U8",
    "U16",
    "U32",
    "U64",
    "S8",
    "S16",
    "S32",
    "S64",
    "F32",
    "F64",
    "Char",
    "String",
    "ErrorContext",
    "ListType",
    "RecordType",
    "TupleType",
    "VariantLikeType",
    "VariantType",
    "EnumType",
    "OptionType",
    "ResultType",
    "FlagsType",
    "StreamType",
    "FutureType",
    "MapType",
    "OwnType",
    "BorrowType",
    "valtype_from_model",
    "valtype_to_model",
    "functype_from_model",
    "component_type_from_model",
    "instance_type_from_model",
    "module_type_from_model",
    "extern_item_from_model",
]


def _no_construct(name: str) -> WasmtimeError:
    return WasmtimeError(f"Cannot directly construct a `{name}`")


# ------------------------------------------------------------------ value types


class ValType:
    """Base class of every component value type."""

    __slots__ = ()

    @property
    def _model(self) -> model.ValType:
        """The model type this view stands for."""
        raise NotImplementedError

    def add_classes(self, s: set[type]) -> None:
        """Adds to ``s`` the Python classes that values of this type are (wasmtime-py's API)."""
        from .values import python_classes

        s.update(python_classes(self._model))


_PrimClass = TypeVar("_PrimClass", bound=type)


def _prim(model_type: model.PrimType) -> Callable[[_PrimClass], _PrimClass]:
    """Class decorator: a fieldless, frozen dataclass view of one primitive type."""

    def wrap(cls: _PrimClass) -> _PrimClass:
        dataclass(frozen=True)(cls)  # adds __init__/__eq__/__hash__ in place
        cls._model = property(lambda self: model_type)  # type: ignore[attr-defined]
        return cls

    return wrap


@_prim(model.BOOL)
class Bool(ValType):
    """The ``bool`` type."""


@_prim(model.S8)
class S8(ValType):
    """The ``s8`` type."""


@_prim(model.S16)
class S16(ValType):
    """The ``s16`` type."""


@_prim(model.S32)
class S32(ValType):
    """The ``s32`` type."""


@_prim(model.S64)
class S64(ValType):
    """The ``s64`` type."""


@_prim(model.U8)
class U8(ValType):
    """The ``u8`` type."""


@_prim(model.U16)
class U16(ValType):
    """The ``u16`` type."""


@_prim(model.U32)
class U32(ValType):
    """The ``u32`` type."""


@_prim(model.U64)
class U64(ValType):
    """The ``u64`` type."""


@_prim(model.F32)
class F32(ValType):
    """The ``f32`` type."""


@_prim(model.F64)
class F64(ValType):
    """The ``f64`` type."""


@_prim(model.CHAR)
class Char(ValType):
    """The ``char`` type (a one-character ``str`` in Python)."""


@_prim(model.STRING)
class String(ValType):
    """The ``string`` type."""


@_prim(model.ERROR_CONTEXT)
class ErrorContext(ValType):
    """The ``error-context`` type (async ABI; reflected only)."""


_PRIM_CLASSES: dict[str, type] = {
    "bool": Bool,
    "s8": S8,
    "s16": S16,
    "s32": S32,
    "s64": S64,
    "u8": U8,
    "u16": U16,
    "u32": U32,
    "u64": U64,
    "f32": F32,
    "f64": F64,
    "char": Char,
    "string": String,
    "error-context": ErrorContext,
}


class _View(ValType, Managed):
    """A compound value type: a view over one model node, compared structurally."""

    __slots__ = ("_node_",)
    _managed_slots = ("_node_",)
    _node_: Any  # the model node, or ``CLOSED``
    _node = guarded[Any]("_node_")

    def __init__(self) -> None:
        raise _no_construct(type(self).__name__)

    @classmethod
    def _from_model(cls, node: Any) -> Any:
        view = cls.__new__(cls)
        object.__setattr__(view, "_node", node)
        return view

    @property
    def _model(self) -> model.ValType:
        node: model.ValType = self._node
        return node

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"`{type(self).__name__}` is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        return bool(self._node == other._node)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._node))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._node_!r})"


class ListType(_View):
    """``list<T>`` (``list<u8>`` is ``bytes`` in Python)."""

    __slots__ = ()

    @property
    def element(self) -> ValType:
        """The element type."""
        return valtype_from_model(self._node.element)


class RecordType(_View):
    """``record { name: T, ... }``."""

    __slots__ = ()

    @property
    def fields(self) -> list[tuple[str, ValType]]:
        """The fields, in declaration order, as ``(name, type)`` pairs."""
        return [(name, valtype_from_model(ty)) for name, ty in self._node.fields]


class TupleType(_View):
    """``tuple<T, ...>``."""

    __slots__ = ()

    @property
    def elements(self) -> list[ValType]:
        """The element types, in order."""
        return [valtype_from_model(ty) for ty in self._node.elements]


class VariantLikeType(_View):
    """Base of the types with cases: variant, enum-like option and result."""

    __slots__ = ()

    def _cases(self) -> list[tuple[str, ValType | None]]:
        return [(name, _optional_view(ty)) for name, ty in self._node.cases()]


class VariantType(VariantLikeType):
    """``variant { case(T), case, ... }``."""

    __slots__ = ()

    @property
    def cases(self) -> list[tuple[str, ValType | None]]:
        """The cases as ``(name, payload type or None)`` pairs."""
        return self._cases()


class EnumType(_View):
    """``enum { a, b, ... }`` (a ``str`` in Python)."""

    __slots__ = ()

    @property
    def names_count(self) -> int:
        """The number of cases."""
        return len(self._node.names)

    def name(self, n: int) -> str | None:
        """The ``n``-th case name, or ``None`` if out of range."""
        names: tuple[str, ...] = self._node.names
        if 0 <= n < len(names):
            return names[n]
        return None

    @property
    def names(self) -> list[str]:
        """The case names, in order."""
        return list(self._node.names)


class OptionType(VariantLikeType):
    """``option<T>``."""

    __slots__ = ()

    @property
    def payload(self) -> ValType:
        """The type of the ``some`` payload."""
        return valtype_from_model(self._node.payload)


class ResultType(VariantLikeType):
    """``result<T, E>``; either side may be absent."""

    __slots__ = ()

    @property
    def ok(self) -> ValType | None:
        """The ``ok`` payload type, if any."""
        return _optional_view(self._node.ok)

    @property
    def err(self) -> ValType | None:
        """The ``err`` payload type, if any."""
        return _optional_view(self._node.err)


class FlagsType(_View):
    """``flags { a, b, ... }`` (a ``set[str]`` in Python)."""

    __slots__ = ()

    @property
    def names(self) -> list[str]:
        """The flag names, in order."""
        return list(self._node.names)


class StreamType(_View):
    """``stream<T>`` (async ABI; reflected only)."""

    __slots__ = ()

    @property
    def payload(self) -> ValType | None:
        """The element type, or ``None`` for a payload-less ``stream``."""
        return _optional_view(self._node.payload)


class FutureType(_View):
    """``future<T>`` (async ABI; reflected only)."""

    __slots__ = ()

    @property
    def payload(self) -> ValType | None:
        """The value type, or ``None`` for a payload-less ``future``."""
        return _optional_view(self._node.payload)


class MapType(_View):
    """``map<K, V>`` (gated feature; not in wasmtime-py 50)."""

    __slots__ = ()

    @property
    def key(self) -> ValType:
        """The key type."""
        return valtype_from_model(self._node.key)

    @property
    def value(self) -> ValType:
        """The value type."""
        return valtype_from_model(self._node.value)


def _resource_type_from_identity(identity: model.ResourceIdentity) -> ResourceType:
    """The public ``ResourceType`` for ``identity``."""
    return ResourceType._from_identity(identity)


def _resource_identity(resource_type: Any) -> model.ResourceIdentity:
    """The model identity behind a public ``ResourceType``."""
    if isinstance(resource_type, ResourceType):
        identity: model.ResourceIdentity = resource_type._identity  # type: ignore[attr-defined]
        return identity
    raise TypeError(f"expected a `ResourceType`, got {type(resource_type).__name__}")


class _HandleType(ValType):
    """Shared shape of ``own<R>`` and ``borrow<R>``: ``.ty`` is the resource type."""

    __slots__ = ("ty",)

    def __init__(self, ty: ResourceType) -> None:
        self.ty = ty

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        return bool(self.ty == other.ty)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.ty))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ty={self.ty!r})"


class OwnType(_HandleType):
    """``own<R>``: an owned handle to resource type ``ty``."""

    __slots__ = ()

    @property
    def _model(self) -> model.ValType:
        return model.OwnType(_resource_identity(self.ty))


class BorrowType(_HandleType):
    """``borrow<R>``: a borrowed handle to resource type ``ty``."""

    __slots__ = ()

    @property
    def _model(self) -> model.ValType:
        return model.BorrowType(_resource_identity(self.ty))


_VIEW_CLASSES: dict[type, type] = {
    model.ListType: ListType,
    model.RecordType: RecordType,
    model.TupleType: TupleType,
    model.VariantType: VariantType,
    model.EnumType: EnumType,
    model.OptionType: OptionType,
    model.ResultType: ResultType,
    model.FlagsType: FlagsType,
    model.StreamType: StreamType,
    model.FutureType: FutureType,
    model.MapType: MapType,
}


def valtype_from_model(ty: model.ValType) -> ValType:
    """The public view of the model value type ``ty``."""
    if isinstance(ty, model.PrimType):
        prim_cls = _PRIM_CLASSES.get(ty.name)
        if prim_cls is None:
            raise TypeError(f"unknown primitive type `{ty.name}`")
        prim: ValType = prim_cls()
        return prim
    if isinstance(ty, model.OwnType):
        return OwnType(_resource_type_from_identity(ty.resource))
    if isinstance(ty, model.BorrowType):
        return BorrowType(_resource_type_from_identity(ty.resource))
    view_cls = _VIEW_CLASSES.get(type(ty))
    if view_cls is None:
        raise TypeError(f"not a value type: {ty!r}")
    view: ValType = view_cls._from_model(ty)  # type: ignore[attr-defined]
    return view


def valtype_to_model(ty: ValType) -> model.ValType:
    """The model type behind the public view ``ty``."""
    if not isinstance(ty, ValType):
        raise TypeError(f"expected a `ValType`, got {type(ty).__name__}")
    return ty._model


def _optional_view(ty: model.ValType | None) -> ValType | None:
    return None if ty is None else valtype_from_model(ty)


# ------------------------------------------------------------- function types


class FuncType(Managed):
    """The type of a component function: named parameters and an optional result."""

    __slots__ = ("_node_",)
    _managed_slots = ("_node_",)
    _node = guarded[model.FuncType]("_node_")

    def __init__(self) -> None:
        raise _no_construct("FuncType")

    @classmethod
    def _from_model(cls, node: model.FuncType) -> FuncType:
        view = cls.__new__(cls)
        view._node = node
        return view

    @property
    def _model(self) -> model.FuncType:
        return self._node

    @property
    def params(self) -> list[tuple[str, ValType]]:
        """The parameters as ``(name, type)`` pairs."""
        return [(name, valtype_from_model(ty)) for name, ty in self._node.params]

    @property
    def result(self) -> ValType | None:
        """The result type, or ``None`` for a function without a result."""
        return _optional_view(self._node.result)

    def __repr__(self) -> str:
        if self._is_closed():
            return "FuncType(<closed>)"
        return f"FuncType(params={self.params!r}, result={self.result!r})"


def functype_from_model(ty: model.FuncType) -> FuncType:
    """The public view of the model function type ``ty``."""
    return FuncType._from_model(ty)


# ------------------------------------------------------------ component items


@dataclass(frozen=True)
class ExternData:
    """Annotations on an import/export name: ``(implements "..")`` and ``(external-id "..")``."""

    implements: str | None = None
    external_id: str | None = None


_NO_DATA = ExternData()


class ComponentType(Managed):
    """The type of a component: its imports and exports."""

    __slots__ = ("_node_", "_import_data", "_export_data")
    _managed_slots = ("_node_",)
    _node = guarded[model.ComponentType]("_node_")
    _import_data: Mapping[str, ExternData]
    _export_data: Mapping[str, ExternData]

    def __init__(self) -> None:
        raise _no_construct("ComponentType")

    @classmethod
    def _from_model(
        cls,
        node: model.ComponentType,
        import_data: Mapping[str, ExternData] | None = None,
        export_data: Mapping[str, ExternData] | None = None,
    ) -> ComponentType:
        view = cls.__new__(cls)
        view._node = node
        view._import_data = import_data or {}
        view._export_data = export_data or {}
        return view

    @property
    def _model(self) -> model.ComponentType:
        return self._node

    def imports(self, engine: Engine) -> dict[str, ComponentExtern]:
        """The imports of this component type, by name, in declaration order."""
        return _externs(self._node.imports, self._import_data)

    def exports(self, engine: Engine) -> dict[str, ComponentExtern]:
        """The exports of this component type, by name, in declaration order."""
        return _externs(self._node.exports, self._export_data)


class ComponentInstanceType(Managed):
    """The type of a component instance: its exports."""

    __slots__ = ("_node_", "_export_data")
    _managed_slots = ("_node_",)
    _node = guarded[model.InstanceType]("_node_")
    _export_data: Mapping[str, ExternData]

    def __init__(self) -> None:
        raise _no_construct("ComponentInstanceType")

    @classmethod
    def _from_model(
        cls, node: model.InstanceType, export_data: Mapping[str, ExternData] | None = None
    ) -> ComponentInstanceType:
        view = cls.__new__(cls)
        view._node = node
        view._export_data = export_data or {}
        return view

    @property
    def _model(self) -> model.InstanceType:
        return self._node

    def exports(self, engine: Engine) -> dict[str, ComponentExtern]:
        """The exports of this instance type, by name, in declaration order."""
        return _externs(self._node.exports, self._export_data)


class ModuleImport(NamedTuple):
    """One import of a core module type (stands in for ``wasmtime.ImportType``)."""

    module: str
    name: str
    type: Any


class ModuleExport(NamedTuple):
    """One export of a core module type (stands in for ``wasmtime.ExportType``)."""

    name: str
    type: Any


_CORE_VALTYPES: dict[str, Callable[[], wasmtime.ValType]] = {
    "i32": wasmtime.ValType.i32,
    "i64": wasmtime.ValType.i64,
    "f32": wasmtime.ValType.f32,
    "f64": wasmtime.ValType.f64,
    "funcref": wasmtime.ValType.funcref,
    "externref": wasmtime.ValType.externref,
}


def _core_functype(func: Any) -> wasmtime.FuncType | None:
    """The ``wasmtime.FuncType`` of a model ``CoreFuncType``, if wasmtime-py can name its value types."""
    if not isinstance(func, model.CoreFuncType):
        return None
    if not all(name in _CORE_VALTYPES for name in func.params + func.results):
        return None
    params = [_CORE_VALTYPES[name]() for name in func.params]
    results = [_CORE_VALTYPES[name]() for name in func.results]
    return wasmtime.FuncType(params, results)


def _core_extern(ty: model.CoreExternType) -> Any:
    """The core ``wasmtime`` type of a module import/export, as wasmtime-py's ``ModuleType`` gives.

    ``detail`` is laid out as ``translate.types`` and ``_engine.core`` build it;
    anything wasmtime-py's constructors cannot express stays the model's ``ty``.
    """
    try:
        return _core_extern_native(ty)
    except (wasmtime.WasmtimeError, ValueError, TypeError):  # limits wasmtime-py refuses
        return ty


def _core_extern_native(ty: model.CoreExternType) -> Any:
    detail: Any = ty.detail
    if ty.kind == "func":
        return _core_functype(ty.func) or ty
    if ty.kind == "tag":
        func = _core_functype(detail)
        return ty if func is None else wasmtime.TagType(func)
    if ty.kind == "global" and isinstance(detail, tuple) and detail[0] in _CORE_VALTYPES:
        content, mutable = detail
        return wasmtime.GlobalType(_CORE_VALTYPES[content](), bool(mutable))
    if ty.kind == "memory" and isinstance(detail, tuple):
        minimum, maximum, is_64, shared = detail
        return wasmtime.MemoryType(wasmtime.Limits(minimum, maximum), is_64=bool(is_64), shared=bool(shared))
    if ty.kind == "table" and isinstance(detail, tuple) and detail[0] in _CORE_VALTYPES:
        element, minimum, maximum = detail
        return wasmtime.TableType(_CORE_VALTYPES[element](), wasmtime.Limits(minimum, maximum))
    return ty


class ModuleType(Managed):
    """The type of a core module: its imports and exports."""

    __slots__ = ("_node_",)
    _managed_slots = ("_node_",)
    _node = guarded[model.CoreModuleType]("_node_")

    def __init__(self) -> None:
        raise _no_construct("ModuleType")

    @classmethod
    def _from_model(cls, node: model.CoreModuleType) -> ModuleType:
        view = cls.__new__(cls)
        view._node = node
        return view

    @property
    def _model(self) -> model.CoreModuleType:
        return self._node

    def imports(self, engine: Engine) -> list[ModuleImport]:
        """The imports, in order, as ``(module, name, type)``."""
        return [ModuleImport(m, n, _core_extern(t)) for m, n, t in self._node.imports]

    def exports(self, engine: Engine) -> list[ModuleExport]:
        """The exports, in order, as ``(name, type)``."""
        return [ModuleExport(n, _core_extern(t)) for n, t in self._node.exports]


ComponentItem = Union[
    ComponentType, ModuleType, ComponentInstanceType, ResourceType, ValType, FuncType
]
"""What an import or export is."""


def extern_item_from_model(ty: model.ExternType) -> ComponentItem:
    """The public view of one import/export type (a ``ComponentItem``)."""
    if isinstance(ty, model.FuncType):
        return FuncType._from_model(ty)
    if isinstance(ty, model.InstanceType):
        return ComponentInstanceType._from_model(ty)
    if isinstance(ty, model.ComponentType):
        return ComponentType._from_model(ty)
    if isinstance(ty, model.CoreModuleType):
        return ModuleType._from_model(ty)
    if isinstance(ty, model.TypeBound):
        if ty.resource is not None:
            return _resource_type_from_identity(ty.resource)
        if ty.eq is not None:
            # A named type may be a value type or an instance/component/func type.
            return extern_item_from_model(ty.eq)
        raise TypeError("type bound without a type")
    return valtype_from_model(ty)


class ComponentExtern(Managed):
    """An import or export of a component (instance) type: its item and annotations."""

    __slots__ = ("_node_", "_data_")
    _managed_slots = ("_node_", "_data_")
    _node = guarded[model.ExternType]("_node_")
    _data = guarded[ExternData]("_data_")

    def __init__(self) -> None:
        raise _no_construct("ComponentExtern")

    @classmethod
    def _from_model(cls, node: model.ExternType, data: ExternData = _NO_DATA) -> ComponentExtern:
        view = cls.__new__(cls)
        view._node = node
        view._data = data
        return view

    @property
    def ty(self) -> ComponentItem:
        """The item's type: a ``ComponentItem``."""
        return extern_item_from_model(self._node)

    @property
    def implements(self) -> str | None:
        """The ``(implements "...")`` annotation, if present."""
        return self._data.implements

    @property
    def external_id(self) -> str | None:
        """The ``(external-id "...")`` annotation, if present."""
        return self._data.external_id

    def is_implements(self, name: str) -> bool:
        """Whether the ``implements`` annotation is ``name`` or a semver-compatible version of it.

        >>> e = ComponentExtern._from_model(model.U8, ExternData(implements="a:b/c@1.1.0"))
        >>> e.is_implements("a:b/c@1.0.0"), e.is_implements("a:b/c@2.0.0")
        (True, False)
        """
        implements = self._data.implements
        if implements is None:
            return False
        if implements == name:
            return True
        ours, theirs = _semver_track(implements), _semver_track(name)
        return ours is not None and ours == theirs

    def __repr__(self) -> str:
        if self._is_closed():
            return "ComponentExtern(<closed>)"
        return f"ComponentExtern(ty={self.ty!r}, implements={self.implements!r})"


def _semver_track(name: str) -> str | None:
    """The name up to its semver-compatible version prefix, or ``None``.

    ``a:b/c@1.2.3`` -> ``a:b/c@1``; ``a:b/c@0.2.3`` -> ``a:b/c@0.2``; ``0.0.x``,
    prereleases and unversioned names have no compatible track.
    """
    base, at, version = name.partition("@")
    if not at:
        return None
    core, _, _build = version.partition("+")
    if "-" in core:
        return None
    parts = core.split(".")
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
        return None
    if any(len(p) > 1 and p.startswith("0") for p in parts):
        return None
    major, minor, _patch = parts
    if major != "0":
        return f"{base}@{major}"
    if minor != "0":
        return f"{base}@0.{minor}"
    return None


def _externs(
    items: Mapping[str, model.ExternType], data: Mapping[str, ExternData]
) -> dict[str, ComponentExtern]:
    return {
        name: ComponentExtern._from_model(ty, data.get(name, _NO_DATA))
        for name, ty in items.items()
    }


def component_type_from_model(
    ty: model.ComponentType,
    import_data: Mapping[str, ExternData] | None = None,
    export_data: Mapping[str, ExternData] | None = None,
) -> ComponentType:
    """The public view of a component type; ``*_data`` carry per-name annotations."""
    return ComponentType._from_model(ty, import_data, export_data)


def instance_type_from_model(
    ty: model.InstanceType, export_data: Mapping[str, ExternData] | None = None
) -> ComponentInstanceType:
    """The public view of a component instance type."""
    return ComponentInstanceType._from_model(ty, export_data)


def module_type_from_model(ty: model.CoreModuleType) -> ModuleType:
    """The public view of a core module type."""
    return ModuleType._from_model(ty)
