"""The extern-name grammar (issue 11, point 7), checked against wasmtime and wasm-tools.

Each name is imported as an empty instance (and exported, where a form is
import-only) by a component written directly in binary, so that no text
parser judges the name first.  wasmtime-py's ``wasmtime.component.Component``
(wasmparser, wasmtime's default features) is the oracle for acceptance and
for the innermost message.  Nested namespaces and projections
(``a:b:c/d/e``, wasm-tools' ``cm-nested-names``, the 🪺 gate) are off in
wasmtime 50, which has no switch for them: they are rejected as wasmtime
rejects them, and accepted when validation is given the feature, as
``wasm-tools validate --features all`` accepts them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest
import wasmtime

import bombs
from wasmcomponent import Component
from wasmcomponent.binary.decoder import decode_component
from wasmcomponent.errors import ValidationError
from wasmcomponent.validate import validate_component
from wasmcomponent.validate.names import parse_name

wc = pytest.importorskip("wasmtime.component")
ENGINE = wasmtime.Engine()
OFFSET = re.compile(r"\s*\(at offset 0x[0-9a-f]+\)")


def with_import(name: str) -> bytes:
    """``(component (import "<name>" (instance)))`` in binary."""
    return bombs.component(
        bombs.section(7, bombs.vec([b"\x42\x00"])),
        bombs.section(10, bombs.vec([b"\x00" + bombs.name(name) + b"\x05\x00"])),
    )


def with_export(name: str) -> bytes:
    """An empty instance exported as ``name``."""
    return bombs.component(
        bombs.section(5, bombs.vec([b"\x01\x00"])),  # instance 0: no exports
        bombs.section(11, bombs.vec([b"\x00" + bombs.name(name) + b"\x05\x00\x00"])),
    )


def reference(data: bytes) -> Optional[str]:
    """wasmtime's error chain for ``data`` (offsets removed), or None if it loads."""
    try:
        wc.Component(ENGINE, data)
    except wasmtime.WasmtimeError as err:
        return OFFSET.sub("", str(err))
    return None


def causes(chain: str) -> list[str]:
    """wasmparser's messages in wasmtime's chain (after its "failed to parse ..." line)."""
    lines = chain.split("Caused by:")[-1].strip().splitlines()
    return [re.sub(r"^\d+: ", "", line.strip()) for line in lines if line.strip()]


def innermost(chain: str) -> str:
    return causes(chain)[-1]


