"""The WASI 0.2 host of wasmcomponent, written in Python (see ``ctx`` for the design).

``Linker.add_wasip2()`` defines every ``wasi:*@0.2.x`` interface; each store
reads its configuration from a :class:`WasiConfig` attached with either::

    wasmcomponent.wasi.set_wasi(store, cfg)
    store.set_wasi(cfg)      # unchanged wasmtime-py code, with cfg a wasmcomponent.wasi.WasiConfig

Code written for wasmtime-py changes one line: ``wasmtime.WasiConfig()`` becomes
``wasmcomponent.wasi.WasiConfig()`` (a subclass with the same options, which
also configures the native side).  A store without a configuration gets the
deny-everything default.  Modules: ``io``, ``clocks``, ``random``, ``cli``,
``filesystem`` (sandboxed preopens), ``sockets`` (TCP, UDP and name lookup,
denied unless the configuration allows them), ``http`` (``wasi:http`` types,
outgoing requests denied unless allowed, and ``http.handle_request`` to serve
a component's ``incoming-handler``).
"""

from .config import Preopen, WasiConfig
from .ctx import WASI_VERSION, WasiCtx, add_to_linker, set_wasi, wasi_ctx

__all__ = ["WASI_VERSION", "Preopen", "WasiConfig", "WasiCtx", "add_to_linker", "set_wasi", "wasi_ctx"]
