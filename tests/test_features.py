"""Gated features follow the engine's configuration, as in wasmtime."""

from __future__ import annotations

import pytest
import wasmtime

from wasmcomponent import Component, ValidationError
from wasmcomponent.runtime.features import engine_features

MAP = "(component (type (map u32 string)))"
IMPLEMENTS = '(component (import "a" (implements "a:b/c") (instance)))'


def engine(**switches: bool) -> wasmtime.Engine:
    config = wasmtime.Config()
    for name, value in switches.items():
        setattr(config, name, value)
    return wasmtime.Engine(config)


def test_defaults_are_off() -> None:
    assert engine_features(engine()) == frozenset()


@pytest.mark.parametrize(
    "text,switch,message",
    [
        (MAP, "wasm_component_model_map", "Maps require the component model map feature"),
        (IMPLEMENTS, "wasm_component_model_implements", "the `cm-implements` feature is not active"),
    ],
)
def test_feature_gates(text: str, switch: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Component(engine(), text)
    Component(engine(**{switch: True}), text)
