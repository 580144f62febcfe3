"""Engine features a script needs, and how to configure `wasmtime.Config`.

Wasmtime's misc test scripts start with `;;! key = value` lines naming the
proposals they need.  Every key `wasmtime.Config` can set is applied as
written (plus what it implies, as Wasmtime's harness does: `gc` implies
function references and reference types, ...); proposals a script does not
mention keep the config's defaults.

Component-model features `wasmtime.Config` cannot set (async, error-context,
threading, fixed-length lists, ...) may still be on by default in the API
under test: `PROBES` holds, per feature, a tiny component that validates only
with that feature, and the driver compiles it to find out.  When a feature is
neither settable nor on, scripts under `async/` are skipped as a whole;
elsewhere each component that fails to compile is checked with
`wasm-tools validate` (all features vs. all but the missing one) and, if it
needs the feature, skipped along with the directives that depend on it.

The upstream component-model suite has no headers; like Wasmtime's harness
we enable the proposals it uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

import wasmtime

# Header key -> `wasmtime.Config` property.
CONFIG_PROPERTIES: dict[str, str] = {
    "bulk_memory": "wasm_bulk_memory",
    "memory64": "wasm_memory64",
    "custom_page_sizes": "wasm_custom_page_sizes",
    "multi_memory": "wasm_multi_memory",
    "threads": "wasm_threads",
    "gc": "wasm_gc",
    "function_references": "wasm_function_references",
    "relaxed_simd": "wasm_relaxed_simd",
    "reference_types": "wasm_reference_types",
    "tail_call": "wasm_tail_call",
    "wide_arithmetic": "wasm_wide_arithmetic",
    "simd": "wasm_simd",
    "exceptions": "wasm_exceptions",
    "stack_switching": "wasm_stack_switching",
    "component_model_map": "wasm_component_model_map",
    "component_model_implements": "wasm_component_model_implements",
    "nan_canonicalization": "cranelift_nan_canonicalization",
}

# Keys that only steer Wasmtime's harness, not the engine.
HARNESS_ONLY = frozenset({"hogs_memory", "spec_test", "gc_types"})

# A feature that, when on, also turns these on (as Wasmtime's harness does).
IMPLIES: dict[str, tuple[str, ...]] = {
    "gc": ("function_references", "reference_types"),
    "function_references": ("reference_types",),
    "component_model_async": ("reference_types",),
    "relaxed_simd": ("simd",),
    "stack_switching": ("exceptions",),
}

# What Wasmtime's harness enables for the upstream component-model suite.
COMPONENT_MODEL_SUITE = {
    "reference_types": True,
    "multi_memory": True,
    "bulk_memory": True,
    "gc": True,
    "exceptions": True,
    "component_model_implements": True,
    "component_model_map": True,
    "component_model_async": True,
    "component_model_more_async_builtins": True,
    "component_model_async_stackful": True,
    "component_model_threading": True,
    "component_model_fixed_length_lists": True,
}

# Header key -> `wasm-tools validate --features` name (for the validator oracle).
WASM_TOOLS_NAMES: dict[str, str] = {
    "component_model_async": "cm-async",
    "component_model_more_async_builtins": "cm-more-async-builtins",
    "component_model_async_stackful": "cm-async-stackful",
    "component_model_threading": "cm-threading",
    "component_model_error_context": "cm-error-context",
    "component_model_fixed_length_lists": "cm-fixed-length-lists",
    "component_model_gc": "cm-gc",
    "component_model_memory64": "cm64",
}

_HEADER = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=\s*(true|false)\s*$")


@dataclass(frozen=True)
class FeatureSet:
    """Requested features of one script (`True`/`False` per header key)."""

    values: dict[str, bool] = field(default_factory=dict)
    spec_test: bool = False
    # Unsettable features every directive of the script needs (scripts in an
    # `async/` folder); the others are checked per component.
    whole_script: frozenset[str] = frozenset()

    @property
    def unsettable(self) -> list[str]:
        """Features turned on that `wasmtime.Config` cannot set."""
        return sorted(
            key for key, on in self.values.items()
            if on and key not in CONFIG_PROPERTIES and key not in HARNESS_ONLY
        )

    @property
    def required(self) -> list[str]:
        """Unsettable features every directive of the script needs."""
        return [key for key in self.unsettable if key in self.whole_script]

    @property
    def per_component(self) -> list[str]:
        """Unsettable features only some components may need (validator oracle)."""
        return [key for key in self.unsettable if key not in self.whole_script]

    def effective(self) -> dict[str, bool]:
        """Settable features the script mentions, with implications applied.

        Features a script does not mention keep `wasmtime.Config`'s defaults:
        turning stable proposals off can make engine creation abort (e.g.
        wasmtime-py 50 enables component-model async by default, which needs
        reference types).
        """
        chosen = dict(self.values)
        pending = [key for key, on in chosen.items() if on]
        while pending:
            for implied in IMPLIES.get(pending.pop(), ()):
                if not chosen.get(implied):
                    chosen[implied] = True
                    pending.append(implied)
        return {key: on for key, on in chosen.items() if key in CONFIG_PROPERTIES}

    def cache_key(self) -> tuple[tuple[str, bool], ...]:
        return tuple(sorted(self.effective().items()))

    def make_config(self) -> wasmtime.Config:
        """A fresh `wasmtime.Config` with the component model and these features."""
        config = wasmtime.Config()
        config.wasm_component_model = True
        for key, on in self.effective().items():
            setattr(config, CONFIG_PROPERTIES[key], on)
        return config


# Minimal components (binary) that validate only with a feature `wasmtime.Config`
# cannot set; compiling one tells whether the API has the feature on anyway.
PROBES: dict[str, str] = {
    # (core func (canon backpressure.inc))
    "component_model_async": "0061736d0d00010008020124",
    # synchronous (canon stream.read $s (memory ...)) on (stream u8)
    "component_model_more_async_builtins": (
        "0061736d0d00010007040166017d011f0061736d010000000503010001070501016d0200"
        "0009046e616d650002016d02040100000006070100020100016d0806010f000103000026"
        "0e636f6d706f6e656e742d6e616d65010600110100016d010600120100016901050301"
        "000173"
    ),
    # (canon lift (core func $i "f") async) of a `(func async)`, without a callback
    "component_model_async_stackful": (
        "0061736d0d000100012a0061736d0100000001040160000003020100070501016600000a"
        "040102000b0009046e616d650002016d0204010000000705014300010006070100000100"
        "016608070100000001060000260e636f6d706f6e656e742d6e616d65010600110100016d"
        "010600120100016901050301000174"
    ),
    # (core func (canon error-context.drop))
    "component_model_error_context": "0061736d0d0001000802011e",
    # (core func (canon thread.index))
    "component_model_threading": "0061736d0d00010008020126",
    # (type (list u8 4))
    "component_model_fixed_length_lists": "0061736d0d000100070401677d04",
    # (canon lift (core func $i "f") gc)
    "component_model_gc": (
        "0061736d0d000100012a0061736d0100000001040160000003020100070501016600000a"
        "040102000b0009046e616d650002016d0204010000000705014000010006070100000100"
        "01660807010000000109000b0701000166010000001f0e636f6d706f6e656e742d6e616d"
        "65010600110100016d0106001201000169"
    ),
    # (canon lower (func $f) (memory <i64 memory>)) for a string parameter
    "component_model_memory64": (
        "0061736d0d000100070801400101787301000a06010001660100011f0061736d01000000"
        "0503010401070501016d02000009046e616d650002016d02040100000006070100020100"
        "016d08070101000001030000260e636f6d706f6e656e742d6e616d650106001101000"
        "16d010600120100016901050101000166"
    ),
}


def parse_header(text: str) -> dict[str, bool]:
    """Read the leading `;;! key = value` lines of a script."""
    values: dict[str, bool] = {}
    for line in text.splitlines():
        if not line.startswith(";;!"):
            break
        match = _HEADER.match(line[3:])
        if match:
            values[match.group(1)] = match.group(2) == "true"
    return values


def features_for(rel_path: PurePath, text: str) -> FeatureSet:
    """Feature set for a script (`rel_path` relative to the conformance root).

    Only scripts under an `async/` folder are skipped as a whole when a
    feature is unavailable; elsewhere a header feature often matters to just
    a few components (e.g. `wasmtime/resources.wast` declares
    component-model async for a handful of them), so the driver asks the
    validator oracle per component instead.
    """
    header = parse_header(text)
    parts = rel_path.parts
    in_async_folder = "async" in parts[:-1]
    if parts[:1] == ("component-model",) and not header:
        whole = {"component_model_async"} if in_async_folder else set()
        return FeatureSet(dict(COMPONENT_MODEL_SUITE), spec_test=True,
                          whole_script=frozenset(whole))
    whole = {key for key, on in header.items() if on} if in_async_folder else set()
    return FeatureSet(header, spec_test=False, whole_script=frozenset(whole))
