"""WAVE, the WebAssembly Value Encoding: a typed parser and a writer.

WAVE is the human-oriented text form of component values used by Wasmtime's
``--invoke`` and by wasm-tools (grammar: the wasm-wave crate's README).  This
module works directly on the resolved type model (:mod:`wasmcomponent.types.model`)
and produces/consumes Python values in wasmtime-py's conventions:

=================  ===========================================================
WAVE               Python
=================  ===========================================================
``true``           ``bool``
``-12``            ``int`` (range-checked for the integer type)
``1.5e3``, ``nan`` ``float`` (``f32`` values are rounded to single precision)
``'x'``            one-character ``str``
``"abc"``          ``str`` (also ``\"\"\"`` multiline strings)
``[1, 2]``         ``list`` (``bytes`` for ``list<u8>``)
``(1, "a")``       ``tuple``
``{a: 1}``         ``Record`` with attributes (``{:}`` when every field is ``none``)
``case(x)``        payload / ``None`` / ``Variant(tag, payload)``, see below
``{a, b}``         ``set[str]`` for flags
=================  ===========================================================

Variants, options and results are *untagged* when the Python classes of their
cases are disjoint (``option<u32>`` is ``int | None``) and ``Variant(tag,
payload)`` otherwise, exactly as wasmtime-py decides it.  Options and results
may be written "flat" (``5`` for ``some(5)``/``ok(5)``) unless the payload is
itself an option or result.  Keyword-named cases are written with ``%``
(``%none``).  Resources, streams, futures, error contexts and maps have no WAVE
form here.

Parsing is a single recursive descent over a token list, directed by the type;
every error is a :class:`WaveError` carrying the offset where it was found.
Nesting deeper than :data:`MAX_DEPTH` is rejected instead of exhausting the
Python stack.

Example::

    >>> from wasmcomponent.types import model
    >>> ty = model.ListType(model.OptionType(model.U8))
    >>> parse_value("[some(1), none, 3]", ty)
    [1, None, 3]
    >>> format_value([1, None, 3], ty)
    '[some(1), none, some(3)]'
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any, NamedTuple, Union

from .types import model
from .types.values import Record, Variant, is_tagged, python_classes

_Cased = Union[model.VariantType, model.OptionType, model.ResultType]

__all__ = [
    "WaveError",
    "MAX_DEPTH",
    "parse_value",
    "format_value",
    "parse_call",
    "parse_call_name",
]

MAX_DEPTH = 100
"""The deepest nesting of compound values the parser accepts."""

KEYWORDS = frozenset({"true", "false", "inf", "nan", "some", "none", "ok", "err"})


class WaveError(ValueError):
    """A malformed or ill-typed WAVE text; ``offset`` is where the problem starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at offset {offset})")
        self.message = message
        self.offset = offset


# --------------------------------------------------------------------- lexing


class Token(NamedTuple):
    """One WAVE token; ``value`` is the decoded text of chars, strings and labels."""

    kind: str  # one of "{}()[]:," | "number" | "label" | "char" | "string" | "eof"
    text: str
    start: int
    value: str = ""
    percent: bool = False  # a label written with a leading `%`


_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_LABEL_RUN = re.compile(r"%?[A-Za-z0-9-]*")
_LABEL_WORD = re.compile(r"[a-z][a-z0-9]*|[A-Z][A-Z0-9]*")
_LABEL_LATER_WORD = re.compile(r"[a-z0-9]+|[A-Z0-9]+")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.%")
_SIMPLE_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_HEX = frozenset("0123456789abcdefABCDEF")


def is_label(text: str) -> bool:
    """Whether ``text`` (without ``%``) is a WAVE/WIT label such as ``two-words`` or ``HTTP3``."""
    words = text.split("-")
    if not _LABEL_WORD.fullmatch(words[0]):
        return False
    return all(_LABEL_LATER_WORD.fullmatch(word) for word in words[1:])


