"""Docs and feature gates from a binary's ``package-docs`` custom section.

The component binary format has no place for doc comments or ``@since`` /
``@unstable`` gates, so wit-component stores them in a custom section named
``package-docs``: a version byte (0 or 1), then JSON describing the *main*
package of the decoded WIT (``root:component`` for a component, the package
itself for a WIT package): its docs, and per world and interface the docs and
stability of their items.  This module reads it as wit-parser's
``metadata.rs`` does and writes it into the decoded model.

Like wasm-tools, a section that is not valid (bad JSON, unknown fields, a name
that matches nothing) fails: here with a :class:`~wasmcomponent.errors.DecodeError`
saying what is wrong.  Reading is linear in the section's size; JSON nested
deeper than Python's parser allows is reported the same way.

JSON shape (every key optional)::

    {"docs": "...",
     "worlds": {"root": {"docs": .., "stability": .., "funcs": {name: func}, "func_exports": {..},
                         "interfaces": {name: iface}, "interface_exports": {..}, "types": {name: type},
                         "interface_import_stability": {id: stability}, "interface_export_stability": {..},
                         "interface_import_docs": {id: "..."}, "interface_export_docs": {..}}},
     "interfaces": {name: {"docs": .., "stability": .., "funcs": {..}, "types": {..}}}}

where a stability is ``"unknown"``, ``{"stable": {"since": "1.0.0"}}`` or
``{"unstable": {"feature": "x"}}`` (either with an optional
``"deprecated"`` version), a function is ``{"docs": .., "stability": ..}`` (or
just its docs string, the old format), and a type is ``{"docs": ..,
"stability": .., "items": {member: "docs"}}``.
"""

from __future__ import annotations

import json
from typing import Any, Optional, Union

from ..binary import ast
from ..errors import DecodeError
from . import model as w

__all__ = ["SECTION_NAME", "apply_package_docs"]

SECTION_NAME = "package-docs"

_Member = Union[w.Field, w.Case, w.EnumCase, w.Flag]


class _Invalid(Exception):
    pass


def _sections(tree: ast.ComponentAST) -> list[ast.CustomSection]:
    """Every ``package-docs`` section, in this component and the components nested in it."""
    found: list[ast.CustomSection] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        found.extend(s for s in node.custom_sections if s.name == SECTION_NAME)
        stack.extend(s.component for s in node.sections if isinstance(s, ast.ComponentSection))
    return found


def apply_package_docs(tree: ast.ComponentAST, resolve: w.Resolve) -> None:
    """Attach the docs and gates of ``tree``'s ``package-docs`` section (if any) to ``resolve.main``."""
    sections = _sections(tree)
    if not sections:
        return
    if len(sections) > 1:
        raise DecodeError(f"multiple {SECTION_NAME!r} sections")
    section = sections[0]
    data = section.data
    if not data or data[0] not in (0, 1):
        got = data[0] if data else None
        raise DecodeError(f"expected package-docs version 1, got {got}", section.offset)
    try:
        meta = json.loads(data[1:].decode("utf-8"))
        _package(meta, resolve.main)
    except (ValueError, RecursionError) as err:  # bad UTF-8/JSON, or nested past the parser's limit
        raise DecodeError(f"invalid {SECTION_NAME!r} section: {str(err)[:200]}", section.offset) from None
    except _Invalid as err:
        raise DecodeError(f"invalid {SECTION_NAME!r} section: {err}", section.offset) from None


# ------------------------------------------------------------ JSON checks


def _object(value: Any, keys: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f"{what} is not an object")
    unknown = set(value) - keys
    if unknown:
        raise _Invalid(f"unknown field `{sorted(unknown)[0]}` in {what}")
    return value


def _text(value: Any, what: str) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    raise _Invalid(f"{what} is not a string")


