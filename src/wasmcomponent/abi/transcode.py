"""Lowering lazy references: wasmtime's fused-adapter copy and transcoding sequences.

:func:`store_string_ref` writes a :class:`~.refs.StringRef` into the
destination context the way wasmtime's adapter compiler does
(``crates/environ/src/fact/trampoline.rs``: ``string_copy``,
``string_deflate_to_utf8``, ``string_utf8_to_utf16``, ``string_to_compact``,
``string_compact_utf16_to_compact``) with the transcoding helpers of
``vm/component/libcalls.rs``:

* the string's code-unit count is checked against
  ``MAX_STRING_BYTE_LENGTH / width`` *before* each allocation that needs it
  (trap "string content out-of-bounds");
* ``realloc`` is called with wasmtime's sizes and alignments (which differ
  from the spec's in one place: the final shrink of a utf16 source that
  fits latin1 uses alignment 2, not 1);
* the source is read, validated and transcoded only after the allocation it
  goes into, a multi-pass transcode reads only what each pass needs, and
  invalid utf8/utf16 traps at the point the transcoder would find it.

:func:`store_list_ref` copies a :class:`~.refs.ListRef` of scalars bytes to
bytes after the destination ``realloc`` (booleans normalised to 0/1, chars
validated, as wasmtime's per-element translation does).

Scans (ASCII / latin1 prefixes) run over the source in bounded chunks with
compiled byte patterns, so a giant string costs nothing until a pass really
needs its contents.  Every read takes a fresh view after the last realloc.
"""

from __future__ import annotations

import codecs
import re
import struct
from typing import Any, NoReturn

from ..types.abi import UTF16_TAG
from .context import LiftLowerContext
from .refs import ListRef, StringRef

__all__ = ["store_string_ref", "store_list_ref", "MAX_STRING_BYTE_LENGTH"]

MAX_STRING_BYTE_LENGTH = (1 << 31) - 1
SCAN_CHUNK = 1 << 16  # bytes per pattern match (even, so utf16 units never straddle)
VALIDATE_CHUNK = 1 << 20

_ASCII_BYTES = re.compile(rb"[\x00-\x7f]*")
_ASCII_UTF16 = re.compile(rb"(?:[\x00-\x7f]\x00)*", re.DOTALL)
_LATIN1_UTF8 = re.compile(rb"(?:[\x00-\x7f]|[\xc2\xc3][\x80-\xbf])*")
_LATIN1_UTF16 = re.compile(rb"(?:.\x00)*", re.DOTALL)
_BOOL_TABLE = bytes([0]) + bytes([1]) * 255


# ------------------------------------------------------------- helpers


def _check_length(cx: LiftLowerContext, units: int, width: int) -> None:
    """wasmtime ``validate_string_length``: ``units`` must fit ``width``-byte units."""
    if units > MAX_STRING_BYTE_LENGTH // width:
        cx.trap("string-length")


def _scan(pattern: re.Pattern[bytes], mv: memoryview, start: int, end: int, token: int) -> int:
    """End of the longest run of ``pattern`` tokens in ``mv[start:end]``, chunk by chunk."""
    pos = start
    while pos < end:
        stop = min(pos + SCAN_CHUNK, end)
        match = pattern.match(mv, pos, stop)
        matched = match.end() if match is not None else pos
        if matched == stop:
            pos = stop
        elif stop < end and stop - matched < token:
            pos = matched  # a token cut by the chunk edge: rescan it in the next chunk
        else:
            return matched
    return pos


def _decode_trap(cx: LiftLowerContext, err: UnicodeDecodeError, offset: int) -> NoReturn:
    """Trap for a decoding error at byte ``offset + err.start`` of the source."""
    if err.encoding.replace("_", "-").startswith("utf-8"):
        if err.reason == "unexpected end of data":
            cx.trap("utf8-incomplete", index=offset + err.start)
        cx.trap("utf8-invalid", index=offset + err.start, length=err.end - err.start)
    bad = bytes(err.object[err.start : err.start + 2])
    cx.trap("utf16", code=int.from_bytes(bad, "little"))


def _decode(cx: LiftLowerContext, data: memoryview, codec: str) -> str:
    try:
        return str(data, codec)
    except UnicodeDecodeError as err:
        _decode_trap(cx, err, 0)