def _unescape(text: str, pos: int, base: int) -> tuple[str, int]:
    """Decode the escape starting at ``text[pos] == '\\'``; returns (char, next position)."""
    if pos + 1 >= len(text):
        raise WaveError("unterminated escape", base + pos)
    code = text[pos + 1]
    simple = _SIMPLE_ESCAPES.get(code)
    if simple is not None:
        return simple, pos + 2
    if code == "u" and text.startswith("{", pos + 2):
        end = text.find("}", pos + 3)
        digits = text[pos + 3 : end] if end != -1 else ""
        if 1 <= len(digits) <= 6 and all(d in _HEX for d in digits):
            scalar = int(digits, 16)
            if scalar <= 0x10FFFF and not 0xD800 <= scalar <= 0xDFFF:
                return chr(scalar), end + 1
            raise WaveError(f"`\\u{{{digits}}}` is not a Unicode scalar value", base + pos)
    raise WaveError("invalid escape", base + pos)


class _Lexer:
    """Turns WAVE text into tokens; ``base`` is added to every reported offset."""

    def __init__(self, text: str, base: int = 0) -> None:
        self.text = text
        self.base = base
        self.pos = 0

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        while True:
            token = self.next_token()
            out.append(token)
            if token.kind == "eof":
                return out

    def error(self, message: str, pos: int | None = None) -> WaveError:
        return WaveError(message, self.base + (self.pos if pos is None else pos))

    def skip_trivia(self) -> None:
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in " \t\n\r":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end == -1 else end
            else:
                return

    def next_token(self) -> Token:
        self.skip_trivia()
        text, start = self.text, self.pos
        if start >= len(text):
            return Token("eof", "", self.base + start)
        ch = text[start]
        if ch in "{}()[]:,":
            self.pos += 1
            return Token(ch, ch, self.base + start)
        if text.startswith('"""', start):
            return self.multiline_string()
        if ch == '"':
            return self.string()
        if ch == "'":
            return self.char()
        if ch == "-" or ch.isdigit():
            return self.number()
        if ch == "%" or ch.isalpha():
            return self.label()
        raise self.error(f"unexpected character {ch!r}")

    def number(self) -> Token:
        text, start = self.text, self.pos
        if text.startswith("-inf", start):
            end = start + 4
        else:
            match = _NUMBER.match(text, start)
            if match is None:
                raise self.error("invalid number")
            end = match.end()
        if end < len(text) and text[end] in _WORD_CHARS:
            raise self.error("invalid number")
        self.pos = end
        return Token("number", text[start:end], self.base + start)

    def label(self) -> Token:
        text, start = self.text, self.pos
        match = _LABEL_RUN.match(text, start)
        assert match is not None  # the pattern accepts the empty string
        raw = match.group()
        percent = raw.startswith("%")
        name = raw[1:] if percent else raw
        if not is_label(name):
            raise self.error(f"invalid label `{raw}`")
        self.pos = match.end()
        return Token("label", raw, self.base + start, name, percent)

    def char(self) -> Token:
        text, start = self.text, self.pos
        pos = start + 1
        if pos >= len(text) or text[pos] in "'\n":
            raise self.error("invalid character literal")
        if text[pos] == "\\":
            value, pos = _unescape(text, pos, self.base)
        else:
            value, pos = text[pos], pos + 1
        if pos >= len(text) or text[pos] != "'":
            raise self.error("character literal must hold exactly one character")
        self.pos = pos + 1
        return Token("char", text[start : self.pos], self.base + start, value)

    def string(self) -> Token:
        text, start = self.text, self.pos
        parts: list[str] = []
        pos = start + 1
        while True:
            if pos >= len(text) or text[pos] == "\n":
                raise self.error("unterminated string", start)
            ch = text[pos]
            if ch == '"':
                break
            if ch == "\\":
                decoded, pos = _unescape(text, pos, self.base)
                parts.append(decoded)
            else:
                parts.append(ch)
                pos += 1
        self.pos = pos + 1
        return Token("string", text[start : self.pos], self.base + start, "".join(parts))

    def multiline_string(self) -> Token:
        text, start = self.text, self.pos
        body_start = start + 3
        if text.startswith("\r\n", body_start):
            body_start += 2
        elif text.startswith("\n", body_start):
            body_start += 1
        else:
            raise self.error('`"""` must be followed by a line break', start)
        close = text.find('"""', body_start)
        if close == -1:
            raise self.error("unterminated multiline string", start)
        last_break = text.rfind("\n", 0, close)
        indent = text[last_break + 1 : close]
        if indent.strip(" "):
            raise self.error('closing `"""` must be on its own line, after spaces only', close)
        # Lines between the opening and the closing line break; none for `"""\n"""`.
        lines = text[body_start:last_break].split("\n") if last_break >= body_start else []
        decoded: list[str] = []
        line_start = body_start
        for line in lines:
            raw = line[:-1] if line.endswith("\r") else line
            if not raw.startswith(indent):
                raise self.error('line is indented less than the closing `"""`', line_start)
            decoded.append(self.decode_line(raw[len(indent) :], line_start + len(indent)))
            line_start += len(line) + 1
        self.pos = close + 3
        return Token("string", text[start : self.pos], self.base + start, "\n".join(decoded))

    def decode_line(self, raw: str, offset: int) -> str:
        parts: list[str] = []
        pos = 0
        while pos < len(raw):
            if raw[pos] == "\\":
                decoded, pos = _unescape(raw, pos, self.base + offset)
                parts.append(decoded)
            else:
                parts.append(raw[pos])
                pos += 1
        return "".join(parts)


