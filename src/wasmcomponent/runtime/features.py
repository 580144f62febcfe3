"""Which gated Component Model features an engine has switched on.

``wasmtime.Config`` is write-only, so the settings cannot be read back from
an ``Engine``.  wasmcomponent must still refuse what the engine refuses (a
``map`` type, or a name with an ``implements`` attribute, when the feature is
off — both off by default in wasmtime 50), so each feature is probed once per
engine by compiling a tiny component that needs it with the engine's own
component compiler.  The answer is cached for the engine's lifetime.
"""

from __future__ import annotations

import weakref

import wasmtime

# Feature name (as wasm-tools spells it) -> a component that needs only it.
_PROBES: dict[str, str] = {
    "cm-implements": '(component (import "a" (implements "a:b/c") (instance)))',
    "cm-map": "(component (type (map u32 u32)))",
    "cm-nested-names": '(component (import "a:b:c/d" (instance)))',
}

_cache: weakref.WeakKeyDictionary[wasmtime.Engine, frozenset[str]] = weakref.WeakKeyDictionary()
_binaries: dict[str, bytes] = {}


def engine_features(engine: wasmtime.Engine) -> frozenset[str]:
    """The gated features (``cm-implements``, ``cm-map``, ``cm-nested-names``) that ``engine`` accepts."""
    found = _cache.get(engine)
    if found is None:
        found = frozenset(name for name in _PROBES if _accepts(engine, name))
        _cache[engine] = found
    return found


def _accepts(engine: wasmtime.Engine, name: str) -> bool:
    binary = _binaries.get(name)
    if binary is None:
        binary = _binaries[name] = bytes(wasmtime.wat2wasm(_PROBES[name]))
    # Imported on first use: it is the whole of wasmtime-py's component layer.
    from wasmtime import component as wasmtime_component

    try:
        wasmtime_component.Component(engine, binary)
    except wasmtime.WasmtimeError:
        return False
    return True
