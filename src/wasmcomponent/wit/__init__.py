"""WIT for components: decode a component's type into a WIT model, and print it.

Two steps, kept apart as in wasm-tools:

* :func:`decode` (:mod:`.decode`) turns a component (or a WIT package
  encoded as wasm) into the model of :mod:`.model` -- packages, worlds,
  interfaces, named type definitions, functions, resources, docs and gates.
  The bindings generator works from it too;
* :func:`print_resolve` (:mod:`.printer`) prints a model as text, laid out as
  ``wasm-tools component wit`` does; :func:`print_wit` is both steps, and
  :func:`print_world_items` the listing of ``wasmcomponent inspect``.

Docs and ``@since``/``@unstable`` gates come from the binary's
``package-docs`` section (:mod:`.docs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

from .decode import decode
from .model import *  # noqa: F403 - the model is this package's API
from .model import __all__ as _model_all
from .printer import print_resolve, print_world_items

if TYPE_CHECKING:
    from ..runtime.component import Component

__all__ = ["decode", "print_wit", "print_resolve", "print_world_items", *_model_all]


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
