"""Name maps with semver-compatible lookup, as the component model's linkers use.

Interface names may carry a version: ``wasi:cli/stdout@0.2.3``.  A component
that imports ``@0.2.1`` must still link against a host that defines
``@0.2.9``: both are the same "compatibility track".  The track key drops the
parts of the version that semver says may change compatibly:

* ``1.2.3``  -> ``@1``    (major > 0: minor and patch may grow)
* ``0.2.3``  -> ``@0.2``  (major 0: only the patch may grow)
* ``0.0.3``, pre-releases and unparsable versions have no track.

A lookup tries the exact name first, then the track; each track remembers the
highest version defined on it.

    >>> names = NameMap()
    >>> names.insert("a:b/c@0.2.9", "impl", allow_shadowing=False)
    >>> names.get("a:b/c@0.2.1")
    'impl'
    >>> names.get("a:b/c@0.3.0") is None
    True
"""

from __future__ import annotations

import re
from typing import Generic, Iterator, Optional, TypeVar

from ..errors import LinkError

V = TypeVar("V")

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)


def parse_version(text: str) -> Optional[tuple[int, int, int, str]]:
    """Parse a semver string into ``(major, minor, patch, prerelease)``, or None."""
    match = _SEMVER.match(text)
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3]), match[4] or ""


def track_key(name: str) -> Optional[tuple[str, tuple[int, int, int, str]]]:
    """The semver compatibility track of ``name`` and its version, or None."""
    base, at, version_text = name.rpartition("@")
    if not at:
        return None
    version = parse_version(version_text)
    if version is None or version[3]:
        return None
    major, minor, _patch, _pre = version
    if major > 0:
        return f"{base}@{major}", version
    if minor > 0:
        return f"{base}@0.{minor}", version
    return None


class NameMap(Generic[V]):
    """Definitions by name, with semver-compatible lookup (see the module doc)."""

    __slots__ = ("_exact", "_tracks")

    def __init__(self) -> None:
        self._exact: dict[str, V] = {}
        self._tracks: dict[str, tuple[str, tuple[int, int, int, str]]] = {}

    def insert(self, name: str, item: V, allow_shadowing: bool) -> None:
        if name in self._exact and not allow_shadowing:
            raise LinkError(f"map entry `{name}` defined twice")
        self._exact[name] = item
        track = track_key(name)
        if track is not None:
            key, version = track
            previous = self._tracks.get(key)
            if previous is None or previous[1] <= version:
                self._tracks[key] = (name, version)

    def get(self, name: str) -> Optional[V]:
        found = self._exact.get(name)
        if found is not None:
            return found
        track = track_key(name)
        if track is None:
            return None
        entry = self._tracks.get(track[0])
        return None if entry is None else self._exact.get(entry[0])

    def get_exact(self, name: str) -> Optional[V]:
        return self._exact.get(name)

    def items(self) -> Iterator[tuple[str, V]]:
        return iter(self._exact.items())

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __len__(self) -> int:
        return len(self._exact)
