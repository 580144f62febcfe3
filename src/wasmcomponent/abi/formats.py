"""Struct codes, masks and callable shapes shared by the compiled lifting and lowering code."""

from __future__ import annotations

import struct
import sys
from array import array
from functools import lru_cache
from types import CodeType
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


@lru_cache(maxsize=4096)
def _code(source: str, filename: str) -> CodeType:
    return compile(source, filename, "exec")


def define(lines: list[str], name: str, env: dict[str, Any]) -> Any:
    """Run the generated source ``lines`` in ``env`` and return the function ``name`` they define.

    Code objects are cached by source text: types of the same shape (names
    and constants live in ``env``, not in the source) compile once, which
    keeps the first instantiation of a component with many imports fast.
    """
    exec(_code("\n".join(lines) + "\n", f"<{name}>"), env)
    return env[name]
