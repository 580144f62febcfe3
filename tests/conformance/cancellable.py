"""Convert forms that use the removed ``cancellable`` canonical option.

`wasm-tools` 1.262 no longer parses ``cancellable`` (WebAssembly/component-model#716),
but the binary format still has the flag: one byte right after the opcode of
``waitable-set.wait``/``poll``, ``thread.yield``, ``thread.suspend`` and the
``thread.*-then-*`` built-ins.  So a form that fails only because of it is
converted without the word, and each resulting component binary gets the
flag set again on the built-ins that had it, matched in order: the text's
canon definitions of those built-ins and the binary's appear in the same
order (nested components inline, where they are written).
"""

from __future__ import annotations

import re
from pathlib import Path

FLAGGED = (
    "waitable-set.wait",
    "waitable-set.poll",
    "thread.yield",
    "thread.suspend",
    "thread.suspend-then-resume",
    "thread.yield-then-resume",
    "thread.suspend-then-promote",
    "thread.yield-then-promote",
)
_WORD = re.compile(r"(?<![\w$.-])cancellable(?![\w.-])")
_CANON = re.compile(r"\(canon\s+(" + "|".join(re.escape(n) for n in FLAGGED) + r")(?=[\s)])")


def uses_cancellable(text: str) -> bool:
    return _WORD.search(text) is not None


def _span(text: str, start: int) -> int:
    """The end of the s-expression that opens at ``text[start]``."""
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def strip(text: str) -> tuple[str, list[bool]]:
    """The text without ``cancellable``, and per flagged canon (in order) whether it had it."""
    flags = []
    for match in _CANON.finditer(text):
        end = _span(text, match.start())
        flags.append(_WORD.search(text, match.start(), end) is not None)
    return _WORD.sub("", text), flags


def patch(path: Path, flags: list[bool]) -> bool:
    """Set the flag bytes in the component at ``path``; False if its built-ins do not line up."""
    from wasmcomponent.binary.decoder import decode_component

    data = bytearray(path.read_bytes())
    try:
        tree = decode_component(bytes(data))
    except Exception:
        return False
    found = list(_builtins(tree))
    if len(found) != len(flags):
        return False
    for builtin, flag in zip(found, flags, strict=True):
        if builtin.name not in FLAGGED or data[builtin.offset + 1] not in (0, 1):
            return False
        data[builtin.offset + 1] = int(flag)
    path.write_bytes(bytes(data))
    return True


def _builtins(tree: object) -> object:
    for section in getattr(tree, "sections", ()):
        kind = type(section).__name__
        if kind == "ComponentSection":
            yield from _builtins(section.component)  # type: ignore[attr-defined]
        elif kind == "CanonSection":
            for item in section.funcs:  # type: ignore[attr-defined]
                if type(item).__name__ == "CanonBuiltin" and item.name in FLAGGED:
                    yield item
