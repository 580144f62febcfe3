"""Looking up one export of a core instance by name.

``wasmtime.Instance.exports(store)`` wraps *every* export the first time it
is used — thousands of ctypes calls for a componentize-py module, most of
them never needed.  A component plan names exactly the exports it uses, so
they are fetched one by one with ``wasmtime_instance_export_get`` instead.
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime._extern import wrap_extern

from .core import Storelike


def export_getter(instance: wasmtime.Instance, store: Storelike) -> Callable[[str], Any]:
    """A function ``name -> extern`` for ``instance``; raises ``KeyError`` for a missing export.

    >>> store = wasmtime.Store()
    >>> module = wasmtime.Module(store.engine, '(module (memory (export "m") 1))')
    >>> get = export_getter(wasmtime.Instance(store, module, []), store)
    >>> type(get("m")).__name__
    'Memory'
    """
    raw_instance = ctypes.byref(instance._instance)
    found: dict[str, Any] = {}

    def get(name: str) -> Any:
        extern = found.get(name)
        if extern is None:
            encoded = name.encode("utf-8")
            item = ffi.wasmtime_extern_t()
            if not ffi.wasmtime_instance_export_get(
                store._context(), raw_instance, encoded, len(encoded), ctypes.byref(item)
            ):
                raise KeyError(name)
            extern = found[name] = wrap_extern(item)
        return extern

    return get
