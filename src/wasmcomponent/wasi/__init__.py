"""The WASI 0.2 host of wasmcomponent, written in Python (see ``ctx`` for the design).

``Linker.add_wasip2()`` defines every ``wasi:*@0.2.x`` interface; each store
reads its configuration from a WASI configuration attached with either::

    store.set_wasi(cfg)      # unchanged wasmtime-py code: cfg a wasmtime.WasiConfig
    wasmcomponent.wasi.set_wasi(store, cfg)

``cfg`` may be wasmtime-py's own ``wasmtime.WasiConfig`` (its options are
recorded as they are set: see ``recorder``) or :class:`WasiConfig`, a subclass
with the same options plus readable settings, in-memory stdio, virtual clocks,
a network policy and limits.  A store without a configuration fails with a
clear error on its first WASI call.  Modules: ``io``, ``clocks``, ``random``,
``cli``, ``filesystem`` (sandboxed preopens), ``sockets`` (TCP, UDP and name
lookup, denied unless the configuration allows them), ``http`` (``wasi:http``
types, outgoing requests denied unless allowed, and ``http.handle_request`` to
serve a component's ``incoming-handler``).

The host loads on first use: importing this package costs nothing until one of
its names is looked up.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["WASI_VERSION", "Preopen", "WasiConfig", "WasiCtx", "add_to_linker", "set_wasi", "wasi_ctx"]
_HOMES = {
    "Preopen": ".config",
    "WasiConfig": ".config",
    "WASI_VERSION": ".ctx",
    "WasiCtx": ".ctx",
    "add_to_linker": ".ctx",
    "set_wasi": ".ctx",
    "wasi_ctx": ".ctx",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value