NAMES = [
    # labels, resources' functions
    "a", "a-b-c", "A-B", "a1-b2", "a-", "-a", "1a", "a--b", "[constructor]r", "[method]r.m",
    "[static]r.s", "[method]r", "[constructor]R-x",
    # interfaces and packages
    "a:b/c", "a:b/c@1.0.0", "a:b/c@1.0.0-rc.1+build", "a:b/c@1.0", "a:b/C", "a:B/c", "a:b",
    "a:b/", "a:b:c/d", "a:b/c/d", "a:b:c/d/e@1.0.0", "ns:pkg/iface@01.0.0",
    # dependencies
    "unlocked-dep=<a:b>", "unlocked-dep=<a:b@*>", "unlocked-dep=<a:b@{>=1.0.0}>",
    "unlocked-dep=<a:b@{<2.0.0}>", "unlocked-dep=<a:b@{>=1.0.0 <2.0.0}>",
    "unlocked-dep=<a:b@{>=1.0.0 2.0.0}>", "unlocked-dep=<a:b@{1.0.0}>", "unlocked-dep=<a:b@1.0.0>",
    "unlocked-dep=<a:b/c>", "unlocked-dep=<a:b:c@*>", "unlocked-dep=<a:b",
    "locked-dep=<a:b>", "locked-dep=<a:b@1.2.3>", "locked-dep=<a:b@1.2>", "locked-dep=<a:b/c>",
    "locked-dep=<a:b@1.2.3>,integrity=<sha256-AAAA>", "locked-dep=<a:b>,integrity=<sha1-AA>",
    "locked-dep=<a:b>,sha256-AA", "locked-dep=<a:b:c>",
    # urls
    "url=<https://example.com/x.wasm>", "url=<>", "url=<a<b>", "url=<a>,integrity=<sha384-AA==>",
    "url=<a>,integrity=<>", "url=<a", "url=<a>x",
    # integrity hashes
    "integrity=<sha256-YWJj>", "integrity=<sha256-abc>", "integrity=<sha512-YWJj==>",
    "integrity=<sha256-a=b>", "integrity=<sha256-=a>", "integrity=<sha256-a===>",
    "integrity=<sha256-YWJj?opt>", "integrity=<sha256-YWJj sha384-YWJj?x=y>",
    "integrity=<  sha256-AA  >", "integrity=<>", "integrity=< >", "integrity=<md5-x>",
    "integrity=<sha256x>", "integrity=<sha256-a b>", "integrity=<sha256-!>", "integrity=<sha256-AA",
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("build", [with_import, with_export], ids=["import", "export"])
def test_names_match_wasmtime(name: str, build: object) -> None:
    data = build(name)  # type: ignore[operator]
    expected = reference(data)
    try:
        Component(ENGINE, data)
    except ValidationError as err:
        assert expected is not None, f"wasmtime accepts `{name}`, we say: {err}"
        for cause in causes(expected):  # the whole chain, outer context included
            assert cause in str(err), f"expected `{cause}` in `{err}`"
    else:
        assert expected is None, f"wasmtime rejects `{name}`: {expected}"


NESTED = ["a:b:c/d", "a:b/c/d", "a:b:c:d/e/f/g@1.0.0", "unlocked-dep=<a:b:c@{>=1.0.0}>",
          "unlocked-dep=<a:b/c/d>", "locked-dep=<a:b:c@1.0.0>,integrity=<sha256-AA>"]


@pytest.mark.parametrize("name", NESTED)
def test_nested_names_follow_the_gate(name: str) -> None:
    data = with_import(name)
    expected = reference(data)
    assert expected is not None  # wasmtime 50: off, with no switch
    with pytest.raises(ValidationError) as info:
        Component(ENGINE, data)
    assert innermost(expected) in str(info.value)
    # With the gate on, the name is valid (validation is given the feature).
    validate_component(decode_component(data), frozenset({"cm-nested-names"}))


@pytest.mark.skipif(shutil.which("wasm-tools") is None, reason="needs wasm-tools")
@pytest.mark.parametrize("name", [n for n in NESTED if "=" not in n]
                         + ["a:b::c/d", "a:b:C/d", "a:b/c//d", "a:b:c", "a:b:c/d@1.0.0"])
def test_nested_names_match_wasm_tools(name: str, tmp_path: Path) -> None:
    """With every feature on, wasm-tools and our nested grammar agree on interface
    names.  (wasm-tools 1.262 no longer accepts the ``url=``/``*-dep=``/``integrity=``
    forms at all, which wasmtime 50 still does; wasmtime is the anchor for those.)"""
    path = tmp_path / "c.wasm"
    path.write_bytes(with_import(name))
    run = subprocess.run(["wasm-tools", "validate", "--features", "all", str(path)],
                         capture_output=True, text=True, check=False)
    try:
        validate_component(decode_component(path.read_bytes()), frozenset({"cm-nested-names"}))
    except ValidationError as err:
        assert run.returncode != 0, f"wasm-tools accepts `{name}`, we say: {err}"
        assert innermost(OFFSET.sub("", run.stderr)) in str(err)
    else:
        assert run.returncode == 0, run.stderr


def test_parse_name_kinds() -> None:
    assert parse_name("a:b:c/d/e@1.0.0", 0, nested=True).kind == "interface"
    assert parse_name("locked-dep=<a:b@1.0.0>,integrity=<sha256-AA>", 0).kind == "dependency"
    assert parse_name("url=<x>", 0).kind == "url"
    assert parse_name("integrity=<sha512-AA==>", 0).kind == "hash"
    with pytest.raises(ValidationError, match="expected `/` after package name"):
        parse_name("a:b:c/d", 0)