# ------------------------------------------------------- Python value mapping


def _case_value(ty: _Cased, tag: str, payload: Any) -> Any:
    """The Python value of case ``tag`` of ``ty`` carrying ``payload``."""
    if is_tagged(ty):
        return Variant(tag, payload)
    return payload


def _case_of(value: Any, ty: _Cased) -> tuple[str, model.ValType | None, Any]:
    """Which case of ``ty`` the Python ``value`` is: (tag, payload type, payload).

    Tagged values are read through their ``tag``/``payload`` attributes, so
    wasmtime-py's own ``Variant`` objects are accepted as well.
    """
    cases = ty.cases()
    if is_tagged(ty):
        if not (hasattr(value, "tag") and hasattr(value, "payload")):
            raise TypeError(f"expected a `Variant`, got {type(value).__name__}")
        for name, payload_ty in cases:
            if name == value.tag:
                return name, payload_ty, value.payload
        raise ValueError(f"`{value.tag}` is not a case of this type")
    for name, payload_ty in cases:
        if payload_ty is None:
            if value is None:
                return name, None, None
        elif isinstance(value, tuple(python_classes(payload_ty))):
            return name, payload_ty, value
    raise TypeError(f"value {value!r} matches no case of this type")


# ------------------------------------------------------------------- parsing


def _round_f32(value: float) -> float:
    try:
        result: float = struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)
    return result


def _describe(token: Token) -> str:
    return "end of input" if token.kind == "eof" else f"`{token.text}`"


def _type_name(ty: model.ValType) -> str:
    if isinstance(ty, model.PrimType):
        return ty.name
    return type(ty).__name__.removesuffix("Type").lower()


def _flat_allowed(payload: model.ValType | None) -> bool:
    """Whether ``some``/``ok`` may be written as the bare payload."""
    return payload is not None and not isinstance(payload, (model.OptionType, model.ResultType))


