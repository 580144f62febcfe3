"""``wasi:http/types.fields``: header and trailer maps with WASI's validation rules.

A :class:`Fields` keeps ``(name, value)`` entries in insertion order with the
name's original casing; names compare case-insensitively.  Mutations check,
in this order: name syntax (an RFC 9110 token), the forbidden set, whether
the map is mutable, value syntax (no control characters but tab, no DEL; a
``content-length`` is ``1*DIGIT`` fitting a u64, as wasmtime parses it), and
the total size limit.  The first four failures are
``header-error`` cases (:class:`HeaderError`); exceeding the size limit
traps, as in wasmtime.

Maps made by the guest (constructor, ``from-list``, ``clone``) are mutable;
maps handed out from a request or response (``headers()``, trailers, the map
given to an ``outgoing-*`` constructor) are immutable snapshots.  Maps that
come from the network have their forbidden headers stripped
(:meth:`Fields.incoming`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Optional

from ..ctx import trap
from .owned import Owned

# wasmtime's default set (``DEFAULT_FORBIDDEN_HEADERS``): hop-by-hop headers and ``host``.
DEFAULT_FORBIDDEN_HEADERS = frozenset({
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
    "http2-settings",
})
DEFAULT_FIELD_SIZE_LIMIT = 128 * 1024
# Per-entry bookkeeping charged against the size limit (wasmtime charges its struct sizes).
ENTRY_OVERHEAD = 32

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class HeaderError(Exception):
    """A failed mutation: ``case`` is the ``header-error`` case name."""

    def __init__(self, case: str) -> None:
        super().__init__(case)
        self.case = case


def valid_name(name: str) -> bool:
    """Whether ``name`` is a syntactically valid field name (an RFC 9110 token)."""
    return isinstance(name, str) and _TOKEN.fullmatch(name) is not None


def valid_value(value: bytes) -> bool:
    """Whether ``value`` is a valid field value: no control byte but tab, no DEL."""
    return all((b >= 0x20 and b != 0x7F) or b == 0x09 for b in value)


U64_MAX = 2**64 - 1


def valid_content_length(value: bytes) -> bool:
    """A ``content-length`` value as wasmtime accepts it in a map: ``1*DIGIT`` that fits a u64."""
    return value.isdigit() and value.isascii() and int(value) <= U64_MAX


def _entry_size(name: str, value: bytes) -> int:
    return len(name) + len(value) + ENTRY_OVERHEAD


class Fields(Owned):
    """The ``fields`` resource (also ``headers`` and ``trailers``)."""

    __slots__ = ("entries", "mutable", "forbidden", "limit", "size")

    def __init__(
        self,
        forbidden: frozenset[str] = DEFAULT_FORBIDDEN_HEADERS,
        limit: int = DEFAULT_FIELD_SIZE_LIMIT,
        mutable: bool = True,
    ) -> None:
        super().__init__()
        self.entries: list[tuple[str, bytes]] = []
        self.mutable = mutable
        self.forbidden = forbidden
        self.limit = limit
        self.size = 0

    @classmethod
    def incoming(
        cls, pairs: Iterable[tuple[str, bytes]], forbidden: frozenset[str], limit: int
    ) -> Fields:
        """An immutable map of headers received from outside: forbidden and invalid entries dropped."""
        out = cls(forbidden, limit, mutable=False)
        for name, value in pairs:
            if valid_name(name) and name.lower() not in forbidden and valid_value(value):
                out.entries.append((name, bytes(value)))
                out.size += _entry_size(name, value)
        return out

    def snapshot(self, mutable: bool = False) -> Fields:
        """A copy (immutable unless ``mutable``)."""
        out = Fields(self.forbidden, self.limit, mutable)
        out.entries = list(self.entries)
        out.size = self.size
        return out

    # -------------------------------------------------------- queries

    def get(self, name: str) -> list[bytes]:
        if not valid_name(name):
            return []
        key = name.lower()
        return [v for n, v in self.entries if n.lower() == key]

    def has(self, name: str) -> bool:
        if not valid_name(name):
            return False
        key = name.lower()
        return any(n.lower() == key for n, _ in self.entries)

    def first(self, name: str) -> Optional[bytes]:
        values = self.get(name)
        return values[0] if values else None

    # -------------------------------------------------------- mutations

    def _check(self, name: str, values: Iterable[bytes] = ()) -> str:
        if not valid_name(name):
            raise HeaderError("invalid-syntax")
        key = name.lower()
        if key in self.forbidden:
            raise HeaderError("forbidden")
        if not self.mutable:
            raise HeaderError("immutable")
        if not all(valid_value(v) for v in values):
            raise HeaderError("invalid-syntax")
        if key == "content-length" and not all(valid_content_length(v) for v in values):
            raise HeaderError("invalid-syntax")  # wasmtime parses it as a u64 on the way in
        return key

    def _resize(self, size: int) -> None:
        if size > self.limit:
            raise trap("total size of fields exceeds limit")
        self.size = size

    def set(self, name: str, values: list[bytes]) -> None:
        key = self._check(name, values)
        kept = [(n, v) for n, v in self.entries if n.lower() != key]
        removed = sum(_entry_size(n, v) for n, v in self.entries if n.lower() == key)
        position = next((i for i, (n, _) in enumerate(self.entries) if n.lower() == key), len(kept))
        self._resize(self.size - removed + sum(_entry_size(name, v) for v in values))
        self.entries = kept[:position] + [(name, bytes(v)) for v in values] + kept[position:]

    def delete(self, name: str) -> None:
        key = self._check(name)
        self.size -= sum(_entry_size(n, v) for n, v in self.entries if n.lower() == key)
        self.entries = [(n, v) for n, v in self.entries if n.lower() != key]

    def append(self, name: str, value: bytes) -> None:
        self._check(name, (value,))
        self._resize(self.size + _entry_size(name, value))
        self.entries.append((name, bytes(value)))

    @classmethod
    def from_list(cls, pairs: list[tuple[str, bytes]], forbidden: frozenset[str], limit: int) -> Fields:
        """``from-list``: a mutable map, each entry appended with the usual checks."""
        out = cls(forbidden, limit)
        for name, value in pairs:
            out.append(name, value)
        return out
