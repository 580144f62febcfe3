"""Python identifiers for WIT names, as componentize-py spells them, made safe.

WIT names are kebab-case (``full-name``); componentize-py turns them into
``full_name`` (functions, fields, parameters, modules), ``FullName`` (types,
interfaces, worlds) and ``FULL_NAME`` (enum and flags members), and appends
``_`` to a Python keyword.  The names come from a component that may be
hostile, so every name is also forced into a valid identifier: characters
other than ASCII letters, digits and ``_`` become ``_``, a leading digit gets
a ``_`` in front, and a name that is a keyword, a builtin or one of the
generator's reserved names gets a trailing ``_``.  A :class:`Namespace` then
keeps names unique within one Python scope.

    >>> snake("full-name"), pascal("host-api"), upper("dark-blue")
    ('full_name', 'HostApi', 'DARK_BLUE')
    >>> snake("type"), pascal("none"), snake("x\\"); import os #")
    ('type_', 'None_', 'x_import_os')
"""

from __future__ import annotations

import builtins
import keyword
import re

__all__ = ["snake", "pascal", "upper", "Namespace", "AVOID"]

_NOT_IDENT = re.compile(r"[^A-Za-z0-9_]")

# Names a generated identifier must not take: keywords (soft ones included, since
# ``match``/``case``/``type``/``_`` read badly as names) and builtins, which a
# parameter or a module-level class would shadow in generated code.
AVOID = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))


def _words(name: str) -> list[str]:
    return [w for w in _NOT_IDENT.sub("_", name.replace("-", "_")).split("_") if w]


def _safe(ident: str, reserved: frozenset[str] = frozenset()) -> str:
    if not ident:
        ident = "_"
    if ident[0].isdigit():
        ident = "_" + ident
    while ident in AVOID or ident in reserved:
        ident += "_"
    return ident


def snake(name: str, reserved: frozenset[str] = frozenset()) -> str:
    """``full-name`` -> ``full_name`` (functions, fields, parameters, modules, attributes)."""
    return _safe("_".join(w.lower() for w in _words(name)), reserved)


def pascal(name: str, reserved: frozenset[str] = frozenset()) -> str:
    """``host-api`` -> ``HostApi`` (types, interfaces, worlds)."""
    return _safe("".join(w[:1].upper() + w[1:].lower() for w in _words(name)), reserved)


def upper(name: str, reserved: frozenset[str] = frozenset()) -> str:
    """``dark-blue`` -> ``DARK_BLUE`` (enum and flags members)."""
    return _safe("_".join(w.upper() for w in _words(name)), reserved)


class Namespace:
    """Unique identifiers in one Python scope: a clash gets ``_`` appended until it is free.

    >>> ns = Namespace({"close"})
    >>> ns.add("close"), ns.add("a"), ns.add("a")
    ('close_', 'a', 'a_')
    """

    def __init__(self, reserved: set[str] | frozenset[str] = frozenset()) -> None:
        self._taken: set[str] = set(reserved)

    def add(self, ident: str) -> str:
        """Take ``ident`` (already a valid identifier), or the first free variant of it."""
        while ident in self._taken or ident in AVOID:
            ident += "_"
        self._taken.add(ident)
        return ident
