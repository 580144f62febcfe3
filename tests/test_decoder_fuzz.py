"""Property tests: the decoder never fails with anything but ``DecodeError``.

The corpus is every component of the conformance suites, converted once per
session with ``wasm-tools json-from-wast`` into a temporary directory.  Each
test truncates or mutates corpus binaries and requires that decoding either
succeeds or raises :class:`~wasmcomponent.errors.ComponentError` (which for
the decoder is always ``DecodeError``).

The amount of work is small by default; set ``WASMCOMPONENT_FUZZ_N`` (a
multiplier, default 1) to fuzz harder, e.g. ``WASMCOMPONENT_FUZZ_N=50``.
Decoding is bounded by the input length, so no case can hang.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import CONFORMANCE_DIR, WASM_TOOLS, component_binaries
from wasmcomponent.binary.decoder import COMPONENT_PREAMBLE, decode_component
from wasmcomponent.errors import ComponentError, DecodeError

FUZZ_N = max(1, int(os.environ.get("WASMCOMPONENT_FUZZ_N", "1")))

pytestmark = pytest.mark.skipif(
    WASM_TOOLS is None or not CONFORMANCE_DIR.is_dir(), reason="needs wasm-tools and the conformance suites"
)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    binaries = component_binaries(tmp_path_factory.mktemp("decoder-corpus"))
    assert binaries, "no components converted"
    return binaries


def _decode_or_decode_error(data: bytes) -> None:
    try:
        decode_component(data)
    except ComponentError as err:
        assert isinstance(err, DecodeError), repr(err)


def test_corpus_decodes(corpus: list[bytes]) -> None:
    for data in corpus:
        decode_component(data)


def test_every_truncation(corpus: list[bytes]) -> None:
    """Every prefix of a spread-out sample of the corpus (all of it for large N)."""
    count = min(len(corpus), 8 * FUZZ_N)
    step = max(1, len(corpus) // count)
    for data in corpus[::step][:count]:
        for size in range(len(data)):
            _decode_or_decode_error(data[:size])


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(corpus)))
    edits = draw(st.integers(min_value=1, max_value=8))
    for _ in range(edits):
        kind = draw(st.sampled_from(("set", "insert", "delete", "flip")))
        position = draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))
        if kind == "set" and data:
            data[position] = draw(st.integers(min_value=0, max_value=255))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=6))
        elif kind == "delete" and data:
            del data[position:position + draw(st.integers(min_value=1, max_value=4))]
        elif data:
            data[position] ^= 1 << draw(st.integers(min_value=0, max_value=7))
    return bytes(data)


def test_random_mutations(corpus: list[bytes]) -> None:
    @settings(
        max_examples=200 * FUZZ_N,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=mutated(corpus))
    def check(data: bytes) -> None:
        _decode_or_decode_error(data)

    check()


def test_random_bytes_after_preamble() -> None:
    @settings(max_examples=200 * FUZZ_N, deadline=None, database=None)
    @given(st.binary(max_size=64))
    def check(tail: bytes) -> None:
        _decode_or_decode_error(COMPONENT_PREAMBLE + tail)

    check()
