"""wasmcomponent: the WebAssembly Component Model runtime for Python, in Python.

A drop-in replacement for wasmtime-py's ``wasmtime.component``: the same class
names, arguments, value conventions and errors, on the same
``wasmtime.Engine``/``wasmtime.Store``.  Core wasm runs on wasmtime's engine;
decoding, linking, instantiation and the Canonical ABI are Python.

    >>> import wasmtime
    >>> from wasmcomponent import Component, Linker
    >>> engine = wasmtime.Engine()
    >>> store = wasmtime.Store(engine)
    >>> component = Component.from_file(engine, "examples/hello.wat")  # doctest: +SKIP
    >>> instance = Linker(engine).instantiate(store, component)  # doctest: +SKIP
    >>> instance.get_func(store, "greet")(store, "world")  # doctest: +SKIP
    'Hello, world!'
"""

from typing import TYPE_CHECKING

from .concurrent.host import FutureReader, StreamReader
from .errors import (
    ComponentError,
    ComponentTrap,
    DecodeError,
    LinkError,
    UnsupportedError,
    ValidationError,
)
from .runtime.call import concurrency_limit, hostcall_fuel, set_concurrency_limit, set_hostcall_fuel
from .runtime.component import Component, ExportIndex
from .runtime.func import Func
from .runtime.instance import Instance
from .runtime.linker import Linker, LinkerInstance
from .runtime.resources import ResourceAny, ResourceHost, ResourceType
from .types.values import Record, Variant
from .wasi import recorder as _wasi_recorder

if TYPE_CHECKING:  # static checkers see the lazily loaded names
    from .runtime.types import (
        F32,
        F64,
        S8,
        S16,
        S32,
        S64,
        U8,
        U16,
        U32,
        U64,
        Bool,
        BorrowType,
        Char,
        ComponentExtern,
        ComponentInstanceType,
        ComponentItem,
        ComponentType,
        EnumType,
        ErrorContext,
        FlagsType,
        FuncType,
        FutureType,
        ListType,
        ModuleType,
        OptionType,
        OwnType,
        RecordType,
        ResultType,
        StreamType,
        String,
        TupleType,
        ValType,
        VariantType,
    )

# The reflection types (``FuncType``, ``U32``, ...) load on first use (PEP 562): most programs
# never touch them, and they are a good part of the import time.
_REFLECTION_TYPES = frozenset(
    {
        "F32", "F64", "S8", "S16", "S32", "S64", "U8", "U16", "U32", "U64", "Bool", "BorrowType",
        "Char", "ComponentExtern", "ComponentInstanceType", "ComponentItem", "ComponentType",
        "EnumType", "ErrorContext", "FlagsType", "FuncType", "FutureType", "ListType",
        "ModuleType", "OptionType", "OwnType", "RecordType", "ResultType", "StreamType", "String",
        "TupleType", "ValType", "VariantType",
    }
)


def __getattr__(name: str) -> object:
    if name in _REFLECTION_TYPES:
        from .runtime import types

        value = getattr(types, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.1.0"

# Record the options of native ``wasmtime.WasiConfig`` objects made from now on, so that
# ``store.set_wasi(wasmtime.WasiConfig())`` configures wasmcomponent's WASI host too.
_wasi_recorder.install()

__all__ = [
    "Component",
    "ExportIndex",
    "Linker",
    "LinkerInstance",
    "Instance",
    "Func",
    "ResourceType",
    "ResourceAny",
    "ResourceHost",
    "ComponentType",
    "ModuleType",
    "ComponentItem",
    "ComponentInstanceType",
    "ComponentExtern",
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
    "VariantType",
    "EnumType",
    "OptionType",
    "ResultType",
    "FlagsType",
    "StreamType",
    "FutureType",
    "OwnType",
    "BorrowType",
    "Variant",
    "Record",
    "ComponentError",
    "ComponentTrap",
    "DecodeError",
    "LinkError",
    "UnsupportedError",
    "ValidationError",
    "hostcall_fuel",
    "set_hostcall_fuel",
    "StreamReader",
    "FutureReader",
    "concurrency_limit",
    "set_concurrency_limit",
]
