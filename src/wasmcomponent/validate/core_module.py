"""The import/export types of a core module, read without an engine.

Instantiation checks need the types a core module imports and exports; the
module itself is validated by the core engine.  :func:`module_type` walks the
section headers of a module and decodes only the type, import, function,
table, memory, tag, global and export sections (stopping at the first section
after exports, so code and data are never touched).  Constant expressions in
the table and global sections are skipped opcode by opcode; an encoding this
reader does not know makes it return ``None`` ("type unknown"), so an exotic
but valid module is never rejected here.  Duplicate two-level imports are
rejected as wasmparser does ("duplicate import name `m:n`").

    >>> module_type(b"\\0asm\\1\\0\\0\\0", 0).exports
    {}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..binary import ast
from ..binary.decoder import _core_extern_desc, _core_reftype, _core_valtype, _rec_group
from ..binary.reader import Reader
from ..errors import DecodeError, ValidationError

MAX_ITEMS = 1_000_000
SECTION_ORDER = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8}


@dataclass(frozen=True)
class CoreSig:
    """A core function type with value types spelled as strings (``i32``, ``funcref``...)."""

    params: tuple[str, ...]
    results: tuple[str, ...]

    def __str__(self) -> str:
        out = "(func"
        if self.params:
            out += " (param " + " ".join(self.params) + ")"
        if self.results:
            out += " (result " + " ".join(self.results) + ")"
        return out + ")"


@dataclass(frozen=True)
class CoreExtern:
    """A core extern type; ``sig`` is None when the function type is not a plain func type."""

    kind: str  # func / table / memory / global / tag
    sig: Optional[CoreSig] = None
    element: str = ""
    minimum: int = 0
    maximum: Optional[int] = None
    wide: bool = False
    shared: bool = False
    mutable: bool = False
    content: str = ""
    known: bool = True


@dataclass
class CoreModuleInfo:
    """A core module's (or core module type's) imports and exports."""

    imports: list[tuple[str, str, CoreExtern]] = field(default_factory=list)
    exports: dict[str, CoreExtern] = field(default_factory=dict)


def valtype_name(t: ast.CoreValType) -> str:
    """A core value type as text: ``i32``, ``funcref``, ``(ref null 3)``..."""
    if isinstance(t, ast.CoreRefType):
        if t.nullable and not t.shared and t.heap in ("func", "extern"):
            return f"{t.heap}ref"
        return str(t)
    return t


def sig_of(t: object) -> Optional[CoreSig]:
    """The CoreSig of a decoded core type, if it is a plain function type."""
    if isinstance(t, ast.CoreFuncType):
        return CoreSig(tuple(map(valtype_name, t.params)), tuple(map(valtype_name, t.results)))
    return None


def extern_of(desc: ast.CoreExternDesc, types: list[object], offset: int) -> CoreExtern:
    """Resolve a decoded core extern descriptor against the module's type list."""
    if isinstance(desc, (ast.CoreFuncDesc, ast.CoreTagDesc)):
        if not 0 <= desc.type_index < len(types):
            raise ValidationError(
                f"unknown type {desc.type_index}: type index out of bounds", offset
            )
        kind = "func" if isinstance(desc, ast.CoreFuncDesc) else "tag"
        return CoreExtern(kind, sig=sig_of(types[desc.type_index]))
    if isinstance(desc, ast.CoreTableDesc):
        limit = 1 << 64 if desc.table64 else 1 << 32
        _check_limits(desc.minimum, desc.maximum, limit, "table", offset)
        return CoreExtern(
            "table", element=valtype_name(desc.element), minimum=desc.minimum,
            maximum=desc.maximum, wide=desc.table64, shared=desc.shared,
        )
    if isinstance(desc, ast.CoreMemoryDesc):
        if desc.page_size_log2 is None or desc.page_size_log2 == 16:
            pages = 1 << 48 if desc.memory64 else 1 << 16
            _check_limits(desc.minimum, desc.maximum, pages, "memory", offset)
        return CoreExtern(
            "memory", minimum=desc.minimum, maximum=desc.maximum,
            wide=desc.memory64, shared=desc.shared,
        )
    assert isinstance(desc, ast.CoreGlobalDesc)
    return CoreExtern("global", content=valtype_name(desc.type), mutable=desc.mutable, shared=desc.shared)


def _check_limits(minimum: int, maximum: Optional[int], limit: int, what: str, offset: int) -> None:
    if what == "memory":
        if minimum > limit or (maximum is not None and maximum > limit):
            suffix = " (4GiB)" if limit == 1 << 16 else ""
            raise ValidationError(f"memory size must be at most {limit} pages{suffix}", offset)
    if maximum is not None and minimum > maximum:
        raise ValidationError("size minimum must not be greater than maximum", offset)


class _Unknown(Exception):
    """An encoding this reader does not understand; the module type stays unknown."""


def module_type(data: bytes, base: int) -> Optional[CoreModuleInfo]:
    """The imports/exports of core module ``data`` (at ``base`` in the component), or None if unknown."""
    try:
        return _read_module(Reader(data, 8), base)
    except (_Unknown, DecodeError):
        return None