def _map(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(f"{what} is not an object")
    return value


def _stability(value: Any, what: str) -> w.Stability:
    if value is None or value == "unknown":
        return w.NO_GATE
    if isinstance(value, dict) and len(value) == 1:
        (tag, body), = value.items()
        if tag == "stable":
            body = _object(body, frozenset({"since", "deprecated"}), what)
            since = _text(body.get("since"), what)
            if since is None:
                raise _Invalid(f"{what}: `since` is missing")
            return w.Stability(since=since, deprecated=_text(body.get("deprecated"), what))
        if tag == "unstable":
            body = _object(body, frozenset({"feature", "deprecated"}), what)
            feature = _text(body.get("feature"), what)
            if feature is None:
                raise _Invalid(f"{what}: `feature` is missing")
            return w.Stability(unstable_feature=feature, deprecated=_text(body.get("deprecated"), what))
    raise _Invalid(f"{what} is not a stability")


# ------------------------------------------------------------ injection

_PACKAGE_KEYS = frozenset({"docs", "worlds", "interfaces"})
_WORLD_KEYS = frozenset({
    "docs", "stability", "interfaces", "types", "funcs", "interface_exports", "func_exports",
    "interface_import_stability", "interface_export_stability", "interface_import_docs", "interface_export_docs",
})
_INTERFACE_KEYS = frozenset({"docs", "stability", "funcs", "types"})
_TYPE_KEYS = frozenset({"docs", "stability", "items"})
_FUNC_KEYS = frozenset({"docs", "stability"})


def _apply_each(data: Any, key: str, items: Any, what: str, apply: Any) -> None:
    """``apply(entry, item)`` for each ``data[key]`` entry, on the model's item of that name."""
    for name, entry in _map(data.get(key), key).items():
        item = items.get(name)
        if item is None:
            raise _Invalid(f"missing {what} {name!r}")
        apply(entry, item)


def _package(meta: Any, package: w.Package) -> None:
    meta = _object(meta, _PACKAGE_KEYS, "package metadata")
    _apply_each(meta, "worlds", package.worlds, "world", _world)
    _apply_each(meta, "interfaces", package.interfaces, "interface", _interface)
    docs = _text(meta.get("docs"), "package docs")
    if docs is not None:
        package.docs = docs


def _interface(data: Any, iface: w.Interface) -> None:
    data = _object(data, _INTERFACE_KEYS, "interface metadata")
    _apply_each(data, "types", iface.types, "type", _type)
    _apply_each(data, "funcs", iface.functions, "func", _function)
    docs = _text(data.get("docs"), "interface docs")
    if docs is not None:
        iface.docs = docs
    iface.stability = _stability(data.get("stability"), "interface stability")


def _function(data: Any, func: w.Function) -> None:
    if data is None or isinstance(data, str):  # the old format: just the docs
        func.docs = data
        return
    data = _object(data, _FUNC_KEYS, "function metadata")
    func.docs = _text(data.get("docs"), "function docs")
    func.stability = _stability(data.get("stability"), "function stability")


def _members(kind: w.TypeDefKind) -> Optional[tuple[_Member, ...]]:
    if isinstance(kind, w.Record):
        return kind.fields
    if isinstance(kind, w.Variant):
        return kind.cases
    if isinstance(kind, w.Enum):
        return kind.cases
    if isinstance(kind, w.Flags):
        return kind.flags
    return None


def _type(data: Any, typedef: w.TypeDef) -> None:
    data = _object(data, _TYPE_KEYS, "type metadata")
    items = _map(data.get("items"), "items")
    if items:
        members = _members(typedef.kind)
        if members is None:
            raise _Invalid(f"got 'items' for unexpected type `{typedef.name}`")
        unused = len(items)
        for member in members:
            if member.name in items:
                member.docs = _text(items[member.name], "item docs")
                unused -= 1
        if unused:
            raise _Invalid(f"not all 'items' match the members of type `{typedef.name}`")
    docs = _text(data.get("docs"), "type docs")
    if docs is not None:
        typedef.docs = docs
    typedef.stability = _stability(data.get("stability"), "type stability")


def _world(data: Any, world: w.World) -> None:
    data = _object(data, _WORLD_KEYS, "world metadata")
    # Inline (plain-named) interfaces: imports first, else exports; `interface_exports` only exports.
    for only_export, key in ((False, "interfaces"), (True, "interface_exports")):
        for name, item in _map(data.get(key), key).items():
            found = world.exports.get(name) if only_export else world.imports.get(name, world.exports.get(name))
            if not isinstance(found, w.InterfaceItem) or found.named:
                raise _Invalid(f"missing interface {name!r}")
            _interface(item, found.interface)
            found.stability = found.interface.stability
    for name, item in _map(data.get("types"), "types").items():
        typed = world.imports.get(name)
        if not isinstance(typed, w.TypeItem):
            raise _Invalid(f"missing type {name!r}")
        _type(item, typed.typedef)
    # Interfaces imported or exported by reference (`import ns:pkg/iface;`), keyed by their ID.
    for imported, key, attribute in (
        (True, "interface_import_stability", "stability"), (False, "interface_export_stability", "stability"),
        (True, "interface_import_docs", "docs"), (False, "interface_export_docs", "docs"),
    ):
        for name, value in _map(data.get(key), key).items():
            found = (world.imports if imported else world.exports).get(name)
            if not isinstance(found, w.InterfaceItem):
                raise _Invalid(f"missing interface `{name}`")
            if attribute == "stability":
                found.stability = _stability(value, "interface stability")
            else:
                found.docs = _text(value, "interface docs")
    for only_export, key in ((False, "funcs"), (True, "func_exports")):
        for name, item in _map(data.get(key), key).items():
            found = world.exports.get(name) if only_export else world.imports.get(name, world.exports.get(name))
            if not isinstance(found, w.FunctionItem):
                raise _Invalid(f"missing func {name!r}")
            _function(item, found.function)
    docs = _text(data.get("docs"), "world docs")
    if docs is not None:
        world.docs = docs
    world.stability = _stability(data.get("stability"), "world stability")