class _Parser:
    """Typed recursive descent over a token list."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    # token helpers

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def expect(self, kind: str, what: str | None = None) -> Token:
        token = self.advance()
        if token.kind != kind:
            raise WaveError(
                f"expected {what or '`' + kind + '`'}, found {_describe(token)}", token.start
            )
        return token

    def at(self, kind: str) -> bool:
        return self.peek().kind == kind

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "label" and not token.percent and token.value in words

    def comma_or_close(self, close: str) -> bool:
        """After an item: consume `,` (True means more may follow) or the closing token."""
        token = self.advance()
        if token.kind == ",":
            return True
        if token.kind == close:
            return False
        raise WaveError(f"expected `,` or `{close}`, found {_describe(token)}", token.start)

    def finish(self) -> None:
        token = self.peek()
        if token.kind != "eof":
            raise WaveError(f"unexpected {_describe(token)} after the value", token.start)

    # values

    def value(self, ty: model.ValType) -> Any:
        token = self.peek()
        if self.depth >= MAX_DEPTH:
            raise WaveError("value nesting too deep", token.start)
        self.depth += 1
        try:
            return self.dispatch(ty, token)
        finally:
            self.depth -= 1

    def dispatch(self, ty: model.ValType, token: Token) -> Any:
        if isinstance(ty, model.PrimType):
            return self.primitive(ty)
        if isinstance(ty, model.ListType):
            return self.parse_list(ty)
        if isinstance(ty, model.TupleType):
            return self.parse_tuple(ty)
        if isinstance(ty, model.RecordType):
            return self.record(ty)
        if isinstance(ty, model.FlagsType):
            return self.flags(ty)
        if isinstance(ty, model.EnumType):
            return self.case_label(ty.names).value
        if isinstance(ty, model.VariantType):
            return self.variant(ty)
        if isinstance(ty, model.OptionType):
            return self.option(ty)
        if isinstance(ty, model.ResultType):
            return self.result(ty)
        raise WaveError(f"values of type `{_type_name(ty)}` have no WAVE form", token.start)

    def primitive(self, ty: model.PrimType) -> Any:
        token = self.advance()
        name = ty.name
        if name == "bool":
            if token.kind == "label" and not token.percent and token.value in ("true", "false"):
                return token.value == "true"
            raise WaveError(f"expected `true` or `false`, found {_describe(token)}", token.start)
        if name in model.INTEGER_RANGES:
            text = token.text
            if token.kind != "number" or any(c in text for c in ".eEi"):
                raise WaveError(f"expected an integer, found {_describe(token)}", token.start)
            number = int(text)
            low, high = model.INTEGER_RANGES[name]
            if not low <= number <= high:
                raise WaveError(f"integer {number} is out of range for `{name}`", token.start)
            return number
        if name in ("f32", "f64"):
            if token.kind == "number":
                number_f = float(token.text)
            elif token.kind == "label" and not token.percent and token.value in ("inf", "nan"):
                number_f = float(token.value)
            else:
                raise WaveError(f"expected a number, found {_describe(token)}", token.start)
            return _round_f32(number_f) if name == "f32" else number_f
        if name == "char":
            if token.kind != "char":
                raise WaveError(f"expected a char, found {_describe(token)}", token.start)
            return token.value
        if name == "string":
            if token.kind != "string":
                raise WaveError(f"expected a string, found {_describe(token)}", token.start)
            return token.value
        raise WaveError(f"values of type `{name}` have no WAVE form", token.start)

    def parse_list(self, ty: model.ListType) -> Any:
        open_token = self.expect("[")
        items: list[Any] = []
        while not self.at("]"):
            items.append(self.value(ty.element))
            if not self.comma_or_close("]"):
                break
        else:
            self.advance()
        if ty.length is not None and len(items) != ty.length:
            raise WaveError(
                f"expected a list of {ty.length} elements, found {len(items)}", open_token.start
            )
        if ty.element == model.U8:
            return bytes(items)
        return items

    def parse_tuple(self, ty: model.TupleType) -> tuple[Any, ...]:
        open_token = self.expect("(")
        items: list[Any] = []
        while not self.at(")"):
            if len(items) == len(ty.elements):
                raise WaveError(
                    f"too many tuple elements: expected {len(ty.elements)}", self.peek().start
                )
            items.append(self.value(ty.elements[len(items)]))
            if not self.comma_or_close(")"):
                break
        else:
            self.advance()
        if len(items) != len(ty.elements):
            raise WaveError(
                f"expected a tuple of {len(ty.elements)} elements, found {len(items)}",
                open_token.start,
            )
        return tuple(items)

    def record(self, ty: model.RecordType) -> Any:
        open_token = self.expect("{")
        field_types = dict(ty.fields)
        values: dict[str, Any] = {}
        if self.at(":"):  # `{:}`: every field omitted
            self.advance()
            self.expect("}")
        else:
            while not self.at("}"):
                label = self.expect("label", "a field name")
                if label.value not in field_types:
                    raise WaveError(f"unknown field `{label.value}`", label.start)
                if label.value in values:
                    raise WaveError(f"duplicate field `{label.value}`", label.start)
                self.expect(":")
                values[label.value] = self.value(field_types[label.value])
                if not self.comma_or_close("}"):
                    break
            else:
                self.advance()
            if not values and field_types:
                raise WaveError(
                    "a record with every field omitted is written `{:}`", open_token.start
                )
        for name, field_ty in ty.fields:
            if name not in values:
                if not isinstance(field_ty, model.OptionType):
                    raise WaveError(f"missing field `{name}`", open_token.start)
                values[name] = _case_value(field_ty, "none", None)
        return Record(**{name: values[name] for name, _ in ty.fields})

    def flags(self, ty: model.FlagsType) -> set[str]:
        self.expect("{")
        found: set[str] = set()
        while not self.at("}"):
            label = self.expect("label", "a flag name")
            if label.value not in ty.names:
                raise WaveError(f"unknown flag `{label.value}`", label.start)
            if label.value in found:
                raise WaveError(f"duplicate flag `{label.value}`", label.start)
            found.add(label.value)
            if not self.comma_or_close("}"):
                break
        else:
            self.advance()
        return found

    def case_label(self, names: tuple[str, ...]) -> Token:
        token = self.advance()
        if token.kind != "label":
            raise WaveError(f"expected a case name, found {_describe(token)}", token.start)
        if not token.percent and token.value in KEYWORDS:
            raise WaveError(f"`{token.value}` is a keyword; write `%{token.value}`", token.start)
        if token.value not in names:
            raise WaveError(f"unknown case `{token.value}`", token.start)
        return token

    def payload(self, tag: Token, payload_ty: model.ValType | None) -> Any:
        if payload_ty is None:
            if self.at("("):
                raise WaveError(f"case `{tag.value}` has no payload", self.peek().start)
            return None
        if not self.at("("):
            raise WaveError(f"case `{tag.value}` needs a payload", tag.start)
        self.advance()
        value = self.value(payload_ty)
        self.expect(")")
        return value

    def variant(self, ty: model.VariantType) -> Any:
        cases = dict(ty.variant_cases)
        tag = self.case_label(tuple(cases))
        return _case_value(ty, tag.value, self.payload(tag, cases[tag.value]))

    def option(self, ty: model.OptionType) -> Any:
        if self.at_keyword("some", "none"):
            tag = self.advance()
            payload_ty = ty.payload if tag.value == "some" else None
            return _case_value(ty, tag.value, self.payload(tag, payload_ty))
        if not _flat_allowed(ty.payload):
            token = self.peek()
            raise WaveError(f"expected `some` or `none`, found {_describe(token)}", token.start)
        return _case_value(ty, "some", self.value(ty.payload))

    def result(self, ty: model.ResultType) -> Any:
        if self.at_keyword("ok", "err"):
            tag = self.advance()
            payload_ty = ty.ok if tag.value == "ok" else ty.err
            return _case_value(ty, tag.value, self.payload(tag, payload_ty))
        if ty.ok is None or not _flat_allowed(ty.ok):
            token = self.peek()
            raise WaveError(f"expected `ok` or `err`, found {_describe(token)}", token.start)
        return _case_value(ty, "ok", self.value(ty.ok))


def parse_value(text: str, ty: model.ValType) -> Any:
    """Parse the WAVE ``text`` as one value of type ``ty``; raises :class:`WaveError`.

    >>> from wasmcomponent.types import model
    >>> parse_value('"caf\\\\u{e9}"', model.STRING)
    'café'
    >>> parse_value("300", model.U8)
    Traceback (most recent call last):
      ...
    wasmcomponent.wave.WaveError: integer 300 is out of range for `u8` (at offset 0)
    """
    parser = _Parser(_Lexer(text).tokens())
    value = parser.value(ty)
    parser.finish()
    return value


def parse_call_name(text: str) -> str:
    """The function name of a WAVE call ``name(args...)``, e.g. ``a:b/c#f`` for ``a:b/c#f(1)``."""
    paren = text.find("(")
    if paren == -1:
        raise WaveError("expected `(` after the function name", len(text))
    name = text[:paren].strip()
    if not name:
        raise WaveError("missing function name", 0)
    bad = next((c for c in name if c.isspace() or c in "(){}[]\"',"), None)
    if bad is not None:
        raise WaveError(f"invalid character {bad!r} in function name", text.index(bad))
    return name


