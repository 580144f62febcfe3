"""Choosing the component API under test.

Both candidates expose the names of wasmtime-py 50's `wasmtime.component`
(`Component`, `Linker`, `Record`, `Variant`, `ResourceType`, ...); engines
and stores are always `wasmtime.Engine` / `wasmtime.Store` because
`wasmcomponent` runs core wasm on wasmtime-py's core engine.

`load_api(None)` reads `WASMCOMPONENT_CONFORMANCE_API` (`wasmtime` or
`wasmcomponent`, default `wasmcomponent`).  An API that cannot be imported,
or lacks `Linker`, raises `ApiUnavailable` with the reason, which callers
turn into a clean skip.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

API_ENV = "WASMCOMPONENT_CONFORMANCE_API"
DEFAULT_API = "wasmcomponent"
API_MODULES = {"wasmtime": "wasmtime.component", "wasmcomponent": "wasmcomponent"}
REQUIRED_NAMES = ("Component", "Linker")


class ApiUnavailable(RuntimeError):
    """The requested API cannot be used; the message says why."""


@dataclass(frozen=True)
class ComponentApi:
    """The API module under test plus the few facts the driver needs about it."""

    name: str
    module: ModuleType

    def attr(self, name: str) -> Any:
        """A public name of the API (e.g. `Component`), or `None` if missing."""
        return getattr(self.module, name, None)

    @property
    def supports_resources(self) -> bool:
        """Whether host resources can be defined (`add_resource` + `ResourceType.host`)."""
        linker_instance = self.attr("LinkerInstance")
        resource_type = self.attr("ResourceType")
        resource_host = self.attr("ResourceHost")
        return (
            linker_instance is not None
            and hasattr(linker_instance, "add_resource")
            and resource_type is not None
            and hasattr(resource_type, "host")
            and resource_host is not None
            and hasattr(resource_host, "own")
        )


def selected_api_name(name: str | None = None) -> str:
    """The API name from the argument, else the environment, else the default."""
    chosen = name or os.environ.get(API_ENV) or DEFAULT_API
    if chosen not in API_MODULES:
        raise ApiUnavailable(
            f"unknown conformance API `{chosen}` (expected one of {', '.join(API_MODULES)})"
        )
    return chosen


def load_api(name: str | None = None) -> ComponentApi:
    """Import the selected API module, or raise `ApiUnavailable`."""
    chosen = selected_api_name(name)
    module_name = API_MODULES[chosen]
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure means "not usable"
        raise ApiUnavailable(f"`import {module_name}` failed: {exc!r}") from exc
    missing = [n for n in REQUIRED_NAMES if not hasattr(module, n)]
    if missing:
        raise ApiUnavailable(f"`{module_name}` lacks {', '.join(missing)}")
    return ComponentApi(chosen, module)
