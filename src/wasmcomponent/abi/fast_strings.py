"""The host-side utf-8 string paths, written once as source snippets.

Almost every string crossing between Python and a guest is a ``str`` going
into, or coming out of, a guest that uses the ``utf8`` encoding.  That case
is written out here once, with the checks, the single ``realloc`` and the
errors of the spec-shaped code in :mod:`.strings`; every other case (other
encodings, fused adapters, lazy references) is delegated to it.

It is written as source lines (:func:`store_string_lines`,
:func:`load_string_lines`) because it sits on the hottest paths, where a
Python frame per string costs as much as the copy: the code generators of
:mod:`.compile` and :mod:`.variant_code` splice the lines into their
straight-line functions, and the functions of this module (:func:`load_string`,
:func:`lower_flat_string`, :func:`string_param_lowerer`,
:func:`lift_string_result`) are compiled from the same lines.  The names the
lines use are provided by :func:`string_env` and :func:`load_string_env`.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Sequence

from ..types.values import prefix_error
from .context import LiftLowerContext
from .formats import define
from .strings import (
    MAX_STRING_BYTE_LENGTH,
    decode_failure,
    load_string_from_range,
    store_string_into_range,
)

M32 = 0xFFFFFFFF
# A utf-8 string longer than this could not be re-encoded as utf-16 by a
# fused adapter within the spec's byte limit; wasmtime refuses it up front.
STRING_LIMIT = MAX_STRING_BYTE_LENGTH // 3


def encode_utf8(v: str) -> bytes:
    """A host ``str`` as utf-8 for the guest, with the spec's errors for unencodable or huge strings."""
    try:
        encoded = v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("string contains an unpaired surrogate and is not valid unicode") from None
    if len(encoded) > STRING_LIMIT:
        raise ValueError(f"string length of {len(encoded)} too large to copy into wasm")
    return encoded


def store_string_view(cx: LiftLowerContext, v: Any) -> tuple[int, int, memoryview]:
    """Store ``v``; return ``(ptr, tagged units, a fresh view)``.

    For a ``str`` into utf-8: the same checks, the same single ``realloc``
    and the same errors as the spec-shaped code, with one memory query for
    the bounds check and the copy.  Every other case is delegated.
    """
    if type(v) is str and cx.string_encoding == "utf8":
        encoded = encode_utf8(v)
        units = len(encoded)
        ptr, mv = cx.allocate(1, units, "string")
        mv[ptr : ptr + units] = encoded
        return ptr, units, mv
    ptr, units = store_string_into_range(cx, v)
    return ptr, units, cx.view()


def store_string(cx: LiftLowerContext, v: Any) -> tuple[int, int]:
    """:func:`~.strings.store_string_into_range` with the utf-8 to utf-8 case inlined."""
    ptr, units, _ = store_string_view(cx, v)
    return ptr, units


# ------------------------------------------------------------------ snippets


def store_string_lines(var: str) -> list[str]:
    """Generated-code lines storing the string in ``var``; they leave ``b, n, mv``.

    The host utf-8 case of :func:`store_string_view` inlined (same checks,
    same single ``realloc``, same errors); other cases call it.  Names used:
    ``cx`` and those of :func:`string_env`.
    """
    return [
        f"if type({var}) is str and cx.string_encoding == 'utf8':",
        "    try:",
        f"        e = {var}.encode('utf-8')",
        "    except UnicodeEncodeError:",
        "        raise ValueError('string contains an unpaired surrogate and is not valid unicode') from None",
        "    n = len(e)",
        "    if n > LIMIT:",
        "        raise ValueError(f'string length of {n} too large to copy into wasm')",
        "    b = cx.realloc(0, 0, 1, n) & M32",
        "    mv = cx.memory.view()",
        "    if b + n > len(mv):",
        "        cx.trap('realloc-bounds-string')",
        "    mv[b : b + n] = e",
        "else:",
        f"    b, n, mv = store_string(cx, {var})",
    ]


def string_env() -> dict[str, Any]:
    """The names :func:`store_string_lines` needs."""
    return {
        "store_string": store_string_view,
        "LIMIT": STRING_LIMIT,
        "M32": M32,
        "UnicodeEncodeError": UnicodeEncodeError,
        "ValueError": ValueError,
    }


