"""Generated code for variant-like values (``variant``, ``option``, ``result``).

``option<string>`` and ``result<string, E>`` are the usual way a function
says "maybe", so their per-call cost matters.  The closure versions in
:mod:`.compile` cross four or five Python frames per value (match, case
lowerer, string storer; loader, payload loader, string loader).  The
functions here generate one straight-line function per type instead:

* :func:`variant_loader` (spec ``load_variant``): reads the discriminant,
  checks it, loads the payload inline when it is a string, a ``bool`` or a
  number, else through its loader, and builds the Python value;
* :func:`variant_flat_lowerer` (spec ``lower_flat_variant``): for an
  untagged type, ``None`` and an exact ``str`` go straight to their case
  (the string stored inline); everything else takes the closure path.

The closure versions stay the reference and the fallback, so values,
traps, messages and ``realloc`` calls are the same; the property tests of
the compiled functions run through this code for every variant type they
generate.  The case a ``None`` or ``str`` selects is found by asking the
type's :class:`~wasmcomponent.types.values.CaseMatcher` once, at build
time, so it is the one the closure path would select.
"""

from __future__ import annotations

import struct
from typing import Any, Callable

from ..types.abi import case_types, discriminant_size, payload_offset
from ..types.model import STRING, PrimType, ValType
from ..types.values import Variant, case_matcher, prefix_error
from .context import LiftLowerContext
from .fast_strings import load_string_env, load_string_lines, store_string_lines, string_env
from .formats import define
from .refs import FusedCase

Loader = Callable[[LiftLowerContext, memoryview, int], Any]
FlatLowerer = Callable[[LiftLowerContext, Any, list], None]
ParamsLowerer = Callable[[LiftLowerContext, Any], list]

_SCALAR_CODE = {
    "u8": "B", "s8": "b", "u16": "H", "s16": "h", "u32": "I", "s32": "i",
    "u64": "Q", "s64": "q", "f32": "f", "f64": "d",
}  # fmt: skip


def variant_loader(t: ValType, loader_of: Callable[[ValType], Loader]) -> Loader:
    """Generated spec ``load_variant`` for ``t`` (not an enum); ``loader_of`` gives payload loaders."""
    cases = case_types(t)
    count = len(cases)
    disc_code = {1: "B", 2: "H", 4: "I"}[discriminant_size(count)]
    offset = payload_offset(t)
    matcher = case_matcher(t)
    env: dict[str, Any] = {
        "FusedCase": FusedCase,
        "Variant": Variant,
        "disc": struct.Struct("<" + disc_code).unpack_from,
        "pair": struct.Struct("<II").unpack_from,
        **load_string_env(),
    }
    lines = ["def load_variant(cx, mv, ptr):"]
    lines.append("    index = mv[ptr]" if disc_code == "B" else "    index, = disc(mv, ptr)")
    for index, payload in enumerate(cases):
        lines.append(f"    {'if' if index == 0 else 'elif'} index == {index}:")
        body = _load_payload_lines(payload, offset, index, env, loader_of)
        if matcher.tagged:
            env[f"name{index}"] = matcher.names[index]
            body.append(f"value = Variant(name{index}, payload)")
        lines += ["        " + line for line in body]
    lines += [
        "    else:",
        f"        cx.trap('discriminant', value=index, count={count})",
        "    if cx.fused:",
        "        return FusedCase(index, payload)",
        f"    return {'value' if matcher.tagged else 'payload'}",
    ]
    loader: Loader = define(lines, "load_variant", env)
    return loader


