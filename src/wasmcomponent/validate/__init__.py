"""Validation of decoded components (see ``validate.component``)."""

from .component import validate_component

__all__ = ["validate_component"]
