"""Struct codes, masks and callable shapes shared by the compiled lifting and lowering code."""

from __future__ import annotations

import struct
import sys
from array import array
from typing import Any, Callable, Sequence

from .context import LiftLowerContext

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF

FlatLifter = Callable[[LiftLowerContext, memoryview | None, Sequence[Any]], Any]
Loader = Callable[[LiftLowerContext, memoryview, int], Any]
FlatLowerer = Callable[[LiftLowerContext, Any, list], None]
Storer = Callable[[LiftLowerContext, memoryview, Any, int], memoryview]

# Typecodes whose native ``array``/``memoryview`` layout is the little-endian
# Canonical ABI layout on this machine: bulk lists use them directly.
NATIVE_CODES = frozenset(
    code
    for code in "BbHhIiQqfd"
    if sys.byteorder == "little" and array(code).itemsize == struct.calcsize("<" + code)
)
INT_CODE = {"u8": "B", "s8": "b", "u16": "H", "s16": "h", "u32": "I", "s32": "i", "u64": "Q", "s64": "q"}
FLOAT_CODE = {"f32": "f", "f64": "d"}
PAIR = struct.Struct("<II")
INT_SIZE = {"u8": 1, "s8": 1, "u16": 2, "s16": 2, "u32": 4, "s32": 4, "u64": 8, "s64": 8}