def _load_payload_lines(
    payload: ValType | None, offset: int, index: int, env: dict[str, Any], loader_of: Callable[[ValType], Loader]
) -> list[str]:
    """Lines setting ``payload`` to the case's lifted payload at ``ptr + offset``."""
    at = f"ptr + {offset}"
    if payload is None:
        return ["payload = None"]
    if payload == STRING:
        return [
            f"p, n = pair(mv, {at})",
            "fast = cx.string_encoding == 'utf8' and not cx.fused",
            "size = len(mv)",
            *load_string_lines("p", "n", "payload"),
        ]
    if isinstance(payload, PrimType) and payload.name == "bool":
        return [f"payload = mv[{at}] != 0"]
    if isinstance(payload, PrimType) and payload.name in _SCALAR_CODE:
        env[f"unpack{index}"] = struct.Struct("<" + _SCALAR_CODE[payload.name]).unpack_from
        return [f"payload, = unpack{index}(mv, {at})"]
    env[f"load{index}"] = loader_of(payload)
    return [f"payload = load{index}(cx, mv, {at})"]


def variant_flat_lowerer(t: ValType, wants: tuple[str, ...], general: FlatLowerer) -> FlatLowerer:
    """``general`` (the closure ``lower_flat_variant`` of ``t``) with ``None``/``str`` fast paths.

    ``wants`` are the flat slot types of ``t``.  Only untagged types get fast
    paths, and only for a case whose payload is absent (``None``) or a
    ``string`` (an exact ``str``); every other value goes to ``general``,
    which is returned unchanged when no fast path applies.
    """
    lowerer: FlatLowerer | None = _generate(t, wants, None, general)
    return general if lowerer is None else lowerer


def variant_param_lowerer(
    t: ValType, wants: tuple[str, ...], where: str, general: ParamsLowerer
) -> ParamsLowerer | None:
    """``lower_params`` for a function whose only parameter is ``t``, with the fast paths above.

    ``general`` is the closure ``lower_params`` (used for every other value);
    errors of the fast paths are prefixed with ``where`` as it does.
    ``None`` when no fast path applies.
    """
    lowerer: ParamsLowerer | None = _generate(t, wants, where, general)
    return lowerer


def _generate(t: ValType, wants: tuple[str, ...], where: str | None, general: Callable[..., Any]) -> Any:
    """The source of both lowerers: into ``out`` (``where`` is None) or as the only parameter."""
    matcher = case_matcher(t)
    if matcher.tagged or matcher.enum:
        return None
    cases = case_types(t)
    env: dict[str, Any] = {"general": general, "prefix_error": prefix_error, **string_env()}
    if where is None:
        lines = ["def lower_variant(cx, v, out):"]
        emit, fallback = "out += ({})", "general(cx, v, out)"
    else:
        lines = ["def lower_param(cx, args):", "    v = args[0]"]
        emit, fallback = "return [{}]", "return general(cx, args)"
    fast = len(lines)
    none_case = _selected_case(matcher, None)
    if none_case is not None and cases[none_case] is None:
        lines += ["    if v is None:", "        " + emit.format(f"{none_case}, {_zeros(wants[1:])}")]
        if where is None:
            lines.append("        return")
    str_case = _selected_case(matcher, "")
    if str_case is not None and cases[str_case] == STRING:
        env["case_prefix"] = f"case `{matcher.names[str_case]}`"
        if where is not None:
            env["case_prefix"] = f"{where}: {env['case_prefix']}"
        lines += [
            "    if type(v) is str:",
            "        try:",
            *("            " + line for line in store_string_lines("v")),
            "        except (TypeError, ValueError) as err:",
            "            raise prefix_error(err, case_prefix) from None",
            "        " + emit.format(f"{str_case}, b, n, {_zeros(wants[3:])}"),
        ]
        if where is None:
            lines.append("        return")
    if len(lines) == fast:
        return None
    lines.append("    " + fallback)
    return define(lines, "lower_variant" if where is None else "lower_param", env)


def _selected_case(matcher: Any, sample: Any) -> int | None:
    """The case the closure path selects for values of ``sample``'s exact class (untagged types)."""
    try:
        index, _ = matcher.match(sample)
    except (TypeError, ValueError):
        return None
    return int(index)


def _zeros(wants: tuple[str, ...]) -> str:
    """Source of the zero padding for the slot types ``wants`` (a tuple's items, trailing comma)."""
    return "".join("0.0, " if w in ("f32", "f64") else "0, " for w in wants)
