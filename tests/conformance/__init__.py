"""Conformance driver for the Component Model `.wast` suites.

The driver converts a `.wast` script with `wasm-tools json-from-wast`
(`convert`), configures an engine from the script's `;;!` feature header
(`features`), defines the host items Wasmtime's own harness provides
(`spectest_host`), and then runs every directive against a pluggable
component API: `wasmtime.component` (the reference) or `wasmcomponent` (this
project), chosen by `api.load_api` (`WASMCOMPONENT_CONFORMANCE_API`).

Each directive gets exactly one outcome (`pass`, `fail` or `skip`, with a
reason); `suites` groups files into the figures the project tracks.

Usage::

    python scripts/conformance_report.py --api wasmtime -v      # CLI report
    WASMCOMPONENT_CONFORMANCE_API=wasmtime python -m pytest tests/test_conformance.py
"""

from .api import ApiUnavailable, ComponentApi, load_api
from .driver import DirectiveResult, EngineCache, FileResult, RunOptions, run_file
from .suites import default_conformance_dir, discover, group_of

__all__ = [
    "ApiUnavailable",
    "ComponentApi",
    "DirectiveResult",
    "EngineCache",
    "FileResult",
    "RunOptions",
    "default_conformance_dir",
    "discover",
    "group_of",
    "load_api",
    "run_file",
]
