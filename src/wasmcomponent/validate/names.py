"""Import/export names: kebab case, interface names, semver and uniqueness.

The grammar is the one of ``design/mvp/Explainer.md`` (``importname`` /
``exportname``), with wasm-tools' error wording.  :func:`parse_name` checks a
name's lexical structure and returns its :class:`Name`; :class:`NameSet`
enforces uniqueness (kebab names compare case-insensitively, and
``[method]r.r`` clashes with a plain ``r``).  Checks that need types (the
``[constructor]``/``[method]`` function shapes) live in ``validate.component``.

    >>> parse_name("[method]file.read", 0).resource
    'file'
    >>> is_kebab("a-b-C2"), is_kebab("a-bC")
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..errors import ValidationError

CONSTRUCTOR = "[constructor]"
METHOD = "[method]"
STATIC = "[static]"


def is_kebab(s: str) -> bool:
    """True if ``s`` is a kebab-case label: words all-lower or all-upper, joined by ``-``."""
    if not s or s.endswith("-"):
        return False
    lower = upper = digit = False
    first = True
    for c in s:
        if "a" <= c <= "z":
            if upper:
                return False
            lower = True
        elif "A" <= c <= "Z":
            if lower:
                return False
            upper = True
        elif "0" <= c <= "9":
            if not lower and not upper and first:
                return False
            digit = True
        elif c == "-":
            if not (lower or upper or digit):
                return False
            lower = upper = digit = False
            first = False
        else:
            return False
    return True


def check_kebab(s: str, offset: int) -> str:
    """``s`` or a ValidationError saying it is not in kebab case."""
    if not is_kebab(s):
        raise ValidationError(f"`{s}` is not in kebab case", offset)
    return s


@dataclass(frozen=True)
class Name:
    """A parsed extern name; ``kind`` is label/constructor/method/static/interface/dependency/url/hash."""

    raw: str
    kind: str
    resource: str = ""
    method: str = ""

    def key(self) -> tuple[str, str]:
        """The uniqueness key of the name (see :class:`NameSet`)."""
        if self.kind == "label":
            return ("label", self.raw.lower())
        if self.kind == "constructor":
            return ("constructor", self.resource.lower())
        if self.kind in ("method", "static"):
            if self.resource.lower() == self.method.lower():
                return ("label", self.resource.lower())
            return ("method", f"{self.resource}.{self.method}".lower())
        return (self.kind, self.raw)


class _Parser:
    """A cursor over one name; every error carries the name's offset."""

    def __init__(self, text: str, offset: int, nested: bool = False) -> None:
        self.rest = text
        self.offset = offset
        self.nested = nested

    def fail(self, message: str) -> ValidationError:
        return ValidationError(message, self.offset)

    def eat(self, prefix: str) -> bool:
        if self.rest.startswith(prefix):
            self.rest = self.rest[len(prefix):]
            return True
        return False

    def expect(self, prefix: str) -> None:
        if not self.eat(prefix):
            raise self.fail(f"expected `{prefix}` at `{self.rest}`")

    def up_to(self, c: str) -> str:
        i = self.rest.find(c)
        if i < 0:
            raise self.fail(f"failed to find `{c}` character")
        taken, self.rest = self.rest[:i], self.rest[i:]
        return taken

    def until(self, c: str) -> str:
        taken = self.up_to(c)
        self.rest = self.rest[len(c):]
        return taken

    def take_rest(self) -> str:
        taken, self.rest = self.rest, ""
        return taken

    def take_kebab(self) -> str:
        i = 0
        while i < len(self.rest) and (self.rest[i].isascii() and (self.rest[i].isalnum() or self.rest[i] == "-")):
            i += 1
        taken, self.rest = self.rest[:i], self.rest[i:]
        return check_kebab(taken, self.offset)

    def take_lower_kebab(self) -> str:
        word = self.take_kebab()
        for c in word:
            if c.isalpha() and not c.islower():
                raise self.fail(f"character `{c}` is not lowercase in package name/namespace")
        return word

    def pkg_path(self, require_projection: bool) -> None:
        """``pkgpath ::= <namespace>+ <label> <projection>*``; more than one
        namespace or projection only with nested names (the 🪺 gate)."""
        self.take_lower_kebab()
        self.expect(":")
        self.take_lower_kebab()
        while self.nested and self.rest.startswith(":"):
            self.expect(":")
            self.take_lower_kebab()
        if self.rest.startswith("/"):
            self.expect("/")
            self.take_kebab()
            while self.nested and self.rest.startswith("/"):
                self.expect("/")
                self.take_kebab()
        elif require_projection:
            raise self.fail("expected `/` after package name")

    def pkg_name(self, interface: bool) -> None:
        self.pkg_path(interface)
        if self.eat("@"):
            i = self.rest.find(">")
            if i >= 0:
                version, self.rest = self.rest[:i], self.rest[i:]
            else:
                version = self.take_rest()
            if not interface:
                check_semver(version, self.offset)

    def pkg_name_query(self) -> None:
        self.pkg_path(False)
        if self.eat("@"):
            if self.eat("*"):
                return
            self.expect("{")
            rng = self.up_to("}")
            self.expect("}")
            self.semver_range(rng)

    def semver_range(self, rng: str) -> None:
        if rng == "*":
            return
        if rng.startswith(">="):
            lower, space, upper = rng[2:].partition(" ")
            check_semver(lower, self.offset)
            if space:
                if not upper.startswith("<"):
                    raise self.fail("expected `<` at start of version range upper bounds")
                check_semver(upper[1:], self.offset)
        elif rng.startswith("<"):
            check_semver(rng[1:], self.offset)
        else:
            raise self.fail("expected `>=` or `<` at start of version range")

    def hash(self) -> None:
        integrity = self.up_to(">")
        parts = integrity.split()
        if not parts:
            raise self.fail("integrity hash cannot be empty")
        for part in parts:
            for algo in ("sha256", "sha384", "sha512"):
                if part.startswith(algo):
                    rest = part[len(algo):]
                    break
            else:
                raise self.fail(f"unrecognized hash algorithm: `{part}`")
            if not rest.startswith("-"):
                raise self.fail(f"expected `-` after hash algorithm: {part}")
            encoded = rest[1:].partition("?")[0]
            if not _is_base64(encoded):
                raise self.fail(f"not valid base64: `{encoded}`")

    def optional_hash(self) -> None:
        if self.eat(","):
            self.expect("integrity=<")
            self.hash()
            self.expect(">")