def _read_module(r: Reader, base: int) -> CoreModuleInfo:
    info = CoreModuleInfo()
    types: list[object] = []
    funcs: list[Optional[CoreSig]] = []
    tables: list[CoreExtern] = []
    memories: list[CoreExtern] = []
    globals_: list[CoreExtern] = []
    tags: list[Optional[CoreSig]] = []
    seen_imports: set[tuple[str, str]] = set()
    while not r.at_end():
        sid = r.u8()
        size = r.u32()
        body = r.sub(size)
        if sid == 0:
            continue
        if sid not in SECTION_ORDER:
            break
        count = body.count(MAX_ITEMS, "section")
        for _ in range(count):
            at = base + body.pos
            if sid == 1:
                group = _rec_group(body)
                if isinstance(group, ast.CoreRecGroup):
                    types.extend(group.types)
                else:
                    types.append(group)
            elif sid == 2:
                module = body.name()
                name = body.name()
                if body.peek() == 0x7F or body.peek() == 0x7E:
                    raise _Unknown()
                ext = extern_of(_core_extern_desc(body), types, at)
                if (module, name) in seen_imports:
                    raise ValidationError(f"duplicate import name `{module}:{name}`", at)
                seen_imports.add((module, name))
                info.imports.append((module, name, ext))
                _index_space(ext, funcs, tables, memories, globals_, tags)
            elif sid == 3:
                index = body.u32()
                funcs.append(sig_of(types[index]) if index < len(types) else None)
            elif sid == 4:
                tables.append(_table(body))
            elif sid == 5:
                memories.append(_memory(body))
            elif sid == 13:
                if body.u8() != 0:
                    raise _Unknown()
                index = body.u32()
                tags.append(sig_of(types[index]) if index < len(types) else None)
            elif sid == 6:
                content = _core_valtype(body)
                flags = body.u8()
                _skip_const_expr(body)
                globals_.append(CoreExtern("global", content=valtype_name(content), mutable=bool(flags & 1),
                                           shared=bool(flags & 2)))
            elif sid == 7:
                name = body.name()
                kind = body.u8()
                index = body.u32()
                if kind > 4:
                    raise _Unknown()
                spaces: list[list] = [funcs, tables, memories, globals_, tags]
                space = spaces[kind]
                if index >= len(space):
                    raise _Unknown()
                item = space[index]
                if kind == 0:
                    item = CoreExtern("func", sig=item)
                elif kind == 4:
                    item = CoreExtern("tag", sig=item)
                info.exports[name] = item
        if sid == 7:
            break
    return info


def _index_space(ext: CoreExtern, funcs: list, tables: list, memories: list, globals_: list, tags: list) -> None:
    if ext.kind == "func":
        funcs.append(ext.sig)
    elif ext.kind == "table":
        tables.append(ext)
    elif ext.kind == "memory":
        memories.append(ext)
    elif ext.kind == "global":
        globals_.append(ext)
    else:
        tags.append(ext.sig)


def _table(r: Reader) -> CoreExtern:
    has_init = r.peek() == 0x40
    if has_init:
        r.pos += 1
        if r.u8() != 0:
            raise _Unknown()
    element = _core_reftype(r)
    flags = r.u8()
    if flags & ~0b111:
        raise _Unknown()
    read = r.u64 if flags & 0b100 else r.u32
    minimum = read()
    maximum = read() if flags & 1 else None
    if has_init:
        _skip_const_expr(r)
    return CoreExtern("table", element=valtype_name(element), minimum=minimum, maximum=maximum,
                      wide=bool(flags & 0b100), shared=bool(flags & 0b010))


def _memory(r: Reader) -> CoreExtern:
    flags = r.u8()
    if flags & ~0b1111:
        raise _Unknown()
    read = r.u64 if flags & 0b100 else r.u32
    minimum = read()
    maximum = read() if flags & 1 else None
    if flags & 0b1000:
        r.u32()
    return CoreExtern("memory", minimum=minimum, maximum=maximum, wide=bool(flags & 0b100),
                      shared=bool(flags & 0b010))


# opcodes that may appear in constant expressions, with their immediate shapes
_NO_IMM = {0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E}  # i32/i64 add sub mul
_ONE_U32 = {0x23, 0xD2}  # global.get, ref.func


def _skip_const_expr(r: Reader) -> None:
    """Skip a constant expression up to its ``end``; unknown opcodes give up."""
    for _ in range(10_000):
        op = r.u8()
        if op == 0x0B:
            return
        if op == 0x41:
            _sleb(r)
        elif op == 0x42:
            _sleb(r)
        elif op == 0x43:
            r.bytes(4)
        elif op == 0x44:
            r.bytes(8)
        elif op in _ONE_U32:
            r.u32()
        elif op == 0xD0:
            r.s33()
        elif op in _NO_IMM:
            pass
        elif op == 0xFB:
            sub = r.u32()
            if sub in (0, 1, 6, 7):
                r.u32()
            elif sub == 8:
                r.u32()
                r.u32()
            elif sub not in (0x1A, 0x1B, 0x1C):
                raise _Unknown()
        elif op == 0xFD:
            if r.u32() != 12:
                raise _Unknown()
            r.bytes(16)
        else:
            raise _Unknown()
    raise _Unknown()


def _sleb(r: Reader) -> None:
    for _ in range(10):
        if r.u8() < 0x80:
            return
    raise _Unknown()

