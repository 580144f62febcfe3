"""Lazy references to strings and lists still in a caller's linear memory.

Inside a fused adapter (a guest-to-guest call, ``cx.fused``) a lifted string
or list of scalars is not decoded into a Python value.  Lifting checks the
source range exactly as wasmtime's adapter does (alignment, then bounds) and
returns a :class:`StringRef` / :class:`ListRef` naming the source memory,
pointer, length and encoding.  Lowering the reference into the other side
(:mod:`.transcode`) calls the destination's ``realloc`` first, with the sizes
wasmtime's adapter computes, and only then reads the source and writes the
destination.  A 2 GiB string whose allocation traps is thus never touched.

Why a reference stays valid until it is lowered
------------------------------------------------
* Parameters: lifted from the caller, whose code is suspended in the adapter
  call, then lowered into the callee before the callee runs.  The only wasm
  that runs in between is the callee's ``realloc``; it may grow, or even
  scribble over, the callee's memory, which is the caller's memory only when
  both sides share it.  Wasmtime reads the source after that same
  ``realloc``, so reading after it is the reference behaviour.  Memory never
  shrinks, so the bounds checked at lift time still hold; every read takes a
  fresh view (``memory.view()``) after the last ``realloc``.
* Results: lifted from the callee, then lowered into the caller, whose
  ``realloc`` runs in the caller.  The callee's ``post-return`` must not run
  before the result is lowered (wasmtime runs it afterwards).  Until the
  runtime guarantees that order (``LiftLowerContext.lazy_results``), results
  lifted with a ``post-return`` option are detached: their raw bytes are
  copied (not decoded) into a :class:`Snapshot` right away.

Other values lifted in a fused adapter
--------------------------------------
Because strings and lists arrive as references, the Python classes that
pick the case of an *untagged* ``variant``/``option``/``result`` on lowering
(:mod:`wasmcomponent.types.values`) no longer apply.  So a fused lift
returns every non-enum variant-like value as a :class:`FusedCase` holding the
case index, and lowering takes the index from it.  Likewise a ``map`` is
lifted as a ``list`` of ``(key, value)`` tuples, in order and with duplicate
keys kept, never as a ``dict`` (see :mod:`.lift`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..types.abi import UTF16_TAG
from ..types.model import PrimType
from .context import GuestMemoryLike, LiftLowerContext

__all__ = [
    "StringRef",
    "ListRef",
    "Snapshot",
    "FusedCase",
    "LIST_REF_ELEMENTS",
    "string_ref",
    "list_ref",
    "detaching",
]

# Scalar element types whose lists are copied memory-to-memory.
LIST_REF_ELEMENTS: frozenset[str] = frozenset(
    ("bool", "u8", "s8", "u16", "s16", "u32", "s32", "u64", "s64", "f32", "f64", "char")
)


class Snapshot:
    """A private, read-only copy of a byte range, usable as a ``GuestMemoryLike``."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def view(self) -> memoryview:
        return memoryview(self.data)

    def size(self) -> int:
        return len(self.data)


class StringRef:
    """A string at ``ptr`` in ``memory``: ``units`` code units of ``encoding``.

    ``encoding`` is the simple source encoding (``utf8``, ``utf16`` or
    ``latin1``); ``compact`` tells that the source option was
    ``latin1+utf16`` (wasmtime transcodes a tagged utf16 source into
    ``latin1+utf16`` differently from a plain utf16 one).  The range was
    checked when the reference was made.
    """

    __slots__ = ("memory", "ptr", "units", "encoding", "compact")

    def __init__(self, memory: GuestMemoryLike, ptr: int, units: int, encoding: str, compact: bool) -> None:
        self.memory = memory
        self.ptr = ptr
        self.units = units
        self.encoding = encoding
        self.compact = compact

    @property
    def unit_size(self) -> int:
        return 2 if self.encoding == "utf16" else 1

    @property
    def tagged_units(self) -> int:
        """The code units as the source guest passed them (tagged for compact utf16)."""
        if self.compact and self.encoding == "utf16":
            return self.units | UTF16_TAG
        return self.units

    def read(self, start: int = 0, end: int | None = None) -> memoryview:
        """A fresh view of code units ``[start, end)`` (take it after the last realloc)."""
        size = self.unit_size
        stop = self.units if end is None else end
        return self.memory.view()[self.ptr + size * start : self.ptr + size * stop]

    def detached(self) -> StringRef:
        """The same string over a private copy of its bytes."""
        return StringRef(Snapshot(bytes(self.read())), 0, self.units, self.encoding, self.compact)

    def __repr__(self) -> str:
        return f"StringRef({self.encoding}, ptr={self.ptr}, units={self.units}, compact={self.compact})"