def parse_call(text: str, functype: model.FuncType) -> tuple[str, list[Any]]:
    """Parse ``name(arg, ...)`` with arguments typed by ``functype``.

    Trailing ``option`` arguments may be left out; they are ``none``.

    >>> from wasmcomponent.types import model
    >>> parse_call('greet("world")', model.FuncType((("name", model.STRING),), model.STRING))
    ('greet', ['world'])
    """
    name = parse_call_name(text)
    paren = text.find("(")
    parser = _Parser(_Lexer(text[paren:], paren).tokens())
    parser.expect("(")
    args: list[Any] = []
    params = functype.params
    while not parser.at(")"):
        if len(args) == len(params):
            token = parser.peek()
            raise WaveError(f"too many arguments: `{name}` takes {len(params)}", token.start)
        args.append(parser.value(params[len(args)][1]))
        if not parser.comma_or_close(")"):
            break
    else:
        parser.advance()
    parser.finish()
    for param_name, param_ty in params[len(args) :]:
        if not isinstance(param_ty, model.OptionType):
            raise WaveError(f"missing argument `{param_name}`", len(text))
        args.append(_case_value(param_ty, "none", None))
    return name, args


# ------------------------------------------------------------------- writing


def _escape_char(ch: str) -> str:
    if ch in "\\\"'":
        return "\\" + ch
    if ch == "\t":
        return "\\t"
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    if ch != " " and not ch.isprintable():
        return f"\\u{{{ord(ch):x}}}"
    return ch


