"""The Python value model, re-exported from :mod:`wasmcomponent.types.values` (its home).

Kept so that ``from wasmcomponent.runtime.values import Record`` goes on working.
"""

from typing import Any

from ..types import values as _values
from ..types.values import *  # noqa: F403
from ..types.values import __all__ as __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    return getattr(_values, name)
