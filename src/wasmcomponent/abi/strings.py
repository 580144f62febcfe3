"""String lifting and lowering in the three canonical string encodings.

Follows the spec's ``load_string_from_range`` and ``store_string_into_range``
(``design/mvp/canonical-abi/definitions.py``) including the exact sequence of
``realloc`` calls, which is observable by the guest: for example a host
string stored as ``latin1+utf16`` first allocates ``len(utf8)`` bytes, grows
to twice that when a character above U+00FF shows up, and shrinks at the end.

A Python ``str`` coming from the host is treated as a utf-8 source string
(``src_code_units`` = its utf-8 byte length), which is what wasmtime does.

Inside a fused adapter (``cx.fused``) a string is not decoded: lifting
checks its range (alignment, then bounds, as wasmtime's adapter does) and
returns a :class:`~.refs.StringRef`; storing a ``StringRef`` follows
wasmtime's adapter sequences (:mod:`.transcode`).

Pointers and lengths are masked to the memory's width (``cx.ptr_mask``).
Every guest pointer is checked before use; realloc results are checked by
``LiftLowerContext.reallocate``; a fresh memory view is taken after each
realloc.
"""

from __future__ import annotations

from typing import Any

from ..types.abi import UTF16_TAG
from .context import LiftLowerContext
from .refs import StringRef, string_ref
from .transcode import MAX_STRING_BYTE_LENGTH, store_string_ref

__all__ = [
    "StringRef",
    "load_string_from_range",
    "store_string_into_range",
    "MAX_STRING_BYTE_LENGTH",
]


def load_string_from_range(cx: LiftLowerContext, mv: memoryview, ptr: int, tagged_code_units: int) -> Any:
    """Decode the string at ``ptr`` with ``tagged_code_units`` (spec ``load_string_from_range``).

    Returns a ``str``, or a :class:`StringRef` in a fused adapter.
    """
    # With a 64-bit memory both are 64-bit; the latin1+utf16 tag stays bit 31 (as wasmtime).
    ptr &= cx.ptr_mask
    tagged_code_units &= cx.ptr_mask
    encoding = cx.string_encoding
    if encoding == "utf8":
        align = 1
        byte_length = tagged_code_units
        codec = "utf-8"
    elif encoding == "utf16":
        align = 2
        byte_length = 2 * tagged_code_units
        codec = "utf-16-le"
    else:
        align = 2
        if tagged_code_units & UTF16_TAG:
            byte_length = 2 * (tagged_code_units ^ UTF16_TAG)
            codec = "utf-16-le"
        else:
            byte_length = tagged_code_units
            codec = "latin-1"
    if ptr & (align - 1):
        cx.trap("string-align", align=align)
    if ptr + byte_length > len(mv):
        cx.trap("string-bounds")
    if cx.fuel is not None:
        cx.charge(byte_length)
    if cx.fused:
        units = byte_length // 2 if codec == "utf-16-le" else byte_length
        simple = {"utf-8": "utf8", "utf-16-le": "utf16", "latin-1": "latin1"}[codec]
        return string_ref(cx, ptr, units, simple, encoding == "latin1+utf16")
    try:
        return str(mv[ptr : ptr + byte_length], codec)
    except UnicodeDecodeError as err:
        decode_failure(cx, err, mv, ptr)


def decode_failure(cx: LiftLowerContext, err: UnicodeDecodeError, mv: memoryview, ptr: int) -> Any:
    """Trap with wasmtime's message for a decoding error."""
    if err.encoding.replace("_", "-").startswith("utf-8"):
        if err.reason == "unexpected end of data":
            cx.trap("utf8-incomplete", index=err.start)
        cx.trap("utf8-invalid", index=err.start, length=err.end - err.start)
    at = ptr + err.start
    code = mv[at] | (mv[at + 1] << 8) if at + 1 < len(mv) else mv[at]
    cx.trap("utf16", code=code)


def store_string_into_range(cx: LiftLowerContext, v: Any) -> tuple[int, int]:
    """Allocate and write ``v`` in the context's encoding; return ``(ptr, tagged_code_units)``.

    Spec ``store_string_into_range`` for a ``str`` (a utf-8 source string);
    a :class:`StringRef` is copied/transcoded as wasmtime's adapter does.
    """
    if type(v) is StringRef:
        return store_string_ref(cx, v)
    if not isinstance(v, str):
        raise TypeError(f"expected `string` (str), found `{type(v).__name__}`")
    try:
        encoded = v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("string contains an unpaired surrogate and is not valid unicode") from None
    units = len(encoded)
    if units > MAX_STRING_BYTE_LENGTH // 3:
        raise ValueError(f"string length of {units} too large to copy into wasm")
    dst = cx.string_encoding
    if dst == "utf8":
        return _store_copy(cx, encoded, 1)
    if dst == "utf16":
        return _store_utf8_to_utf16(cx, v, units)
    return _store_to_latin1_or_utf16(cx, v, units)


def _store_copy(cx: LiftLowerContext, encoded: bytes, align: int) -> tuple[int, int]:
    """Spec ``store_string_copy`` (utf-8 into utf-8)."""
    byte_length = len(encoded)
    ptr = cx.reallocate(0, 0, align, byte_length, "string")
    cx.view()[ptr : ptr + byte_length] = encoded
    return ptr, byte_length


def _first_above(v: str, limit_codec: str) -> int:
    """Index of the first character not encodable in ``limit_codec`` (or ``len(v)``)."""
    try:
        v.encode(limit_codec)
    except UnicodeEncodeError as err:
        return err.start
    return len(v)


def _store_utf8_to_utf16(cx: LiftLowerContext, v: str, units: int) -> tuple[int, int]:
    """Spec ``store_utf8_to_utf16``."""
    worst_case = 2 * units
    ptr = cx.reallocate(0, 0, 2, worst_case, "string")
    encoded = v.encode("utf-16-le")
    cx.view()[ptr : ptr + len(encoded)] = encoded
    if len(encoded) < worst_case:
        ptr = cx.reallocate(ptr, worst_case, 2, len(encoded), "string")
    return ptr, len(encoded) // 2


def _store_to_latin1_or_utf16(cx: LiftLowerContext, v: str, units: int) -> tuple[int, int]:
    """Spec ``store_string_to_latin1_or_utf16`` (utf8 source)."""
    ptr = cx.reallocate(0, 0, 2, units, "string")
    latin1_end = _first_above(v, "latin-1")
    cx.view()[ptr : ptr + latin1_end] = v[:latin1_end].encode("latin-1")
    if latin1_end < len(v):
        worst_case = 2 * units
        ptr = cx.reallocate(ptr, units, 2, worst_case, "string")
        mv = cx.view()
        inflated = bytes(mv[ptr : ptr + latin1_end]).decode("latin-1").encode("utf-16-le")
        encoded = v.encode("utf-16-le")
        mv[ptr : ptr + 2 * latin1_end] = inflated
        mv[ptr + 2 * latin1_end : ptr + len(encoded)] = encoded[2 * latin1_end :]
        del mv
        if worst_case > len(encoded):
            ptr = cx.reallocate(ptr, worst_case, 2, len(encoded), "string")
        return ptr, (len(encoded) // 2) | UTF16_TAG
    if latin1_end < units:
        ptr = cx.reallocate(ptr, units, 2, latin1_end, "string")
    return ptr, latin1_end