def _format_float(value: float, single: bool) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if not single:
        return repr(value)
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if _round_f32(float(text)) == value:
            break
    # `%g` may drop the fraction ("1e+20", "3"), both valid WAVE numbers; its
    # exponent form can be longer than the positional one ("7.587561e+07").
    positional = repr(float(text))
    return positional if len(positional) < len(text) else text


def _label(name: str) -> str:
    return "%" + name if name in KEYWORDS else name


class _Writer:
    def __init__(self) -> None:
        self.depth = 0

    def value(self, value: Any, ty: model.ValType) -> str:
        if self.depth >= MAX_DEPTH:
            raise ValueError("value nesting too deep")
        self.depth += 1
        try:
            return self.dispatch(value, ty)
        finally:
            self.depth -= 1

    def dispatch(self, value: Any, ty: model.ValType) -> str:
        if isinstance(ty, model.PrimType):
            return self.primitive(value, ty.name)
        if isinstance(ty, model.ListType):
            return self.write_list(value, ty)
        if isinstance(ty, model.TupleType):
            if not isinstance(value, tuple) or len(value) != len(ty.elements):
                raise TypeError(f"expected a tuple of {len(ty.elements)} elements")
            inner = ", ".join(self.value(v, t) for v, t in zip(value, ty.elements, strict=True))
            return f"({inner})"
        if isinstance(ty, model.RecordType):
            return self.record(value, ty)
        if isinstance(ty, model.FlagsType):
            if not isinstance(value, (set, frozenset)):
                raise TypeError("expected a set of flag names")
            unknown = [v for v in value if v not in ty.names]
            if unknown:
                raise ValueError(f"unknown flag {unknown[0]!r}")
            return "{" + ", ".join(n for n in ty.names if n in value) + "}"
        if isinstance(ty, model.EnumType):
            if not isinstance(value, str) or value not in ty.names:
                raise ValueError(f"{value!r} is not a case of this enum")
            return _label(value)
        if isinstance(ty, (model.VariantType, model.OptionType, model.ResultType)):
            tag, payload_ty, payload = _case_of(value, ty)
            label = _label(tag) if isinstance(ty, model.VariantType) else tag
            if payload_ty is None:
                return label
            return f"{label}({self.value(payload, payload_ty)})"
        raise TypeError(f"values of type `{_type_name(ty)}` have no WAVE form")

    def primitive(self, value: Any, name: str) -> str:
        if name == "bool":
            if not isinstance(value, bool):
                raise TypeError("expected a bool")
            return "true" if value else "false"
        if name in model.INTEGER_RANGES:
            if not isinstance(value, int):
                raise TypeError(f"expected an int for `{name}`")
            low, high = model.INTEGER_RANGES[name]
            if not low <= value <= high:
                raise ValueError(f"integer {value} is out of range for `{name}`")
            return str(int(value))
        if name in ("f32", "f64"):
            if not isinstance(value, float):
                raise TypeError(f"expected a float for `{name}`")
            return _format_float(value, name == "f32")
        if name == "char":
            if not isinstance(value, str) or len(value) != 1:
                raise TypeError("expected a one-character str")
            return "'" + _escape_char(value) + "'"
        if name == "string":
            if not isinstance(value, str):
                raise TypeError("expected a str")
            return '"' + "".join(_escape_char(c) for c in value) + '"'
        raise TypeError(f"values of type `{name}` have no WAVE form")

    def write_list(self, value: Any, ty: model.ListType) -> str:
        if ty.element == model.U8:
            if not isinstance(value, (bytes, bytearray)):
                raise TypeError("expected bytes for `list<u8>`")
            items = [str(b) for b in value]
        else:
            if not isinstance(value, list):
                raise TypeError("expected a list")
            items = [self.value(v, ty.element) for v in value]
        if ty.length is not None and len(items) != ty.length:
            raise ValueError(f"expected a list of {ty.length} elements")
        return "[" + ", ".join(items) + "]"

    def record(self, value: Any, ty: model.RecordType) -> str:
        entries: list[str] = []
        for name, field_ty in ty.fields:
            if not hasattr(value, name):
                raise TypeError(f"record value has no field `{name}`")
            text = self.value(getattr(value, name), field_ty)
            if isinstance(field_ty, model.OptionType) and text == "none":
                continue
            entries.append(f"{name}: {text}")
        if not entries:
            return "{:}"
        return "{" + ", ".join(entries) + "}"


def format_value(value: Any, ty: model.ValType) -> str:
    """Write the Python ``value`` of type ``ty`` as WAVE text.

    Raises ``TypeError``/``ValueError`` when ``value`` does not fit ``ty``.

    >>> from wasmcomponent.types import model
    >>> format_value({"write", "read"}, model.FlagsType(("read", "write", "exec")))
    '{read, write}'
    """
    return _Writer().value(value, ty)
