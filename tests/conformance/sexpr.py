"""Split a `.wast` script into its top-level s-expressions.

Only the lexical structure matters here: parentheses, string literals
(with `\\` escapes), line comments `;; ...` and nestable block comments
`(; ... ;)`.  Each form keeps the 1-based line it starts on so that a form
converted on its own can be padded back to its original position (the
converter then reports the same line numbers as for the whole file).

>>> [(f.line, f.text) for f in split_forms('(module)\\n;; c\\n(assert_return (invoke "f"))')]
[(1, '(module)'), (3, '(assert_return (invoke "f"))')]
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Form:
    """One top-level form: its text and the line (1-based) it starts on."""

    line: int
    text: str


class SplitError(ValueError):
    """The script is not lexically balanced."""


def _skip_string(src: str, pos: int) -> int:
    """Return the index just past the string literal starting at `pos`."""
    i = pos + 1
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        i += 1
    raise SplitError(f"unterminated string starting at offset {pos}")


def _skip_block_comment(src: str, pos: int) -> int:
    """Return the index just past the (nestable) block comment at `pos`."""
    depth = 0
    i = pos
    while i < len(src) - 1:
        pair = src[i : i + 2]
        if pair == "(;":
            depth += 1
            i += 2
        elif pair == ";)":
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise SplitError(f"unterminated block comment starting at offset {pos}")


def _skip_line_comment(src: str, pos: int) -> int:
    end = src.find("\n", pos)
    return len(src) if end < 0 else end


def split_forms(src: str) -> list[Form]:
    """Return the top-level parenthesised forms of `src`, in order."""
    forms: list[Form] = []
    depth = 0
    start = -1
    i = 0
    while i < len(src):
        ch = src[i]
        if ch == '"':
            i = _skip_string(src, i)
            continue
        if src.startswith("(;", i):
            i = _skip_block_comment(src, i)
            continue
        if src.startswith(";;", i):
            i = _skip_line_comment(src, i)
            continue
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SplitError(f"unbalanced `)` at offset {i}")
            if depth == 0:
                line = src.count("\n", 0, start) + 1
                forms.append(Form(line, src[start : i + 1]))
        i += 1
    if depth != 0:
        raise SplitError("unbalanced `(` at end of script")
    return forms
