"""Inline snippets: the conversions of one-slot scalars as source lines.

The runtime generates one Python function per call path (exported ``Func``
calls, lowered host imports).  For the common scalar types it inlines the
checks and conversions below instead of calling the per-type closures; the
closures stay the slow path that raises the precise error (or handles the
rarer values such as a ``bool`` passed for an integer), so the generated
code is value-for-value and error-for-error the same as the closures.
"""

from __future__ import annotations

from typing import Any, Callable

from ..types.abi import flatten_type
from ..types.model import INTEGER_RANGES, PrimType, ValType
from ..types.values import prefix_error
from .formats import FLOAT_CODE, INT_SIZE, M32
from .store import flat_lowerer

_SIMPLE_INT = frozenset(INT_SIZE)


def is_inline_scalar(t: ValType | None) -> bool:
    """Whether ``t`` is one flat value handled inline (``bool``, integers, floats)."""
    return isinstance(t, PrimType) and (t.name == "bool" or t.name in _SIMPLE_INT or t.name in FLOAT_CODE)


def inline_lower(t: ValType, var: str, slow: str) -> list[str]:
    """Source lines converting the Python value in ``var`` to its core value, in place.

    ``slow`` names a callable ``slow(value) -> core value`` (see
    :func:`flat_scalar_lowerer`) used for anything the fast test rejects.
    """
    assert isinstance(t, PrimType)
    name = t.name
    if name == "bool":
        return [
            f"if {var} is True: {var} = 1",
            f"elif {var} is False: {var} = 0",
            f"else: {var} = {slow}({var})",
        ]
    if name in _SIMPLE_INT:
        lo, hi = INTEGER_RANGES[name]
        # Negative values reach the core call as they are: ctypes stores the
        # low bits, the same as the closures' masking.
        return [f"if type({var}) is not int or not {lo} <= {var} <= {hi}: {var} = {slow}({var})"]
    if name == "f64":
        return [f"if type({var}) is not float: {var} = {slow}({var})"]
    return [f"{var} = {slow}({var})"]  # f32: rounding lives in the closure


def inline_lift(t: ValType, expr: str) -> str:
    """A Python expression lifting the signed core value ``expr`` (a plain name) of scalar ``t``."""
    assert isinstance(t, PrimType)
    name = t.name
    if name == "bool":
        return f"(({expr} & {M32}) != 0)"
    if name in _SIMPLE_INT:
        bits = 8 * INT_SIZE[name]
        mask = (1 << bits) - 1
        if name[0] == "u":
            return f"({expr} & {mask})"
        if name in ("s32", "s64"):
            return expr  # the core value is already signed and of this width
        sign = 1 << (bits - 1)
        return f"((({expr} & {mask}) ^ {sign}) - {sign})"
    return f"float({expr})"  # f32/f64 arrive as floats in their own core type


def flat_scalar_lowerer(t: ValType, where: str | None) -> Callable[[Any], Any]:
    """``slow(value) -> core value`` for a one-slot type, errors prefixed with ``where``."""
    low = flat_lowerer(t, flatten_type(t))

    def slow(value: Any) -> Any:
        out: list = []
        if where is None:
            low(None, value, out)  # type: ignore[arg-type]
            return out[0]
        try:
            low(None, value, out)  # type: ignore[arg-type]
        except (TypeError, ValueError) as err:
            raise prefix_error(err, where) from None
        return out[0]

    return slow
