"""Stream and future buffers: many elements of one type in guest memory.

``stream.read``/``stream.write`` (and the future ones) name a buffer of
``n`` elements of the stream's payload type at ``ptr`` in the caller's
memory.  :func:`element_codec` builds, once per payload type, an
:class:`ElementCodec` that moves whole buffers:

* ``load_many(cx, ptr, n) -> list`` lifts ``n`` elements from a *write*
  buffer (what a writer offers), spec ``load_list_from_valid_range`` in
  ``ReadableBufferGuestImpl.read``;
* ``store_many(cx, values, ptr)`` lowers ``values`` into a *read* buffer
  (what a reader offers), spec ``store_list_into_valid_range`` in
  ``WritableBufferGuestImpl.write``;
* ``load_bytes``/``store_bytes`` copy the raw bytes of a ``plain`` payload,
  one slice of the memory view each way, never one Python object per
  element.

The range is checked once for the whole buffer: ``ptr`` aligned to the
element's alignment, ``ptr + n * size`` within the memory, with wasmtime's
messages (``futures_and_streams.rs``): "write pointer not aligned", "write
pointer out of bounds of memory" for a write buffer, "read pointer ..." for
a read buffer; a context with ``fused=True`` (a guest-to-guest copy) gives
the guest-to-guest wording ("write pointer out of bounds").  As in the spec
(``BufferGuestImpl``), an empty buffer or a payload-less element type
(``t is None``, size 0) is not checked at all.  :meth:`ElementCodec.check`
makes the same check alone, for a runtime that validates a buffer when the
operation starts and copies into it later.  The element count limit
(``2**28 - 1``, wasmtime's "stream read/write count too large") is the
caller's to enforce.

Plain payloads
--------------
``plain`` is true for ``u8 s8 u16 s16 u32 s32 u64 s64 f32 f64``: every bit
pattern is a valid value and lifting then lowering it writes the same bytes,
so a copy may skip the Python values (wasmtime's
``allow_intra_component_read_write`` list; it also copies these flat).
Floats count: NaNs are not canonicalised here (as in wasmtime), so a NaN's
payload bits survive a lift/lower round trip just as they survive the raw
copy.  ``bool`` is not plain (a byte ``2`` must be read as ``True`` and
written back as ``1``), nor ``char`` (surrogates and values past U+10FFFF
trap), nor anything with padding, pointers or handles.

Hostcall fuel: ``load_many`` refuels the context and charges ``n`` times
the per-element list cost before lifting (wasmtime charges
``count * size_of::<Val>()`` when it lifts a stream copy's values), so
elements holding strings or lists are bounded like a lifted list.  With a
fused context, strings and lists of scalars inside elements are lazy
references (:mod:`.refs`): lower them before the source memory changes.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Callable, Optional, Sequence

from ..types.abi import alignment, elem_size
from ..types.model import U8, PrimType, ValType
from ..types.values import prefix_error
from . import lift as interp_lift
from . import lower as interp_lower
from .context import LIST_ELEMENT_FUEL, LiftLowerContext
from .load import _bulk_unpacker, loader
from .store import elements_storer, storer

__all__ = ["ElementCodec", "element_codec", "PLAIN_ELEMENTS"]

# Payload types whose raw bytes are their values (see the module docstring).
PLAIN_ELEMENTS: frozenset[str] = frozenset(("u8", "s8", "u16", "s16", "u32", "s32", "u64", "s64", "f32", "f64"))

_FORCE_INTERPRETER_ENV = "WASMCOMPONENT_FORCE_INTERPRETER"  # the same switch as abi.compile

LoadMany = Callable[[LiftLowerContext, int, int], list]
StoreMany = Callable[[LiftLowerContext, Sequence[Any], int], None]


class ElementCodec:
    """Buffer code for one stream/future payload type (see the module docstring).

    ``type`` is the payload type (``None``: no payload), ``size`` and
    ``alignment`` its layout (0 and 1 without payload), ``plain`` whether
    :meth:`load_bytes`/:meth:`store_bytes` may be used.
    """

    __slots__ = ("type", "size", "alignment", "plain", "load_many", "store_many")

    type: Optional[ValType]
    size: int
    alignment: int
    plain: bool
    load_many: LoadMany
    store_many: StoreMany

    def __repr__(self) -> str:
        return f"ElementCodec({self.type!r}, size={self.size}, alignment={self.alignment}, plain={self.plain})"

    def check(self, cx: LiftLowerContext, ptr: int, n: int, kind: str) -> int:
        """Check a buffer of ``n`` elements at ``ptr``; return the (masked) pointer.

        ``kind`` is ``"write"`` (a writer's buffer, elements are lifted from
        it) or ``"read"`` (a reader's buffer, elements are stored into it).
        """
        if self.type is None or n <= 0:
            return ptr & cx.ptr_mask
        assert cx.memory is not None, "canonical option `memory` missing"
        return _check_range(cx, cx.memory.size(), ptr, n, self.size, self.alignment, kind)

    def load_bytes(self, cx: LiftLowerContext, ptr: int, n: int) -> bytes:
        """The raw bytes of ``n`` plain elements at ``ptr`` in a write buffer (checked)."""
        if not self.plain:
            raise TypeError(f"elements of type {self.type!r} are not plain bytes")
        if n <= 0:
            return b""
        mv = cx.view()
        ptr = _check_range(cx, len(mv), ptr, n, self.size, self.alignment, "write")
        return bytes(mv[ptr : ptr + n * self.size])

    def store_bytes(self, cx: LiftLowerContext, data: Any, ptr: int) -> None:
        """Copy the raw bytes of whole plain elements (bytes-like ``data``) into a read buffer at ``ptr``."""
        if not self.plain:
            raise TypeError(f"elements of type {self.type!r} are not plain bytes")
        length = len(data) if not isinstance(data, memoryview) else data.nbytes
        n, rest = divmod(length, self.size)
        if rest:
            raise ValueError(f"{length} bytes are not a whole number of {self.size}-byte elements")
        if not n:
            return
        mv = cx.view()
        ptr = _check_range(cx, len(mv), ptr, n, self.size, self.alignment, "read")
        mv[ptr : ptr + length] = data if not isinstance(data, memoryview) else data.cast("B")


def _check_range(cx: LiftLowerContext, mem_size: int, ptr: int, n: int, size: int, align: int, kind: str) -> int:
    """Spec ``BufferGuestImpl`` checks (alignment, then bounds, as wasmtime); return the masked pointer."""
    ptr &= cx.ptr_mask
    if ptr % align:
        cx.trap(kind + "-align")
    if ptr + n * size > mem_size:  # Python ints: never wraps
        cx.trap(kind + "-bounds")
    return ptr


def _values(values: Any) -> Sequence[Any]:
    """Check the container of the values to store: a list or tuple."""
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"expected a list of elements, found `{type(values).__name__}`")
    return values


def _charge(cx: LiftLowerContext, n: int) -> None:
    """A host-side lift of ``n`` elements: a full tank, then the per-element cost (wasmtime)."""
    cx.refuel()
    if cx.fuel is not None:
        cx.charge(n * LIST_ELEMENT_FUEL)


def element_codec(
    t: Optional[ValType], encoding: str = "utf8", memory64: bool = False, *, interpret: bool | None = None
) -> ElementCodec:
    """The (cached) :class:`ElementCodec` of payload type ``t`` (``None``: no payload).

    Strings are encoded as the context says at call time (``encoding`` is
    accepted so callers can key on it); ``memory64`` gives the 64-bit
    layout and runs on the interpreters (:mod:`.lift`, :mod:`.lower`), as
    does ``interpret=True`` or ``WASMCOMPONENT_FORCE_INTERPRETER=1``.
    """
    if memory64:
        interpret = True
    elif interpret is None:
        interpret = os.environ.get(_FORCE_INTERPRETER_ENV, "") not in ("", "0")
    return _element_codec(t, interpret, memory64)


@lru_cache(maxsize=1024)  # bounded: payload types of components long gone must not pile up
def _element_codec(t: Optional[ValType], interpret: bool, memory64: bool) -> ElementCodec:
    codec = ElementCodec()
    codec.type = t
    if t is None:
        codec.size, codec.alignment, codec.plain = 0, 1, False
        codec.load_many, codec.store_many = _unit_load_many, _unit_store_many
        return codec
    codec.size = size = elem_size(t, memory64)
    codec.alignment = align = alignment(t, memory64)
    codec.plain = isinstance(t, PrimType) and t.name in PLAIN_ELEMENTS
    if interpret:
        codec.load_many, codec.store_many = _interpreted(t, size, align)
    else:
        codec.load_many, codec.store_many = _load_many(t, size, align), _store_many(t, size, align)
    return codec


def _unit_load_many(cx: LiftLowerContext, ptr: int, n: int) -> list:
    """Elements without payload: nothing in memory, ``None`` each."""
    return [None] * n


def _unit_store_many(cx: LiftLowerContext, values: Sequence[Any], ptr: int) -> None:
    for i, v in enumerate(_values(values)):
        if v is not None:
            raise TypeError(f"element {i}: expected `None` (no payload), found `{type(v).__name__}`")


def _interpreted(t: ValType, size: int, align: int) -> tuple[LoadMany, StoreMany]:
    """Spec-shaped buffer code on :func:`.lift.load`/:func:`.lower.store` (any pointer width)."""

    def load_many(cx: LiftLowerContext, ptr: int, n: int) -> list:
        if n <= 0:
            return []
        ptr = _check_range(cx, cx.view().nbytes, ptr, n, size, align, "write")
        _charge(cx, n)
        return [interp_lift.load(cx, ptr + i * size, t) for i in range(n)]

    def store_many(cx: LiftLowerContext, values: Sequence[Any], ptr: int) -> None:
        if t == U8 and isinstance(values, (bytes, bytearray, memoryview)):
            values = list(values.tobytes() if isinstance(values, memoryview) else values)
        items = _values(values)
        if not items:
            return
        ptr = _check_range(cx, cx.view().nbytes, ptr, len(items), size, align, "read")
        for i, v in enumerate(items):
            try:
                interp_lower.store(cx, v, t, ptr + i * size)
            except (TypeError, ValueError) as err:
                raise prefix_error(err, f"element {i}") from None

    return load_many, store_many


def _load_many(t: ValType, size: int, align: int) -> LoadMany:
    """Generated-path ``load_many``: one view, one range check, then bulk or per-element loads."""
    bulk = _bulk_unpacker(t)
    if t == U8:

        def load_u8(cx: LiftLowerContext, ptr: int, n: int) -> list:
            if n <= 0:
                return []
            mv = cx.view()
            ptr = _check_range(cx, len(mv), ptr, n, 1, 1, "write")
            _charge(cx, n)
            return list(mv[ptr : ptr + n])

        return load_u8
    if bulk is not None:  # numbers, bool, char: one struct/array call (char still checked per value)

        def load_bulk(cx: LiftLowerContext, ptr: int, n: int) -> list:
            if n <= 0:
                return []
            mv = cx.view()
            ptr = _check_range(cx, len(mv), ptr, n, size, align, "write")
            _charge(cx, n)
            return bulk(cx, mv, ptr, n)  # type: ignore[no-any-return]

        return load_bulk
    load = loader(t)

    def load_each(cx: LiftLowerContext, ptr: int, n: int) -> list:
        if n <= 0:
            return []
        mv = cx.view()
        ptr = _check_range(cx, len(mv), ptr, n, size, align, "write")
        _charge(cx, n)
        if not size:  # only types validation refuses (`flags` without labels) have no bytes
            return [load(cx, mv, ptr) for _ in range(n)]
        return [load(cx, mv, p) for p in range(ptr, ptr + n * size, size)]

    return load_each


def _store_many(t: ValType, size: int, align: int) -> StoreMany:
    """Generated-path ``store_many``: one range check, then the list element storers."""
    store_elements = elements_storer(t, "element")
    if t == U8:
        store_u8 = storer(U8)

        def store_bytes_or_ints(cx: LiftLowerContext, values: Sequence[Any], ptr: int) -> None:
            if isinstance(values, (bytes, bytearray, memoryview)):
                data = values.tobytes() if isinstance(values, memoryview) else values
            else:
                items = _values(values)
                if all(type(v) is int and 0 <= v <= 255 for v in items):
                    data = bytes(items)
                else:  # the precise error of the first bad value
                    mv = cx.view()
                    ptr = _check_range(cx, len(mv), ptr, len(items), 1, 1, "read") if items else ptr
                    for i, v in enumerate(items):
                        try:
                            mv = store_u8(cx, mv, v, ptr + i)
                        except (TypeError, ValueError) as err:
                            raise prefix_error(err, f"element {i}") from None
                    return
            if not data:
                return
            mv = cx.view()
            ptr = _check_range(cx, len(mv), ptr, len(data), 1, 1, "read")
            mv[ptr : ptr + len(data)] = data

        return store_bytes_or_ints

    def store_many(cx: LiftLowerContext, values: Sequence[Any], ptr: int) -> None:
        items = _values(values)
        if not items:
            return
        mv = cx.view()
        ptr = _check_range(cx, len(mv), ptr, len(items), size, align, "read")
        store_elements(cx, mv, items, ptr)

    return store_many