def _validate(cx: LiftLowerContext, data: memoryview, codec: str) -> None:
    """Check ``data`` decodes with ``codec`` without building the whole string."""
    decoder = codecs.getincrementaldecoder(codec)()
    total = len(data)
    for pos in range(0, total, VALIDATE_CHUNK):
        pending = len(decoder.getstate()[0])
        end = min(pos + VALIDATE_CHUNK, total)
        try:
            decoder.decode(data[pos:end], end == total)
        except UnicodeDecodeError as err:
            _decode_trap(cx, err, pos - pending)


def _inflate(latin1: Any) -> bytes:
    """Latin-1 bytes to utf16-le: every byte followed by a zero byte."""
    out = bytearray(2 * len(latin1))
    out[0::2] = latin1
    return bytes(out)


# ------------------------------------------------------------- strings


def store_string_ref(cx: LiftLowerContext, ref: StringRef) -> tuple[int, int]:
    """Copy/transcode ``ref`` into ``cx``'s memory; return ``(ptr, tagged_code_units)``."""
    src = ref.encoding
    dst = cx.string_encoding
    if dst == "utf8":
        return _copy(cx, ref, 1, 1) if src == "utf8" else _deflate_to_utf8(cx, ref)
    if dst == "utf16":
        return _utf8_to_utf16(cx, ref) if src == "utf8" else _copy(cx, ref, 2, 2)
    if src == "latin1":
        return _copy(cx, ref, 1, 2)
    if src == "utf16" and ref.compact:
        return _compact_utf16_to_compact(cx, ref)
    return _to_compact(cx, ref)


def _copy(cx: LiftLowerContext, ref: StringRef, width: int, align: int) -> tuple[int, int]:
    """``string_copy``: same code units in a fixed-width destination encoding."""
    n = ref.units
    _check_length(cx, n, width)
    ptr = cx.reallocate(0, 0, align, width * n, "string")
    data = ref.read()
    if ref.encoding == "utf8":
        _validate(cx, data, "utf-8")
    elif ref.encoding == "utf16":
        _validate(cx, data, "utf-16-le")
    elif width == 2:
        cx.view()[ptr : ptr + 2 * n] = _inflate(data)
        return ptr, n
    cx.view()[ptr : ptr + len(data)] = data
    return ptr, n


def _ascii_prefix(cx: LiftLowerContext, ref: StringRef) -> int:
    """Code units before the first non-ASCII character (first transcoding pass to utf8).

    For utf16, an unpaired surrogate at that point traps, as the transcoder
    decodes it before looking at its value.
    """
    mv = ref.read()
    if ref.encoding == "latin1":
        return _scan(_ASCII_BYTES, mv, 0, len(mv), 1)
    k = _scan(_ASCII_UTF16, mv, 0, len(mv), 2) // 2
    if k < ref.units:
        unit = mv[2 * k] | (mv[2 * k + 1] << 8)
        if 0xD800 <= unit <= 0xDFFF:
            nxt = mv[2 * k + 2] | (mv[2 * k + 3] << 8) if k + 1 < ref.units else 0
            if unit >= 0xDC00 or not 0xDC00 <= nxt <= 0xDFFF:
                cx.trap("utf16", code=unit)
    return k


def _deflate_to_utf8(cx: LiftLowerContext, ref: StringRef) -> tuple[int, int]:
    """``string_deflate_to_utf8`` (latin1 or utf16 source)."""
    n = ref.units
    _check_length(cx, n, ref.unit_size)
    ptr = cx.reallocate(0, 0, 1, n, "string")
    k = _ascii_prefix(cx, ref)
    ascii_bytes = bytes(ref.read(0, k))
    cx.view()[ptr : ptr + k] = ascii_bytes if ref.encoding == "latin1" else ascii_bytes[0::2]
    if k == n:
        return ptr, n
    factor = 2 if ref.encoding == "latin1" else 3
    _check_length(cx, n, factor)
    ptr = cx.reallocate(ptr, n, 1, factor * n, "string")
    codec = "latin-1" if ref.encoding == "latin1" else "utf-16-le"
    rest = _decode(cx, ref.read(k), codec).encode("utf-8")
    cx.view()[ptr + k : ptr + k + len(rest)] = rest
    total = k + len(rest)
    if total != factor * n:
        ptr = cx.reallocate(ptr, factor * n, 1, total, "string")
    return ptr, total


