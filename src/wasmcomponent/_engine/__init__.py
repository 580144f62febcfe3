"""The bridge to wasmtime-py's core engine (the only code using its internals).

``core`` -- text to binary, store identity and per-store state, raw calls,
unchecked host functions, core module reflection and instantiation.
``memory`` -- :class:`GuestMemory`, checked access to linear memory.
``fibers`` -- core calls on wasmtime fibers that can suspend mid-call
(``FiberCall``, ``blocking_func``): what the async runtime runs guest threads on.
``suspend`` -- the small generated core functions through which a blocking
built-in suspends its fiber, without ever reaching an async host function
outside one.
See each module's docstring for lifetimes and value conventions.
"""

from .core import (
    CORE_NUMERIC,
    WASMTIME_MAJOR,
    CoreExport,
    CoreImport,
    HostCallback,
    HostSnippets,
    RawFunc,
    Storelike,
    exports_by_name,
    func_identity,
    instantiate,
    is_text,
    make_host_func,
    module_exports,
    module_imports,
    store_key,
    store_state,
    take_pending,
    wat_to_wasm,
)
from .fibers import (
    FiberCall,
    Suspension,
    SuspensionError,
    blocking_func,
    can_suspend,
    in_fiber,
    on_fiber,
    set_async_stack_size,
)
from .memory import OUT_OF_BOUNDS, GuestMemory

__all__ = [
    "CORE_NUMERIC",
    "WASMTIME_MAJOR",
    "CoreExport",
    "CoreImport",
    "FiberCall",
    "GuestMemory",
    "HostCallback",
    "HostSnippets",
    "OUT_OF_BOUNDS",
    "RawFunc",
    "Suspension",
    "SuspensionError",
    "Storelike",
    "blocking_func",
    "can_suspend",
    "exports_by_name",
    "func_identity",
    "in_fiber",
    "instantiate",
    "is_text",
    "make_host_func",
    "module_exports",
    "module_imports",
    "on_fiber",
    "set_async_stack_size",
    "store_key",
    "store_state",
    "take_pending",
    "wat_to_wasm",
]
