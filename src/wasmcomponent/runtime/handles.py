"""Resource handle tables (placeholder until resources land)."""

from __future__ import annotations

from typing import Any

from ..translate import plan as p


def define_resource(state: Any, step: p.DefineResource) -> None:
    """Record a resource type defined by the component for this instantiation."""
    state.resources[step.resource] = step
