"""``Component``: a compiled component, and ``ExportIndex``.

Building a ``Component`` decodes the binary, compiles its core modules with the
core engine, and translates it into a store-independent ``Plan``
(``translate.plan``), which every instantiation then walks.

    >>> import wasmtime
    >>> engine = wasmtime.Engine()
    >>> component = Component(engine, '(component (import "i" (instance)) (export "j" (instance 0)))')
    >>> sorted(component.type.exports(engine))
    ['j']
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional, Union

import wasmtime

from .._engine.core import wat_to_wasm
from ..errors import ComponentError, DecodeError, ValidationError
from ..translate import plan as p
from .features import engine_features
from .managed import Managed, guarded

if TYPE_CHECKING:
    from ..binary import ast
    from .types import ExternData


class ExportIndex(Managed):
    """A handle naming one export (possibly nested) of a component.

    Obtained from ``Component.get_export_index`` or ``Instance.get_export_index``
    and usable with any instance of the same component.  ``close()`` / ``with``
    as in wasmtime-py: a closed index raises ``ValueError`` wherever it is used.
    """

    __slots__ = ("_plan_", "_item", "_path")
    _managed_slots = ("_plan_",)
    _plan = guarded[p.Plan]("_plan_")
    _item: p.ExportItem
    _path: tuple[str, ...]

    def __init__(self) -> None:
        raise wasmtime.WasmtimeError("Cannot directly construct an `ExportIndex`")

    @classmethod
    def _new(cls, plan: p.Plan, item: p.ExportItem, path: tuple[str, ...]) -> ExportIndex:
        self = cls.__new__(cls)
        self._plan = plan
        self._item = item
        self._path = path
        return self

    def __repr__(self) -> str:
        return f"ExportIndex({'/'.join(self._path)!r})"


class Component(Managed):
    """A compiled WebAssembly component, ready to be instantiated by a ``Linker``.

    ``close()`` / ``with`` as in wasmtime-py: afterwards every use of the
    component (``type``, ``serialize``, ``get_export_index``, instantiating it)
    raises ``ValueError("already closed")``; instances made from it live on.
    """

    # The plan is read through a guard, so a closed component fails wherever it is used.
    _managed_slots = ("_plan_",)
    _plan = guarded[p.Plan]("_plan_")

    def __init__(self, engine: wasmtime.Engine, wasm: Union[str, bytes, bytearray]) -> None:
        if not isinstance(engine, wasmtime.Engine):
            raise TypeError("expected an Engine")
        if isinstance(wasm, str):
            data = _parse_text(wasm)
        elif isinstance(wasm, (bytes, bytearray, memoryview)):
            data = bytes(wasm)
            if not data.startswith(b"\0asm"):
                data = _parse_text(data)
        else:
            raise TypeError("expected a str or bytes")
        self._engine = engine
        self._modules: list[wasmtime.Module] = []
        self._layouts: dict[int, Any] = {}  # import arrays of static steps (``instance.import_layout``)
        # The front end (decoder, validator, translator) loads with the first component, not
        # with `import wasmcomponent`: its AST classes alone cost more than wasmtime.component.
        from ..binary.decoder import decode_component
        from ..translate.inline import translate
        from ..validate import validate_component
        from ..validate.features import check_features

        tree = decode_component(data)
        check_features(tree, engine_features(engine))
        validate_component(tree, engine_features(engine))
        self._plan = translate(tree, self._compile_module)
        self._bytes = data
        self._import_data, self._export_data = _extern_data(tree)
        # Compile (and so validate) every embedded core module now, as wasmtime
        # does, not only those the plan instantiates.
        for index in range(len(self._plan.modules)):
            self._static_module(index)

    def _compile_module(self, index: int, data: bytes) -> tuple[tuple[str, str], ...]:
        while len(self._modules) <= index:
            self._modules.append(None)  # type: ignore[arg-type]
        module = self._modules[index]
        if module is None:
            try:
                module = wasmtime.Module(self._engine, data)
            except ComponentError:
                raise
            except wasmtime.WasmtimeError as err:
                raise ValidationError(f"invalid core module: {err}") from None
            self._modules[index] = module
        return tuple((imp.module, imp.name or "") for imp in module.imports)

    def _static_module(self, index: int) -> wasmtime.Module:
        module = self._modules[index] if index < len(self._modules) else None
        if module is None:
            self._compile_module(index, self._plan.modules[index])
            module = self._modules[index]
        return module

    @classmethod
    def from_file(cls, engine: wasmtime.Engine, path: Union[str, bytes, os.PathLike]) -> Component:
        """Reads a component (binary or text) from ``path`` and compiles it."""
        with open(path, "rb") as f:
            contents = f.read()
        return cls(engine, contents)

    @property
    def type(self) -> object:
        """The ``ComponentType`` of this component: its imports and exports."""
        from ..types import model
        from .types import component_type_from_model

        node = model.ComponentType(dict(self._plan.imports), dict(self._plan.export_types))
        return component_type_from_model(node, self._import_data, self._export_data)

    def get_export_index(self, name: str, instance: Optional[ExportIndex] = None) -> Optional[ExportIndex]:
        """The ``ExportIndex`` of export ``name`` (inside ``instance`` if given), or None."""
        return lookup_export(self._plan, name, instance)

    def serialize(self) -> bytearray:
        """This compiled component as bytes for :meth:`deserialize` (as in wasmtime-py).

        The bytes hold the translated plan, in a data-only encoding
        (``translate.serial``, never pickle), and every core module compiled by
        the engine (``wasmtime.Module.serialize``: native code), behind a header
        naming the wasmcomponent, wasmtime and Python versions.  As with
        wasmtime's, only deserialize them where they cannot have been tampered
        with.  The on-disk cache (``runtime.cache.load_component``) adds a MAC.
        """
        from .cache import serialize_component

        return bytearray(serialize_component(self._plan, self._modules, engine_features(self._engine)))

    @classmethod
    def deserialize(cls, engine: wasmtime.Engine, encoded: Union[bytes, bytearray]) -> Component:
        """A ``Component`` from :meth:`serialize`'s bytes, without compiling anything.

        Only deserialize bytes you trust, as with wasmtime's
        ``Component.deserialize``: the core modules in them are native code
        that is mapped and run as it is.  The plan around them is decoded as
        data only, so malformed bytes raise ``wasmtime.WasmtimeError`` (a
        ``DecodeError`` for a corrupt plan), as do bytes from another version of
        wasmcomponent, wasmtime or Python, or from an engine whose
        configuration is incompatible with ``engine``.
        """
        if not isinstance(engine, wasmtime.Engine):
            raise TypeError("expected an Engine")
        if not isinstance(encoded, (bytes, bytearray, memoryview)):
            raise TypeError("expected bytes")
        return cls._deserialize_trusted(engine, encoded)

    @classmethod
    def _deserialize_trusted(cls, engine: wasmtime.Engine, data: Union[bytes, bytearray, memoryview]) -> Component:
        """:meth:`deserialize` without argument checks; ``data`` is read in place, not copied."""
        from .cache import deserialize_component

        plan, modules = deserialize_component(engine, memoryview(data), engine_features(engine))
        self = cls.__new__(cls)
        self._engine = engine
        self._modules = modules
        self._layouts = {}
        self._plan = plan
        self._bytes = b""
        # Name annotations are not part of the serialized form.
        self._import_data, self._export_data = {}, {}
        return self

    @classmethod
    def deserialize_file(cls, engine: wasmtime.Engine, path: Union[str, os.PathLike]) -> Component:
        """:meth:`deserialize` the contents of the file ``path``.

        A file that cannot be read raises ``WasmtimeError("failed to open file ...")``,
        as wasmtime-py's does (``from_file`` raises the ``OSError``, as there).
        """
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as err:
            raise wasmtime.WasmtimeError(f"failed to open file\n\nCaused by:\n    {err.strerror or err}") from None
        return cls.deserialize(engine, data)


def _extern_data(tree: ast.ComponentAST) -> tuple[dict[str, ExternData], dict[str, ExternData]]:
    """The ``implements`` / ``external-id`` annotations of the top-level imports and exports, by name."""
    from ..binary import ast
    from .types import ExternData

    imports: dict[str, ExternData] = {}
    exports: dict[str, ExternData] = {}
    for section in tree.sections:
        if isinstance(section, ast.ImportSection):
            named = [(imp.name, imports) for imp in section.imports]
        elif isinstance(section, ast.ExportSection):
            named = [(exp.name, exports) for exp in section.exports]
        else:
            continue
        for name, into in named:
            if name.implements is not None or name.external_id is not None:
                into[name.name] = ExternData(name.implements, name.external_id)
    return imports, exports


def _parse_text(text: Union[str, bytes]) -> bytes:
    """Component text to binary; a parse failure is a one-line ``DecodeError``."""
    try:
        return wat_to_wasm(text)
    except wasmtime.WasmtimeError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        where = next((line[4:] for line in lines[1:] if line.startswith("--> ")), "")
        reason = lines[0] if lines else "invalid text"
        location = f" at {where.replace('<anon>:', 'line ', 1)}" if where else ""
        raise DecodeError(
            f"not a component: no binary header (`\\0asm`), and not valid component text: {reason}{location}",
            None,
        ) from None


def lookup_export(plan: p.Plan, name: str, instance: Optional[ExportIndex]) -> Optional[ExportIndex]:
    """Find export ``name`` at the top level or inside the exported instance ``instance``."""
    if instance is None:
        item = plan.exports.get(name)
        path: tuple[str, ...] = (name,)
    else:
        if instance._plan is not plan or not isinstance(instance._item, p.ExportInstance):
            return None
        item = instance._item.items.get(name)
        path = instance._path + (name,)
    if item is None:
        return None
    return ExportIndex._new(plan, item, path)
