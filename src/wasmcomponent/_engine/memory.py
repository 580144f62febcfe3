"""Guest linear memory: the one owner of reads and writes into wasm memory.

A :class:`GuestMemory` wraps one ``wasmtime.Memory`` of one store.  It never
caches the data pointer: memory may grow (and, with some configurations, move)
during any call into wasm, including a ``realloc`` made while lowering a value.

Invariant for callers: **never keep a view across a call into wasm**.  Take a
fresh :meth:`GuestMemory.view` after every call that may run guest code, and
copy data out (``bytes(...)``, :meth:`GuestMemory.read`) before the next one.

Every access is checked: a pointer and length must be non-negative integers
with ``ptr + n <= size`` (and ``ptr`` a multiple of ``align`` when given).
Violations raise :class:`~wasmcomponent.errors.ComponentTrap`, with the
caller's message or ``"out of bounds memory access"``.

    >>> import wasmtime
    >>> store = wasmtime.Store()
    >>> memory = GuestMemory(store, wasmtime.Memory(store, wasmtime.MemoryType(wasmtime.Limits(1, None))))
    >>> memory.write(8, b"hi")
    >>> memory.read(8, 2), memory.size()
    (b'hi', 65536)
    >>> memory.read(65535, 2)
    Traceback (most recent call last):
    ...
    wasmcomponent.errors.ComponentTrap: wasm trap: out of bounds memory access
"""

from __future__ import annotations

import ctypes
from typing import Any, Union

import wasmtime
from wasmtime import _ffi as ffi

from ..errors import ComponentTrap, TrapCode
from .core import Storelike, _record, _StoreRecord

__all__ = ["GuestMemory", "OUT_OF_BOUNDS"]

OUT_OF_BOUNDS = "out of bounds memory access"
"""Default message of a failed bounds check."""

_vp = ctypes.c_void_p
_memory_data = ffi.dll["wasmtime_memory_data"]
_memory_data.restype = _vp
_memory_data_size = ffi.dll["wasmtime_memory_data_size"]
_memory_data_size.restype = ctypes.c_size_t

Bytes = Union[bytes, bytearray, memoryview]


def _out_of_bounds(message: str | None, code: TrapCode | None) -> ComponentTrap:
    return ComponentTrap(
        message or OUT_OF_BOUNDS, code if code is not None else TrapCode.MEMORY_OUT_OF_BOUNDS
    )


class GuestMemory:
    """Checked access to one linear memory of a store (see the module docstring)."""

    __slots__ = ("_record", "_memory", "_args", "_array_size", "_array_type", "_view")

    def __init__(self, store: Storelike, memory: wasmtime.Memory) -> None:
        if not isinstance(memory, wasmtime.Memory):
            raise TypeError(f"expected a wasmtime.Memory, got {type(memory).__name__}")
        record = _record(store)
        raw = memory._memory
        if raw._anon_1.store_id != record.store_id:
            raise ValueError("the memory belongs to a different store")
        self._record: _StoreRecord = record
        self._memory = type(raw).from_buffer_copy(raw)
        self._args = (record.ctx_arg, _vp(ctypes.addressof(self._memory)))
        self._array_size = -1
        self._array_type: Any = None
        self._view: Any = None

    def identity(self) -> bytes:
        """A key equal for two ``GuestMemory`` objects of the same memory."""
        return bytes(self._memory)

    def _live_args(self) -> tuple[Any, Any]:
        if self._record.closed:
            raise ValueError("the store of this memory has been freed")
        return self._args

    def size(self) -> int:
        """The current length of the memory in bytes."""
        return int(_memory_data_size(*self._live_args()))

    def _base_and_size(self) -> tuple[int, int]:
        args = self._live_args()
        return _memory_data(*args) or 0, int(_memory_data_size(*args))

    def view(self) -> memoryview:
        """A writable ``'B'`` view of the whole memory, valid until the next call into wasm.

        The view is cached: a linear memory never shrinks and only moves when
        it grows, so an unchanged size means an unchanged base address and the
        cached view is still exact (one native call instead of two, and no
        new ctypes array).
        """
        if self._record.closed:
            raise ValueError("the store of this memory has been freed")
        args = self._args
        size = _memory_data_size(*args)
        if size == self._array_size:
            return self._view  # type: ignore[no-any-return]
        base = _memory_data(*args) or 0
        if not base or not size:
            return memoryview(bytearray())
        self._array_type = ctypes.c_ubyte * size
        self._view = memoryview(self._array_type.from_address(base)).cast("B")
        self._array_size = size
        return self._view  # type: ignore[no-any-return]

    def check(
        self,
        ptr: int,
        n: int,
        align: int = 1,
        message: str | None = None,
        code: TrapCode | None = None,
    ) -> int:
        """Return ``ptr`` if ``[ptr, ptr + n)`` lies in memory and ``ptr`` is ``align``-aligned.

        Misalignment raises ``ComponentTrap`` with ``message`` or "unaligned pointer".
        """
        if ptr % align:
            raise ComponentTrap(
                message or "unaligned pointer",
                code if code is not None else TrapCode.UNALIGNED_POINTER,
            )
        if ptr < 0 or n < 0 or ptr + n > self.size():
            raise _out_of_bounds(message, code)
        return ptr

    def read(
        self, ptr: int, n: int, message: str | None = None, code: TrapCode | None = None
    ) -> bytes:
        """Copy ``n`` bytes starting at ``ptr`` out of memory."""
        base, size = self._base_and_size()
        if ptr < 0 or n < 0 or ptr + n > size:
            raise _out_of_bounds(message, code)
        if n == 0:
            return b""
        return ctypes.string_at(base + ptr, n)

    def write(
        self, ptr: int, data: Bytes, message: str | None = None, code: TrapCode | None = None
    ) -> None:
        """Copy ``data`` (any bytes-like object) into memory at ``ptr``."""
        if not isinstance(data, bytes):
            data = memoryview(data).cast("B").tobytes()
        n = len(data)
        base, size = self._base_and_size()
        if ptr < 0 or ptr + n > size:
            raise _out_of_bounds(message, code)
        if n:
            ctypes.memmove(base + ptr, data, n)

    def __repr__(self) -> str:
        if self._record.closed:
            return "<GuestMemory (store freed)>"
        return f"<GuestMemory {self.size()} bytes>"