def _is_base64(s: str) -> bool:
    """wasmparser's check: base64 characters, then at most two ``=`` (padding
    is not required to be complete: ``abc`` passes, ``a=b`` does not)."""
    if not s:
        return False
    equals = 0
    for i, c in enumerate(s):
        if equals == 0 and c.isascii() and (c.isalnum() or c in "+/"):
            continue
        if c == "=" and i > 0 and equals < 2:
            equals += 1
            continue
        return False
    return True


def parse_name(text: str, offset: int, nested: bool = False) -> Name:
    """Check the lexical structure of an extern name and classify it.

    ``nested`` allows nested namespaces and projections in package and
    interface names (``a:b:c/d/e``, wasm-tools' ``cm-nested-names``).
    """
    p = _Parser(text, offset, nested)
    name: Name
    if p.eat(CONSTRUCTOR):
        resource = check_kebab(p.take_rest(), offset)
        name = Name(text, "constructor", resource=resource)
    elif p.eat(METHOD) or p.eat(STATIC):
        kind = "method" if text.startswith(METHOD) else "static"
        resource = check_kebab(p.until("."), offset)
        method = check_kebab(p.take_rest(), offset)
        name = Name(text, kind, resource=resource, method=method)
    elif p.eat("unlocked-dep="):
        p.expect("<")
        p.pkg_name_query()
        p.expect(">")
        name = Name(text, "dependency")
    elif p.eat("locked-dep="):
        p.expect("<")
        p.pkg_name(False)
        p.expect(">")
        p.optional_hash()
        name = Name(text, "dependency")
    elif p.eat("url="):
        p.expect("<")
        url = p.up_to(">")
        if "<" in url:
            raise p.fail("url cannot contain `<`")
        p.expect(">")
        p.optional_hash()
        name = Name(text, "url")
    elif p.eat("integrity="):
        p.expect("<")
        p.hash()
        p.expect(">")
        name = Name(text, "hash")
    elif ":" in text:
        p.pkg_name(True)
        name = Name(text, "interface")
    else:
        check_kebab(p.take_rest(), offset)
        name = Name(text, "label")
    if p.rest:
        raise p.fail(f"trailing characters found: `{p.rest}`")
    return name


