"""The primitive value types, named as in WIT (``bool``, ``u32``, ``string``, ...).

The binary format encodes each as one byte (see the decoder's table); the rest
of the type model (:mod:`wasmcomponent.types.model`) builds on them and
re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PrimType:
    """A primitive value type, named as in WIT: ``bool``, ``u32``, ``string``, ..."""

    name: str

    def __repr__(self) -> str:
        return f"PrimType(name={self.name!r})"


BOOL = PrimType("bool")
S8 = PrimType("s8")
U8 = PrimType("u8")
S16 = PrimType("s16")
U16 = PrimType("u16")
S32 = PrimType("s32")
U32 = PrimType("u32")
S64 = PrimType("s64")
U64 = PrimType("u64")
F32 = PrimType("f32")
F64 = PrimType("f64")
CHAR = PrimType("char")
STRING = PrimType("string")
ERROR_CONTEXT = PrimType("error-context")

PRIMITIVES: dict[str, PrimType] = {
    p.name: p
    for p in (BOOL, S8, U8, S16, U16, S32, U32, S64, U64, F32, F64, CHAR, STRING, ERROR_CONTEXT)
}