def load_string_lines(ptr: str, units: str, target: str, fallback: str = "load_string") -> list[str]:
    """Generated-code lines lifting the string at ``ptr`` (``units`` long) into ``target``.

    The host utf-8 case for unsigned ``ptr``/``units`` (as ``struct`` unpacks
    them); other cases call ``fallback`` (:func:`load_string`).  The lines
    expect ``cx``, ``mv``, ``fast`` (the context is host-side utf-8:
    ``cx.string_encoding == 'utf8' and not cx.fused``), ``size``
    (``len(mv)``) and the names of :func:`load_string_env`.
    """
    return [
        "if fast:",
        f"    if {ptr} + {units} > size:",
        "        cx.trap('string-bounds')",
        "    if cx.fuel is not None:",
        f"        cx.charge({units})",
        "    try:",
        f"        {target} = str(mv[{ptr} : {ptr} + {units}], 'utf-8')",
        "    except UnicodeDecodeError as err:",
        f"        decode_failure(cx, err, mv, {ptr})",
        "else:",
        f"    {target} = {fallback}(cx, mv, {ptr}, {units})",
    ]


def load_string_env() -> dict[str, Any]:
    """The names :func:`load_string_lines` needs."""
    return {
        "load_string": load_string,
        "load_string_from_range": load_string_from_range,
        "decode_failure": decode_failure,
        "UnicodeDecodeError": UnicodeDecodeError,
    }


def _indented(lines: list[str], depth: int = 1) -> list[str]:
    return ["    " * depth + line for line in lines]


# ------------------------------------------------------------------ functions

# :func:`~.strings.load_string_from_range` with the host-side utf-8 case inlined.
load_string: Callable[[LiftLowerContext, memoryview, int, int], Any] = define(
    [
        "def load_string(cx, mv, ptr, units):",
        "    ptr &= M32",
        "    units &= M32",
        "    fast = cx.string_encoding == 'utf8' and not cx.fused",
        "    size = len(mv)",
        *_indented(load_string_lines("ptr", "units", "value", "load_string_from_range")),
        "    return value",
    ],
    "load_string",
    {"M32": M32, "load_string_from_range": load_string_from_range, "decode_failure": decode_failure},
)

# Spec ``lower_flat`` of a ``string``, appending ``(ptr, units)`` to ``out``.
lower_flat_string: Callable[[LiftLowerContext, Any, list], None] = define(
    ["def lower_string(cx, v, out):", *_indented(store_string_lines("v")), "    out += (b, n)"],
    "lower_string",
    string_env(),
)


def string_param_lowerer(where: str) -> Callable[[LiftLowerContext, Any], list]:
    """``lower_params`` of a function whose only parameter is a ``string`` (named by ``where``).

    The closure path (a parameter loop, ``lower_flat`` and the string storer)
    compiled as one function: same checks, same ``realloc``, same errors.
    """
    lines = [
        "def lower_string_param(cx, args):",
        "    v = args[0]",
        "    try:",
        *_indented(store_string_lines("v"), 2),
        "    except (TypeError, ValueError) as err:",
        "        raise prefix_error(err, where) from None",
        "    return [b, n]",
    ]
    lowerer: Callable[[LiftLowerContext, Any], list] = define(
        lines, "lower_string_param", {**string_env(), "prefix_error": prefix_error, "where": where}
    )
    return lowerer


# ``lift_results`` of a function returning a ``string`` through a return
# pointer: refuel, check the pointer to the ``(ptr, length)`` pair, lift the
# string, as the general spilled-results lifter with the string loader does.
lift_string_result: Callable[[LiftLowerContext, Sequence[Any]], Any] = define(
    [
        "def lift_string_result(cx, flat):",
        "    source = cx.fuel_source",
        "    cx.fuel = None if source is None or cx.fused else source.hostcall_fuel",
        "    mv = cx.memory.view()",
        "    ptr = flat[0] & M32",
        "    if ptr % 4:",
        "        cx.trap('result-align', align=4)",
        "    size = len(mv)",
        "    if ptr + 8 > size:",
        "        cx.trap('result-bounds')",
        "    begin, units = pair(mv, ptr)",
        "    fast = cx.string_encoding == 'utf8' and not cx.fused",
        *_indented(load_string_lines("begin", "units", "value")),
        "    return value",
    ],
    "lift_string_result",
    {**load_string_env(), "M32": M32, "pair": struct.Struct("<II").unpack_from},
)
lift_string_result.refuels = True  # type: ignore[attr-defined]  # see compile._refuelling