def interface_version(name: str, suffix: Optional[str], offset: int) -> None:
    """Check the semver of an interface name (``a:b/c@1.2.3``), joined with ``suffix``."""
    at = name.find("@")
    if at < 0:
        return
    version = name[at + 1:] + (suffix or "")
    message = semver_error(version)
    if message is not None:
        # wasmparser's wording: the semver crate's reason alone.
        raise ValidationError(f"invalid interface version: {message}", offset)


# ----------------------------------------------------------------------- semver

_POSITIONS = ("major", "minor", "patch")


def check_semver(text: str, offset: int) -> None:
    """Raise a ValidationError unless ``text`` is a semantic version (semver 2.0.0)."""
    message = semver_error(text)
    if message is not None:
        raise ValidationError(f"`{text}` is not a valid semver: {message}", offset)


def semver_error(text: str) -> Optional[str]:
    """The reason ``text`` is not a semver, in the Rust ``semver`` crate's words, or None."""
    if not text:
        return "empty string, expected a semver version"
    pos = 0
    for i, part in enumerate(_POSITIONS):
        start = pos
        while pos < len(text) and text[pos].isdigit() and text[pos].isascii():
            pos += 1
        what = f"{part} version number"
        if pos == start:
            if pos >= len(text):
                return f"unexpected end of input while parsing {what}"
            return f"unexpected character {text[pos]!r} while parsing {what}"
        if pos - start > 1 and text[start] == "0":
            return f"invalid leading zero in {what}"
        if i < 2:
            if pos >= len(text):
                return f"unexpected end of input while parsing {what}"
            if text[pos] != ".":
                return f"unexpected character {text[pos]!r} after {what}"
            pos += 1
    rest = text[pos:]
    if rest.startswith("-"):
        pre, _, build = rest[1:].partition("+")
        err = _identifiers(pre, "pre-release identifier", numeric_zero_check=True)
        if err:
            return err
        if "+" in rest:
            return _identifiers(build, "build metadata", numeric_zero_check=False)
        return None
    if rest.startswith("+"):
        return _identifiers(rest[1:], "build metadata", numeric_zero_check=False)
    if rest:
        return f"unexpected character {rest[0]!r} after patch version number"
    return None


def _identifiers(text: str, what: str, numeric_zero_check: bool) -> Optional[str]:
    for ident in text.split("."):
        if not ident:
            return f"empty identifier segment in {what}"
        for c in ident:
            if not (c.isascii() and (c.isalnum() or c == "-")):
                return f"unexpected character {c!r} in {what}"
        if numeric_zero_check and ident.isdigit() and len(ident) > 1 and ident[0] == "0":
            return f"invalid leading zero in {what}"
    return None


# -------------------------------------------------------------------- uniqueness


class NameSet:
    """The names already used in one scope (imports and exports each have one)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.by_key: dict[tuple[str, str], str] = {}
        self.raw: set[str] = set()

    def add(self, name: Name, offset: int) -> None:
        """Record ``name``; a clash raises "... conflicts with previous name ..."."""
        key = name.key()
        prev = self.by_key.get(key)
        if prev is None and name.raw in self.raw:
            prev = name.raw
        if prev is not None:
            raise ValidationError(f"{self.what} name `{name.raw}` conflicts with previous name `{prev}`", offset)
        self.by_key[key] = name.raw
        self.raw.add(name.raw)

    def __contains__(self, raw: str) -> bool:
        return raw in self.raw


def check_unique_labels(names: list[str], what: str, prev_what: str, offset: int) -> None:
    """Field/case/flag names: non-empty, kebab, unique ignoring case."""
    seen: dict[str, str] = {}
    for name in names:
        if not name:
            raise ValidationError(f"{what} name cannot be empty", offset)
        if not is_kebab(name):
            raise ValidationError(f"{what} name `{name}` is not in kebab case", offset)
        prev = seen.get(name.lower())
        if prev is not None:
            raise ValidationError(
                f"{what} name `{name}` conflicts with previous {prev_what} name `{prev}`", offset
            )
        seen[name.lower()] = name
