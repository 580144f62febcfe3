"""WIT for components: decode a component's type into a WIT model, and print it.

``print_wit(component)`` gives the same text as ``wasm-tools component wit``;
:func:`decode` gives the model (:mod:`wasmcomponent.wit.model`) that the
printer and the bindings generator work from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

from .decode import decode
from .model import *  # noqa: F403 - the model is this package's API
from .model import __all__ as _model_all
from .printer import print_resolve

if TYPE_CHECKING:
    from ..runtime.component import Component

__all__ = ["decode", "print_wit", "print_resolve", *_model_all]


def print_wit(component: Union[Component, bytes, str], docs: bool = True) -> str:
    """The component's WIT, as ``wasm-tools component wit`` prints it.

    ``component`` is a :class:`~wasmcomponent.Component`, or a component's
    bytes or text; ``docs=False`` leaves out doc comments (``--no-docs``).

    >>> print(print_wit('(component (import "f" (func (param "x" u32))))'), end="")
    package root:component;
    <BLANKLINE>
    world root {
      import f: func(x: u32);
    }
    """
    return print_resolve(decode(component), docs=docs)