def _utf8_to_utf16(cx: LiftLowerContext, ref: StringRef) -> tuple[int, int]:
    """``string_utf8_to_utf16``: worst-case allocation, then shrink."""
    n = ref.units
    _check_length(cx, n, 2)
    ptr = cx.reallocate(0, 0, 2, 2 * n, "string")
    encoded = _decode(cx, ref.read(), "utf-8").encode("utf-16-le")
    cx.view()[ptr : ptr + len(encoded)] = encoded
    units = len(encoded) // 2
    if units != n:
        ptr = cx.reallocate(ptr, 2 * n, 2, 2 * units, "string")
    return ptr, units


def _latin1_prefix(ref: StringRef) -> tuple[int, bytes]:
    """First pass to latin1: (source code units read, latin1 bytes)."""
    mv = ref.read()
    if ref.encoding == "utf8":
        read = _scan(_LATIN1_UTF8, mv, 0, len(mv), 2)
        return read, str(mv[:read], "utf-8").encode("latin-1")
    read = _scan(_LATIN1_UTF16, mv, 0, len(mv), 2) // 2
    return read, bytes(mv[0 : 2 * read : 2])


def _to_compact(cx: LiftLowerContext, ref: StringRef) -> tuple[int, int]:
    """``string_to_compact`` (utf8 or plain utf16 source into latin1+utf16)."""
    n = ref.units
    _check_length(cx, n, ref.unit_size)
    ptr = cx.reallocate(0, 0, 2, n, "string")
    read, latin1 = _latin1_prefix(ref)
    written = len(latin1)
    cx.view()[ptr : ptr + written] = latin1
    if read == n:
        if written != n:
            ptr = cx.reallocate(ptr, n, 2, written, "string")
        return ptr, written
    if ref.encoding == "utf8":
        _check_length(cx, n, 2)
    ptr = cx.reallocate(ptr, n, 2, 2 * n, "string")
    inflated = _inflate(cx.view()[ptr : ptr + written])
    codec = "utf-8" if ref.encoding == "utf8" else "utf-16-le"
    rest = _decode(cx, ref.read(read), codec).encode("utf-16-le")
    mv = cx.view()
    mv[ptr : ptr + 2 * written] = inflated
    mv[ptr + 2 * written : ptr + 2 * written + len(rest)] = rest
    del mv
    units = written + len(rest) // 2
    if units != n:
        ptr = cx.reallocate(ptr, 2 * n, 2, 2 * units, "string")
    return ptr, units | UTF16_TAG


def _compact_utf16_to_compact(cx: LiftLowerContext, ref: StringRef) -> tuple[int, int]:
    """``string_compact_utf16_to_compact``: copy as utf16, compress in place if all latin1."""
    n = ref.units
    _check_length(cx, n, 2)
    ptr = cx.reallocate(0, 0, 2, 2 * n, "string")
    data = ref.read()
    text = _decode(cx, data, "utf-16-le")
    mv = cx.view()
    mv[ptr : ptr + 2 * n] = data
    try:
        latin1 = text.encode("latin-1")
    except UnicodeEncodeError:
        return ptr, n | UTF16_TAG
    mv[ptr : ptr + n] = latin1
    del mv
    ptr = cx.reallocate(ptr, 2 * n, 2, n, "string")
    return ptr, n


# ------------------------------------------------------------- lists


def store_list_ref(cx: LiftLowerContext, ref: ListRef) -> tuple[int, int]:
    """Allocate and copy a list of scalars (``translate_list``); return ``(ptr, length)``."""
    nbytes = ref.length * ref.size
    ptr = cx.reallocate(0, 0, ref.align, nbytes, "list")
    data = ref.read()
    name = ref.elem.name
    if name == "bool":
        cx.view()[ptr : ptr + nbytes] = bytes(data).translate(_BOOL_TABLE)
    elif name == "char":
        codes = struct.unpack_from(f"<{ref.length}I", data)
        bad = next((i for i, c in enumerate(codes) if c >= 0x110000 or 0xD800 <= c <= 0xDFFF), None)
        if bad is not None:
            cx.view()[ptr : ptr + 4 * bad] = data[: 4 * bad]
            cx.trap("char")
        cx.view()[ptr : ptr + nbytes] = data
    else:
        cx.view()[ptr : ptr + nbytes] = data
    return ptr, ref.length
