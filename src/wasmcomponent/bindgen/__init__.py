"""Typed Python bindings for a component: ``wasmcomponent bindgen`` and :func:`generate`.

The package mirrors componentize-py's guest bindings, seen from the host:

* ``PKG/exports/<iface>.py`` and ``PKG/imports/<iface>.py`` hold each
  interface's types with componentize-py's names and shapes (dataclasses,
  ``Enum``, ``Flag``, one dataclass per variant case and a ``Union``);
* ``PKG.<World>`` wraps an instance: ``<World>.instantiate(store, linker,
  component)`` or ``<World>(store, instance)``; root exports are methods,
  exported interfaces attributes (``world.kinds.echo_point(Point(1, 2))``),
  resources classes with methods, ``close()`` and ``with``;
* ``<World>.add_to_linker(linker, host)`` defines the imports from a host
  object with one attribute per imported interface (a ``typing.Protocol``
  in ``PKG/imports/<iface>.py``) and one method per root import function.

Conversions are generated per type (:mod:`.convert`); :mod:`.support` holds
what generated code imports.

    >>> import wasmtime
    >>> from wasmcomponent import Component
    >>> engine = wasmtime.Engine()
    >>> component = Component(engine, '''(component
    ...   (core module $m (func (export "f") (param i32) (result i32) local.get 0))
    ...   (core instance $i (instantiate $m))
    ...   (func (export "echo") (param "x" u32) (result u32) (canon lift (core func $i "f"))))''')
    >>> files = generate(component, "demo")  # also generate(wasm_bytes, "demo")
    >>> sorted(files)
    ['demo/__init__.py', 'demo/exports/__init__.py', 'demo/imports/__init__.py', 'demo/py.typed']
    >>> "def echo(self, x: int) -> int:" in files["demo/__init__.py"]
    True
"""

from __future__ import annotations

from typing import Optional, Union

from ..reflection import model_component_type
from ..runtime.component import Component
from .command import add_arguments, main
from .docs import collect_docs
from .emit import package_sources
from .names import snake
from .world import attach_docs, build_world

__all__ = ["generate", "add_arguments", "main"]


def generate(component: Union[Component, bytes, str], name: Optional[str] = None,
             world_name: str = "root") -> dict[str, str]:
    """The bindings package for ``component`` (a ``Component``, or its binary or text): ``{relative path: source}``.

    ``name`` is the package name (default: the world's name in snake_case);
    ``world_name`` names the world class (wasm-tools names a component's world ``root``).
    """
    if not isinstance(component, Component):
        import wasmtime

        component = Component(wasmtime.Engine(), component)
    ty = model_component_type(component.type, component._engine)
    world = build_world(ty, world_name)
    attach_docs(world, collect_docs(component))
    package = snake(name) if name is not None else snake(world_name)
    return package_sources(world, package)
