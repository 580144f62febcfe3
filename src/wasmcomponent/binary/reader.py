"""A bounded byte cursor for the component binary format.

:class:`Reader` walks a window ``[pos, end)`` of one immutable ``bytes``
buffer (the outermost binary), so every position it reports is already an
absolute offset into that binary and sub-readers (sections, nested
components) cost nothing to create.  Every failure is a
:class:`~wasmcomponent.errors.DecodeError` whose offset and wording follow
wasmparser's (``unexpected end-of-file``, ``invalid var_u32: integer too
large``, ``invalid leading byte (0x7) for component defined type``, ...).

Vectors are checked against the bytes left before anything is allocated:
every element of every vector in the grammar takes at least one byte, so a
count larger than what remains is a truncated binary, not a huge allocation.

Example::

    >>> r = Reader(b"\\xe5\\x8e\\x26\\x03abc")
    >>> r.u32(), r.name(), r.at_end()
    (624485, 'abc', True)
"""

from __future__ import annotations

from typing import Callable, NoReturn, TypeVar

from ..errors import DecodeError

T = TypeVar("T")

MAX_STRING_SIZE = 100_000
"""wasmparser's ``MAX_WASM_STRING_SIZE``."""


class Reader:
    """A cursor over ``data[pos:end]``."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    # ---------------------------------------------------------------- errors

    @staticmethod
    def fail(message: str, offset: int) -> NoReturn:
        """Raise a DecodeError at ``offset``."""
        raise DecodeError(message, offset)

    def eof(self) -> NoReturn:
        """Raise the truncation error at the current position."""
        raise DecodeError("unexpected end-of-file", self.pos)

    def invalid_leading_byte(self, byte: int, desc: str, offset: int | None = None) -> NoReturn:
        """Raise wasmparser's leading-byte error; ``offset`` defaults to the byte just read."""
        where = self.pos - 1 if offset is None else offset
        raise DecodeError(f"invalid leading byte ({byte:#x}) for {desc}", where)

    # ------------------------------------------------------------- position

    def remaining(self) -> int:
        return self.end - self.pos

    def at_end(self) -> bool:
        return self.pos >= self.end

    def sub(self, size: int) -> Reader:
        """A reader over the next ``size`` bytes; this reader skips past them."""
        if size > self.end - self.pos:
            self.eof()
        child = Reader(self.data, self.pos, self.pos + size)
        self.pos += size
        return child

    # ---------------------------------------------------------------- bytes

    def peek(self) -> int:
        if self.pos >= self.end:
            self.eof()
        return self.data[self.pos]

    def u8(self) -> int:
        pos = self.pos
        if pos >= self.end:
            self.eof()
        self.pos = pos + 1
        return self.data[pos]

    def bytes(self, size: int) -> bytes:
        """The next ``size`` bytes (a copy)."""
        if size > self.end - self.pos:
            self.eof()
        start = self.pos
        self.pos = start + size
        return self.data[start:self.pos]

    def flag(self) -> bool:
        """A 0x00/0x01 boolean byte."""
        byte = self.u8()
        if byte > 1:
            self.fail("invalid boolean value", self.pos - 1)
        return byte == 1

    # -------------------------------------------------------------- integers

    def u32(self) -> int:
        """An unsigned LEB128 integer of at most 32 bits."""
        byte = self.u8()
        if byte < 0x80:
            return byte
        result = byte & 0x7F
        shift = 7
        while True:
            byte = self.u8()
            result |= (byte & 0x7F) << shift
            if shift >= 25 and (byte >> (32 - shift)) != 0:
                if byte & 0x80:
                    self.fail("invalid var_u32: integer representation too long", self.pos - 1)
                self.fail("invalid var_u32: integer too large", self.pos - 1)
            shift += 7
            if byte < 0x80:
                return result

    def u64(self) -> int:
        """An unsigned LEB128 integer of at most 64 bits."""
        result = 0
        shift = 0
        while True:
            byte = self.u8()
            result |= (byte & 0x7F) << shift
            if shift >= 57 and (byte >> (64 - shift)) != 0:
                if byte & 0x80:
                    self.fail("invalid var_u64: integer representation too long", self.pos - 1)
                self.fail("invalid var_u64: integer too large", self.pos - 1)
            shift += 7
            if byte < 0x80:
                return result

    def s33(self) -> int:
        """A signed LEB128 integer of at most 33 bits (type indices vs type codes)."""
        result = 0
        shift = 0
        while True:
            byte = self.u8()
            result |= (byte & 0x7F) << shift
            if shift >= 28:
                # Last permitted byte: 5 payload bits; the rest must be sign extension.
                if byte & 0x80 or (byte & 0x70) not in (0, 0x70):
                    self.fail("invalid var_s33: integer representation too long", self.pos - 1)
                shift += 7
                break
            shift += 7
            if byte < 0x80:
                break
        if result & (1 << (shift - 1)):
            result -= 1 << shift
        return result

    # ----------------------------------------------------------------- names

    def name(self) -> str:
        """A length-prefixed UTF-8 string."""
        start = self.pos
        size = self.u32()
        if size > MAX_STRING_SIZE:
            self.fail("string size out of bounds", self.pos - 1)
        if size > self.end - self.pos:
            self.eof()
        raw = self.data[self.pos:self.pos + size]
        self.pos += size
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fail("malformed UTF-8 encoding", self.pos - 1 if size else start)

    # --------------------------------------------------------------- vectors

    def count(self, limit: int, desc: str) -> int:
        """A vector length: at most ``limit`` and no more than the bytes left."""
        pos = self.pos
        size = self.u32()
        if size > limit:
            self.fail(f"{desc} size is out of bounds", pos)
        if size > self.end - self.pos:
            # Every element takes at least one byte: this is a truncated vector.
            raise DecodeError("unexpected end-of-file", self.end)
        return size

    def vec(self, item: Callable[[Reader], T], limit: int, desc: str) -> tuple[T, ...]:
        """``vec(item)``: a u32 count then that many items."""
        n = self.count(limit, desc)
        return tuple(item(self) for _ in range(n))
