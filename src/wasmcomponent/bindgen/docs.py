"""The component's WIT docs, for the generated docstrings (from :mod:`wasmcomponent.wit`).

Components built by a toolchain usually carry no docs; when one has a
``package-docs`` section, :func:`collect_docs` reads it through the WIT
model and indexes the docs by where they go: the world, an interface (by
its import/export name), a type, a variant case, a function.  The text is
untrusted: :mod:`.emit` only ever writes it through ``repr()``, as a string
literal.

    >>> index = Docs()
    >>> index.add(("exports", "a:b/c", "type", "point"), "A point.")
    >>> index.get("exports", "a:b/c", "type", "point"), index.get("exports", "a:b/c", "func", "f")
    ('A point.', None)
"""

from __future__ import annotations

from typing import Optional

from ..errors import ComponentError
from ..runtime.component import Component
from ..wit import model as w

__all__ = ["Docs", "collect_docs", "MAX_DOC_CHARS"]

# A longer doc is cut (with "..."), so docstrings stay readable and the package bounded.
MAX_DOC_CHARS = 4000


class Docs:
    """Docs by place: ``(direction, interface key or None, kind, name[, case])``."""

    def __init__(self) -> None:
        self._docs: dict[tuple[Optional[str], ...], str] = {}

    def add(self, place: tuple[Optional[str], ...], text: Optional[str]) -> None:
        if text:
            self._docs[place] = text if len(text) <= MAX_DOC_CHARS else text[:MAX_DOC_CHARS] + "..."

    def get(self, *place: Optional[str]) -> Optional[str]:
        return self._docs.get(place)


def collect_docs(component: Component) -> Docs:
    """The docs ``component`` carries (none when its WIT cannot be decoded)."""
    from ..wit.decode import decode

    docs = Docs()
    try:
        world = decode(component).world
    except ComponentError:
        return docs  # the bindings do not need docs; `wasmcomponent wit` reports the error
    docs.add(("world",), world.docs)
    for direction, items in (("imports", world.imports), ("exports", world.exports)):
        for key, item in items.items():
            if isinstance(item, w.FunctionItem):
                docs.add((direction, None, "func", key), item.function.docs)
            elif isinstance(item, w.InterfaceItem):
                _interface(docs, direction, key, item)
    return docs


def _interface(docs: Docs, direction: str, key: str, item: w.InterfaceItem) -> None:
    iface = item.interface
    docs.add((direction, key, "interface", None), iface.docs or item.docs)
    for name, typedef in iface.types.items():
        docs.add((direction, key, "type", name), typedef.docs)
        if isinstance(typedef.kind, w.Variant):
            for case in typedef.kind.cases:
                docs.add((direction, key, "case", name, case.name), case.docs)
    for name, func in iface.functions.items():
        docs.add((direction, key, "func", name), func.docs)