class ListRef:
    """``length`` elements of scalar type ``elem`` at ``ptr`` in ``memory`` (range checked)."""

    __slots__ = ("memory", "ptr", "length", "elem", "size", "align")

    def __init__(self, memory: GuestMemoryLike, ptr: int, length: int, elem: PrimType, size: int, align: int) -> None:
        self.memory = memory
        self.ptr = ptr
        self.length = length
        self.elem = elem
        self.size = size
        self.align = align

    def read(self) -> memoryview:
        """A fresh view of the elements' bytes (take it after the last realloc)."""
        return self.memory.view()[self.ptr : self.ptr + self.length * self.size]

    def detached(self) -> ListRef:
        """The same list over a private copy of its bytes."""
        return ListRef(Snapshot(bytes(self.read())), 0, self.length, self.elem, self.size, self.align)

    def __repr__(self) -> str:
        return f"ListRef({self.elem.name}, ptr={self.ptr}, length={self.length})"


class FusedCase:
    """A variant-like value lifted in a fused adapter: case ``index`` and its ``payload``.

    Never seen by host code; lowering the same type uses ``index`` directly.
    """

    __slots__ = ("index", "payload")

    def __init__(self, index: int, payload: Any) -> None:
        self.index = index
        self.payload = payload

    def __eq__(self, other: object) -> bool:
        return type(other) is FusedCase and (self.index, self.payload) == (other.index, other.payload)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FusedCase({self.index}, {self.payload!r})"


def _maybe_detach(cx: LiftLowerContext, ref: Any) -> Any:
    return ref.detached() if cx.detach_refs else ref


def string_ref(cx: LiftLowerContext, ptr: int, units: int, encoding: str, compact: bool) -> StringRef:
    """A reference to an already range-checked string in ``cx.memory``."""
    assert cx.memory is not None, "canonical option `memory` missing"
    return _maybe_detach(cx, StringRef(cx.memory, ptr, units, encoding, compact))  # type: ignore[no-any-return]


def list_ref(cx: LiftLowerContext, ptr: int, length: int, elem: PrimType, size: int, align: int) -> ListRef:
    """A reference to an already range-checked list of scalars in ``cx.memory``."""
    assert cx.memory is not None, "canonical option `memory` missing"
    return _maybe_detach(cx, ListRef(cx.memory, ptr, length, elem, size, align))  # type: ignore[no-any-return]


ResultLifter = Callable[[LiftLowerContext, Sequence[Any]], Any]


def detaching(lift: ResultLifter) -> ResultLifter:
    """Wrap a results lifter so that references it makes are detached when they must be.

    That is when a fused call's callee has a ``post-return`` that the
    runtime may run before the results are lowered (``not cx.lazy_results``).
    """

    def lift_results(cx: LiftLowerContext, flat: Sequence[Any]) -> Any:
        if cx.fused and cx.options.has_post_return and not cx.lazy_results:
            cx.detach_refs = True
            try:
                return lift(cx, flat)
            finally:
                cx.detach_refs = False
        return lift(cx, flat)

    return lift_results
