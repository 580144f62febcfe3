"""Hostile bytes through the whole front end: decode, translate, compile.

Mutated and truncated components from the conformance suites must either
load or raise a ``wasmcomponent`` error (``ComponentError``): never an
``IndexError``, ``KeyError``, ``AssertionError`` or anything else.  The
amount of work scales with ``WASMCOMPONENT_FUZZ_N`` (default 1).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import CONFORMANCE_DIR, WASM_TOOLS, component_binaries
from wasmcomponent import Component
from wasmcomponent.errors import ComponentError

FUZZ_N = max(1, int(os.environ.get("WASMCOMPONENT_FUZZ_N", "1")))

pytestmark = pytest.mark.skipif(
    WASM_TOOLS is None or not CONFORMANCE_DIR.is_dir(), reason="needs wasm-tools and the conformance suites"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    # Small components keep each case fast; big ones add little new structure.
    return [b for b in component_binaries(Path(tmp_path_factory.mktemp("corpus"))) if 16 <= len(b) < 4096]


@pytest.fixture(scope="module")
def engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    config.wasm_exceptions = True
    return wasmtime.Engine(config)


def load_or_component_error(engine: wasmtime.Engine, data: bytes) -> None:
    try:
        Component(engine, data)
    except ComponentError:
        pass


def test_corpus_loads_or_is_unsupported(engine: wasmtime.Engine, corpus: list[bytes]) -> None:
    for data in corpus:
        load_or_component_error(engine, data)


def test_random_mutations_give_only_component_errors(engine: wasmtime.Engine, corpus: list[bytes]) -> None:
    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(corpus)))
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(8, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        if draw(st.booleans()):
            data = data[: draw(st.integers(8, len(data)))]
        return bytes(data)

    @settings(max_examples=150 * FUZZ_N, deadline=None, suppress_health_check=list(HealthCheck), derandomize=FUZZ_N == 1)
    @given(mutated())
    def check(data: bytes) -> None:
        load_or_component_error(engine, data)

    check()
