"""Small component binaries that are huge when expanded, or deeply nested.

Shared by ``tests/test_bombs.py`` (a property test against wasmtime) and the
seeds of ``fuzz/fuzz_components.py``.  Each builder returns the bytes of one
component, written directly in the binary format (``Binary.md``) so that no
text parser caps the nesting first.

Families (all a few hundred bytes to a few KB):

* :func:`doubling_chain` -- ``(type $tN (tuple $tN-1 $tN-1))`` and the same
  shape with records, variants, results, lists, options and maps; the
  effective size doubles at each step.  Optionally used by a function type,
  a function import, a type export or a lifted export.
* :func:`twin_chains` -- two equal but distinct chains compared by an
  instantiation (``(eq)`` type import): subtyping must not walk the expansion.
* :func:`instance_doubling` -- instance types exporting two instances of the
  previous instance type; :func:`reexported_instance` passes such an import
  through a nested component and re-exports it.
* :func:`nested_components`, :func:`nested_instance_types`,
  :func:`nested_component_types`, :func:`nested_value_types`,
  :func:`many_modules`, :func:`outer_alias_chain` -- depth and count limits.
"""

from __future__ import annotations

PREAMBLE = b"\x00asm\x0d\x00\x01\x00"
CORE_PREAMBLE = b"\x00asm\x01\x00\x00\x00"

U32 = b"\x79"  # primitive valtype / defvaltype
KINDS = ("tuple", "record", "variant", "result", "list", "option", "map")
USES = ("none", "functype", "import", "export", "lift")


def leb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sleb(n: int) -> bytes:
    """Signed LEB128 (a type index in a ``valtype`` is an s33)."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def vec(items: list[bytes]) -> bytes:
    return leb(len(items)) + b"".join(items)


def name(text: str) -> bytes:
    data = text.encode()
    return leb(len(data)) + data


def section(section_id: int, body: bytes) -> bytes:
    return bytes([section_id]) + leb(len(body)) + body


def component(*sections: bytes) -> bytes:
    return PREAMBLE + b"".join(sections)


def idx(i: int) -> bytes:
    """A ``valtype`` naming type index ``i``."""
    return sleb(i)


def _step(kind: str, prev: bytes) -> bytes:
    """One defined value type built from two uses of ``prev`` (a valtype)."""
    if kind == "tuple":
        return b"\x6f" + vec([prev, prev])
    if kind == "record":
        return b"\x72" + vec([name("a") + prev, name("b") + prev])
    if kind == "variant":
        return b"\x71" + vec([name("a") + b"\x01" + prev + b"\x00", name("b") + b"\x01" + prev + b"\x00"])
    if kind == "result":
        return b"\x6a\x01" + prev + b"\x01" + prev
    if kind in ("list", "option"):  # the wrapper is its own step (see doubling_chain)
        return b"\x6f" + vec([prev, prev])
    if kind == "map":
        return b"\x63" + prev + prev
    raise ValueError(kind)


def doubling_chain(kind: str, steps: int, use: str = "none") -> bytes:
    """``steps`` types, each using the previous one twice, then one use of the last.

    ``list`` and ``option`` chains interleave the wrapper with a pair:
    ``$t2k+1 = list<$t2k>``, ``$t2k+2 = tuple<$t2k+1, $t2k+1>``.
    """
    types = [U32]  # type 0: u32
    for i in range(1, steps + 1):
        prev = idx(i - 1)
        if kind == "list" and i % 2:
            types.append(b"\x70" + prev)
        elif kind == "option" and i % 2:
            types.append(b"\x6b" + prev)
        else:
            types.append(_step(kind, prev))
    last = len(types) - 1
    sections = [section(7, vec(types))]
    if use == "functype":
        sections.append(section(7, vec([b"\x40" + vec([name("x") + idx(last)]) + b"\x01\x00"])))
    elif use == "import":
        sections.append(section(7, vec([b"\x40" + vec([name("x") + idx(last)]) + b"\x01\x00"])))
        sections.append(section(10, vec([b"\x00" + name("f") + b"\x01" + leb(last + 1)])))
    elif use == "export":
        sections.append(section(11, vec([b"\x00" + name("t") + b"\x03" + leb(last) + b"\x00"])))
    elif use == "lift":
        sections.extend(_lifted(last))
    return component(*sections)


def _core_module_one_param() -> bytes:
    """``(module (memory (export "m") 1) (func (export "f") (param i32)) (func (export "r")
    (param i32 i32 i32 i32) (result i32) i32.const 0))``."""
    types = section(1, vec([b"\x60\x01\x7f\x00", b"\x60\x04\x7f\x7f\x7f\x7f\x01\x7f"]))
    funcs = section(3, vec([b"\x00", b"\x01"]))
    memory = section(5, vec([b"\x00\x01"]))
    exports = section(7, vec([name("m") + b"\x02\x00", name("f") + b"\x00\x00", name("r") + b"\x00\x01"]))
    code = section(10, vec([leb(2) + b"\x00\x0b", leb(4) + b"\x00\x41\x00\x0b"]))
    return CORE_PREAMBLE + types + funcs + memory + exports + code


def _lifted(last: int) -> list[bytes]:
    """Lift a core ``(param i32)`` as ``(func (param "x" $last))`` and export it."""
    return [
        section(1, _core_module_one_param()),
        section(2, vec([b"\x00" + leb(0) + vec([])])),  # core instance 0 = instantiate module 0
        section(6, vec([
            b"\x00\x02\x01" + leb(0) + name("m"),  # core memory 0
            b"\x00\x00\x01" + leb(0) + name("f"),  # core func 0
            b"\x00\x00\x01" + leb(0) + name("r"),  # core func 1
        ])),
        section(7, vec([b"\x40" + vec([name("x") + idx(last)]) + b"\x01\x00"])),
        # canon lift (core func 0) (memory 0) (realloc 1) : type last+1
        section(8, vec([b"\x00\x00" + leb(0) + vec([b"\x03" + leb(0), b"\x04" + leb(1)]) + leb(last + 1)])),
        section(11, vec([b"\x00" + name("f") + b"\x01" + leb(0) + b"\x00"])),
    ]


def twin_chains(kind: str, steps: int) -> bytes:
    """An inner component importing ``(type (eq $B))`` instantiated with an equal,
    separately defined ``$A``: the subtype check compares two equal DAGs."""

    def chain() -> list[bytes]:
        types = [U32]
        for i in range(1, steps + 1):
            types.append(_step(kind if kind in ("tuple", "record", "variant", "result") else "tuple",
                               idx(i - 1)))
        return types

    inner_types = chain()
    inner = component(
        section(7, vec(inner_types)),
        section(10, vec([b"\x00" + name("x") + b"\x03\x00" + leb(len(inner_types) - 1)])),
    )
    outer_types = chain()
    instantiate = b"\x00" + leb(0) + vec([name("x") + b"\x03" + leb(len(outer_types) - 1)])
    return component(section(7, vec(outer_types)), section(4, inner), section(5, vec([instantiate])))


def instance_doubling(steps: int) -> bytes:
    """``$i0 = (instance)``; ``$iN = (instance (export "a" (instance $iN-1)) (export "b" ...))``."""
    types = _instance_chain(steps)
    last = len(types) - 1
    return component(
        section(7, vec(types)),
        section(10, vec([b"\x00" + name("i") + b"\x05" + leb(last)])),
    )


def _instance_chain(steps: int) -> list[bytes]:
    types = [b"\x42" + vec([])]
    for i in range(1, steps + 1):
        decls = [
            b"\x02\x03\x02" + leb(1) + leb(i - 1),  # alias outer 1 (i-1): local type 0
            b"\x04\x00" + name("a") + b"\x05" + leb(0),
            b"\x04\x00" + name("b") + b"\x05" + leb(0),
        ]
        types.append(b"\x42" + vec(decls))
    return types


def reexported_instance(steps: int) -> bytes:
    """An imported doubling instance passed to a nested component that re-exports
    it, re-exported again by the outer one: instantiation checks and re-export
    listings must not expand it."""
    inner = component(
        section(7, vec(_instance_chain(steps))),
        section(10, vec([b"\x00" + name("i") + b"\x05" + leb(steps)])),
        section(11, vec([b"\x00" + name("e") + b"\x05" + leb(0) + b"\x00"])),
    )
    return component(
        section(7, vec(_instance_chain(steps))),
        section(10, vec([b"\x00" + name("i") + b"\x05" + leb(steps)])),
        section(4, inner),
        section(5, vec([b"\x00" + leb(0) + vec([name("i") + b"\x05" + leb(0)])])),
        section(11, vec([b"\x00" + name("e") + b"\x05" + leb(1) + b"\x00"])),
    )


def nested_components(depth: int, instantiate: bool = True) -> bytes:
    data = component()
    for _ in range(depth):
        inner = [section(4, data)]
        if instantiate:
            inner.append(section(5, vec([b"\x00" + leb(0) + vec([])])))
        data = component(*inner)
    return data


def _nested_type(code: int, depth: int) -> bytes:
    t = U32
    for _ in range(depth):
        t = bytes([code]) + vec([b"\x01" + t])
    return t


def nested_instance_types(depth: int) -> bytes:
    return component(section(7, vec([_nested_type(0x42, depth)])))


def nested_component_types(depth: int) -> bytes:
    return component(section(7, vec([_nested_type(0x41, depth)])))


def nested_value_types(kind: str, depth: int) -> bytes:
    """``list<list<...u32>>`` (or option/tuple) as one type per level."""
    types = [U32]
    for i in range(1, depth + 1):
        prev = idx(i - 1)
        types.append({"list": b"\x70" + prev, "option": b"\x6b" + prev,
                      "tuple": b"\x6f" + vec([prev])}[kind])
    return component(section(7, vec(types)))


def many_modules(count: int) -> bytes:
    return component(*[section(1, CORE_PREAMBLE)] * count)


def outer_alias_chain(depth: int) -> bytes:
    """Nested components each aliasing the outermost type through ``alias outer``."""
    data = component()
    for level in range(depth):
        sections = [section(4, data), section(5, vec([b"\x00" + leb(0) + vec([])]))]
        if level < depth - 1:
            sections.insert(0, section(6, vec([b"\x03\x02" + leb(1) + leb(0)])))
        data = component(*sections)
    return component(section(7, vec([U32])), *_strip(data))


def _strip(data: bytes) -> list[bytes]:
    """The sections of ``data`` (built by this module) as separate byte strings."""
    pos, out = len(PREAMBLE), []
    while pos < len(data):
        start = pos
        pos += 1
        size = shift = 0
        while True:
            byte = data[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        pos += size
        out.append(data[start:pos])
    return out


def seeds() -> list[bytes]:
    """A fixed selection of bombs for the fuzzer's seed list."""
    out: list[bytes] = []
    for kind in KINDS:
        out.append(doubling_chain(kind, 24))
        out.append(doubling_chain(kind, 16, "lift"))
        out.append(doubling_chain(kind, 12, "import"))
    out += [
        twin_chains("tuple", 18), twin_chains("record", 60),
        instance_doubling(24), instance_doubling(64), reexported_instance(14), reexported_instance(40),
        nested_components(99), nested_components(150, instantiate=False),
        nested_instance_types(99), nested_instance_types(300),
        nested_component_types(120), nested_value_types("list", 99),
        nested_value_types("option", 150), many_modules(1001), outer_alias_chain(40),
    ]
    return out
