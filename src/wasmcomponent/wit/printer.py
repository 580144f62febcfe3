"""Print the WIT model (:mod:`wasmcomponent.wit.model`) as text.

The layout is wit-component's ``printing.rs`` (``wasm-tools component
wit``), so that the two print a component identically:

* the main package first (``package root:component;``, its interfaces,
  then ``world root { ... }``), then every foreign package as
  ``package ns:pkg@ver { ... }``, two blank lines apart;
* in a world: imported interfaces, then the types imported at the root
  (with resource functions inside their resource), then the root function
  imports, a blank line, and the exports;
* in an interface: ``use`` statements (consecutive uses of one interface
  merged), then the type definitions, then the functions, one blank line
  between items; records, variants, enums and flags one member per line;
* identifiers spelled like a WIT keyword get a ``%`` prefix.

Printing is bounded: the text may not exceed :data:`MAX_OUTPUT_CHARS`
characters.  A hostile component can make an anonymous type's expansion
exponentially larger than its binary (a chain of ``tuple<t, t>``); past the
bound :func:`print_resolve` raises ``UnsupportedError`` instead of
exhausting memory.

Example::

    >>> from . import model as w
    >>> pkg = w.Package(w.PackageName("root", "component"))
    >>> world = w.World("root", pkg)
    >>> pkg.worlds["root"] = world
    >>> f = w.Function("greet", "freestanding", (w.Param("name", w.STRING),), w.STRING)
    >>> world.exports["greet"] = w.FunctionItem("greet", f)
    >>> print(print_resolve(w.Resolve([pkg], pkg, world)), end="")
    package root:component;
    <BLANKLINE>
    world root {
      export greet: func(name: string) -> string;
    }
"""

from __future__ import annotations

from typing import Optional, Union

from ..errors import UnsupportedError
from . import model as w

__all__ = ["KEYWORDS", "MAX_OUTPUT_CHARS", "print_resolve", "type_name", "escape"]

KEYWORDS = frozenset(
    (
        "use type func u8 u16 u32 u64 s8 s16 s32 s64 f32 f64 float32 float64 char resource record flags variant "
        "enum bool string option result future stream list own borrow _ as from static interface tuple world "
        "import export package with include constructor error-context async map"
    ).split()
)
"""The words wit-component escapes with ``%``."""

MAX_OUTPUT_CHARS = 1 << 24
"""The longest WIT text printed (16 MiB); longer raises ``UnsupportedError``."""


def escape(name: str) -> str:
    """``name`` as a WIT identifier.

    >>> escape("type"), escape("point")
    ('%type', 'point')
    """
    return f"%{name}" if name in KEYWORDS else name


def _lines(text: str) -> list[str]:
    """Rust's ``str::lines``: split at ``\\n`` (dropping a ``\\r`` before it), no empty last line.

    >>> _lines("a\\r\\nb\\x0cc\\n")
    ['a', 'b\\x0cc']
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


class _TooLong(Exception):
    pass


class _Output:
    """wit-component's ``OutputToString``: two-space indentation, applied lazily after a newline."""

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit
        self.indent = 0
        self.needs_indent = False

    def push(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > self.limit:
            raise _TooLong

    def _indent_if_needed(self) -> None:
        if self.needs_indent:
            self.push("  " * self.indent)
            self.needs_indent = False

    def write(self, text: str) -> None:
        self._indent_if_needed()
        self.push(text)

    def newline(self) -> None:
        self.push("\n")
        self.needs_indent = True

    def semicolon(self) -> None:
        self.push(";")
        self.newline()

    def indent_start(self) -> None:
        self.push(" {")
        self.indent += 1
        self.newline()

    def indent_end(self) -> None:
        self.indent = max(0, self.indent - 1)
        self._indent_if_needed()
        self.push("}")
        self.newline()

    def doc(self, line: str) -> None:
        self._indent_if_needed()
        self.push("///" + (f" {line}" if line else ""))
        self.newline()

    def text(self) -> str:
        return "".join(self.parts)


def print_resolve(resolve: w.Resolve, docs: bool = True, limit: int = MAX_OUTPUT_CHARS) -> str:
    """The WIT text of ``resolve``: its main package, then the foreign ones (``docs=False`` drops docs)."""
    printer = _Printer(_Output(limit), docs)
    try:
        printer.package(resolve.main, main=True)
        for i, package in enumerate(resolve.foreign_packages()):
            if i:
                printer.out.newline()
                printer.out.newline()
            printer.package(package, main=False)
    except _TooLong:
        raise UnsupportedError(
            f"WIT text longer than {limit} characters (the component's types expand to more than that)"
        ) from None
    return printer.out.text()


def print_world_items(world: w.World, imports: bool = True, exports: bool = True, docs: bool = True,
                      limit: int = MAX_OUTPUT_CHARS) -> str:
    """A world's imports and exports one by one, in the component's order, each interface expanded.

    This is ``wasmcomponent inspect``'s listing: where ``print_resolve``
    writes ``import wasi:io/poll@0.2.9;`` and prints the interface in its
    package, this writes ``import wasi:io/poll@0.2.9: interface { ... }``.
    """
    printer = _Printer(_Output(limit), docs, qualified_paths=True)
    out = printer.out
    resource_funcs: dict[int, list[w.Function]] = {}  # a root resource's functions go in its block
    for item in world.imports.values():
        if isinstance(item, w.FunctionItem) and item.function.resource is not None:
            resource_funcs.setdefault(id(item.function.resource), []).append(item.function)
    try:
        for keyword, wanted, items in (("import", imports, world.imports), ("export", exports, world.exports)):
            if not wanted:
                continue
            for item in items.values():
                if isinstance(item, w.InterfaceItem):
                    printer.docs(item.docs)
                    printer.stability(item.stability)
                    out.write(f"{keyword} {item.name}: interface")
                    out.indent_start()
                    printer.interface(item.interface)
                    out.indent_end()
                elif isinstance(item, w.FunctionItem):
                    if item.function.resource is None or keyword == "export":
                        printer.world_item(item, world.package, keyword)
                else:
                    printer.any_items = False
                    printer.types(world, [(item.name, item.typedef)], resource_funcs)
    except _TooLong:
        raise UnsupportedError(f"WIT text longer than {limit} characters") from None
    return out.text()


def type_name(ty: w.Type, limit: int = MAX_OUTPUT_CHARS) -> str:
    """A WIT type as written where it is used: its name, or its structure (``list<point>``).

    >>> type_name(w.TypeDef(None, w.Result(None, w.TypeDef(None, w.List(w.U8)))))
    'result<_, list<u8>>'
    """
    printer = _Printer(_Output(limit), True)
    try:
        printer.type_name(ty)
    except _TooLong:
        raise UnsupportedError(f"WIT type longer than {limit} characters") from None
    return printer.out.text()


class _Printer:
    def __init__(self, out: _Output, docs: bool, qualified_paths: bool = False) -> None:
        self.out = out
        self.emit_docs = docs
        self.any_items = False
        self.qualified_paths = qualified_paths  # `use ns:pkg/iface@v.{..}` even within one package

    # ------------------------------------------------------------ packages

    def package(self, package: w.Package, main: bool) -> None:
        out = self.out
        self.docs(package.docs)
        out.write(f"package {escape(package.name.namespace)}:{escape(package.name.name)}")
        if package.name.version:
            out.write(f"@{package.name.version}")
        if main:
            out.semicolon()
            out.newline()
        else:
            out.indent_start()
        for name, iface in package.interfaces.items():
            self.docs(iface.docs)
            self.stability(iface.stability)
            out.write(f"interface {escape(name)}")
            out.indent_start()
            self.interface(iface)
            out.indent_end()
            if main:
                out.newline()
        for name, world in package.worlds.items():
            self.docs(world.docs)
            self.stability(world.stability)
            out.write(f"world {escape(name)}")
            out.indent_start()
            self.world(world)
            out.indent_end()
        if not main:
            out.indent_end()

    def new_item(self) -> None:
        if self.any_items:
            self.out.newline()
        self.any_items = True

    # ------------------------------------------------------------ interfaces

    def interface(self, iface: w.Interface) -> None:
        saved, self.any_items = self.any_items, False
        resource_funcs: dict[int, list[w.Function]] = {}
        freestanding: list[w.Function] = []
        for func in iface.functions.values():
            if func.resource is not None:
                resource_funcs.setdefault(id(func.resource), []).append(func)
            else:
                freestanding.append(func)
        self.types(iface, list(iface.types.items()), resource_funcs)
        for func in freestanding:
            self.new_item()
            self.docs(func.docs)
            self.stability(func.stability)
            self.external_id(func.external_id)
            self.out.write(f"{escape(func.item_name)}: ")
            self.function(func)
            self.out.semicolon()
        self.any_items = saved

    def types(self, owner: Union[w.Interface, w.World], types: list[tuple[str, w.TypeDef]],
              resource_funcs: dict[int, list[w.Function]]) -> None:
        to_declare: list[w.TypeDef] = []
        to_import: list[tuple[w.Interface, w.TypeDef, list[tuple[str, str]]]] = []
        for name, ty in types:
            target = ty.kind.type if isinstance(ty.kind, w.Alias) else None
            if isinstance(target, w.TypeDef) and target.owner is not None and target.owner is not owner:
                if target.name is None or not isinstance(target.owner, w.Interface):
                    raise UnsupportedError(f"type `{name}` cannot be written as a `use`")
                if to_import and to_import[-1][0] is target.owner and to_import[-1][1].stability == ty.stability \
                        and to_import[-1][1].external_id == ty.external_id:
                    to_import[-1][2].append((name, target.name))
                else:
                    to_import.append((target.owner, ty, [(name, target.name)]))
                continue
            to_declare.append(ty)
        my_package = owner.package
        for source, ty, names in to_import:
            self.any_items = True
            self.stability(ty.stability)
            self.external_id(ty.external_id)
            self.out.write("use ")
            self.path_to_interface(source, my_package)
            items = ", ".join(escape(mine) if mine == theirs else f"{escape(theirs)} as {escape(mine)}"
                              for mine, theirs in names)
            self.out.write(f".{{{items}}}")
            self.out.semicolon()
        for ty in to_declare:
            self.new_item()
            self.docs(ty.docs)
            self.stability(ty.stability)
            self.external_id(ty.external_id)
            if isinstance(ty.kind, w.Resource):
                self.resource(ty, resource_funcs.get(id(ty), []))
            else:
                self.declare(ty)

    def resource(self, ty: w.TypeDef, funcs: list[w.Function]) -> None:
        out = self.out
        out.write(f"resource {escape(ty.name or '')}")
        if not funcs:
            out.semicolon()
            return
        out.indent_start()
        for func in funcs:
            self.docs(func.docs)
            self.stability(func.stability)
            self.external_id(func.external_id)
            if func.kind == "method":
                out.write(f"{escape(func.item_name)}: ")
            elif func.kind == "static":
                out.write(f"{escape(func.item_name)}: static ")
            self.function(func)
            out.semicolon()
        out.indent_end()

    def function(self, func: w.Function) -> None:
        out = self.out
        if func.is_async:
            out.write("async ")
        out.write("constructor(" if func.kind == "constructor" else "func(")
        params = func.params[1:] if func.kind == "method" else func.params
        for i, param in enumerate(params):
            if i:
                out.write(", ")
            out.write(f"{escape(param.name)}: ")
            self.type_name(param.type)
        out.write(")")
        if func.is_constructor_shorthand():
            return
        if func.result is not None:
            out.write(" -> ")
            self.type_name(func.result)

    # ------------------------------------------------------------ worlds

    def world(self, world: w.World) -> None:
        saved, self.any_items = self.any_items, False
        types: list[tuple[str, w.TypeDef]] = []
        resource_funcs: dict[int, list[w.Function]] = {}
        function_imports: list[w.FunctionItem] = []
        for name, item in world.imports.items():
            if isinstance(item, w.TypeItem):
                types.append((name, item.typedef))
            elif isinstance(item, w.FunctionItem):
                if item.function.resource is not None:
                    resource_funcs.setdefault(id(item.function.resource), []).append(item.function)
                else:
                    function_imports.append(item)
            else:
                self.world_item(item, world.package, "import")
                self.any_items = True
        self.types(world, types, resource_funcs)
        for item in function_imports:
            self.world_item(item, world.package, "import")
            self.any_items = True
        if world.exports:
            self.new_item()
        for item in world.exports.values():
            if isinstance(item, w.TypeItem):
                raise UnsupportedError(f"a world exporting type `{item.name}`")
            self.world_item(item, world.package, "export")
        self.any_items = saved

    def world_item(self, item: Union[w.InterfaceItem, w.FunctionItem], package: Optional[w.Package],
                   keyword: str) -> None:
        out = self.out
        if isinstance(item, w.InterfaceItem):
            docs = item.docs
            if docs is None and not item.named:
                docs = item.interface.docs
            self.docs(docs)
            self.stability(item.stability)
            self.external_id(item.external_id)
            out.write(f"{keyword} ")
            if item.named:
                self.path_to_interface(item.interface, package)
                out.semicolon()
            elif item.interface.name is None:
                out.write(f"{escape(item.name)}: interface")
                out.indent_start()
                self.interface(item.interface)
                out.indent_end()
            else:
                out.write(f"{escape(item.name)}: ")
                self.path_to_interface(item.interface, package)
                out.semicolon()
            return
        func = item.function
        self.docs(func.docs)
        self.stability(func.stability)
        self.external_id(func.external_id)
        out.write(f"{keyword} {escape(func.name)}: ")
        self.function(func)
        out.semicolon()

    def path_to_interface(self, iface: w.Interface, current: Optional[w.Package]) -> None:
        if iface.package is None or (iface.package is current and not self.qualified_paths):
            self.out.write(escape(iface.name or ""))
            return
        name = iface.package.name
        self.out.write(f"{escape(name.namespace)}:{escape(name.name)}/{escape(iface.name or '')}")
        if name.version:
            self.out.write(f"@{name.version}")

    # ------------------------------------------------------------ types

    def type_name(self, ty: w.Type) -> None:
        """A type where it is used; iterative over nesting (types come from the input)."""
        out = self.out
        # A stack of pending work: a type to print, or literal text.
        stack: list[Union[w.Type, str]] = [ty]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.write(item)
                continue
            if isinstance(item, w.Primitive):
                out.write(item.name)
                continue
            if item.name is not None:
                out.write(escape(item.name))
                continue
            stack.extend(reversed(self._structure(item.kind)))

    @staticmethod
    def _structure(kind: w.TypeDefKind) -> list[Union[w.Type, str]]:
        """An anonymous type as a sequence of text and component types."""
        def generic(word: str, args: list[w.Type]) -> list[Union[w.Type, str]]:
            parts: list[Union[w.Type, str]] = [f"{word}<"]
            for i, arg in enumerate(args):
                if i:
                    parts.append(", ")
                parts.append(arg)
            parts.append(">")
            return parts

        if isinstance(kind, w.Handle):
            name = escape(kind.resource.name or "")
            return [f"borrow<{name}>"] if kind.borrow else [name]
        if isinstance(kind, w.Tuple):
            return generic("tuple", list(kind.types))
        if isinstance(kind, w.Option):
            return generic("option", [kind.type])
        if isinstance(kind, w.Result):
            if kind.ok is None and kind.err is None:
                return ["result"]
            if kind.ok is None:
                assert kind.err is not None
                return ["result<_, ", kind.err, ">"]
            return generic("result", [kind.ok] if kind.err is None else [kind.ok, kind.err])
        if isinstance(kind, w.List):
            return generic("list", [kind.type])
        if isinstance(kind, w.FixedList):
            return ["list<", kind.type, f", {kind.length}>"]
        if isinstance(kind, w.Map):
            return generic("map", [kind.key, kind.value])
        if isinstance(kind, w.Alias):
            return [kind.type]
        if isinstance(kind, (w.Future, w.Stream)):
            word = "future" if isinstance(kind, w.Future) else "stream"
            return [word] if kind.type is None else generic(word, [kind.type])
        raise UnsupportedError(f"an unnamed {type(kind).__name__.lower()} type in WIT")

    def declare(self, ty: w.TypeDef) -> None:
        out = self.out
        kind, name = ty.kind, escape(ty.name or "")
        if isinstance(kind, w.Record):
            out.write(f"record {name}")
            out.indent_start()
            for f in kind.fields:
                self.docs(f.docs)
                out.write(f"{escape(f.name)}: ")
                self.type_name(f.type)
                out.write(",")
                out.newline()
            out.indent_end()
        elif isinstance(kind, w.Variant):
            out.write(f"variant {name}")
            out.indent_start()
            for case in kind.cases:
                self.docs(case.docs)
                out.write(escape(case.name))
                if case.type is not None:
                    out.write("(")
                    self.type_name(case.type)
                    out.write(")")
                out.write(",")
                out.newline()
            out.indent_end()
        elif isinstance(kind, (w.Enum, w.Flags)):
            out.write(f"{'enum' if isinstance(kind, w.Enum) else 'flags'} {name}")
            out.indent_start()
            members = kind.cases if isinstance(kind, w.Enum) else kind.flags
            for member in members:
                self.docs(member.docs)
                out.write(escape(member.name))
                out.write(",")
                out.newline()
            out.indent_end()
        elif isinstance(kind, w.Handle):
            # `own<r>` spelled out: `type a = r` would mean an alias of the resource itself.
            inner = escape(kind.resource.name or "")
            out.write(f"type {name} = {'borrow' if kind.borrow else 'own'}<{inner}>")
            out.semicolon()
        else:
            out.write(f"type {name} = ")
            self.type_name(kind.type if isinstance(kind, w.Alias) else w.TypeDef(None, kind))
            out.semicolon()

    # ------------------------------------------------------------ annotations

    def docs(self, docs: Optional[str]) -> None:
        if self.emit_docs and docs is not None:
            for line in _lines(docs):
                self.out.doc(line)

    def stability(self, gate: w.Stability) -> None:
        out = self.out
        if gate.since is not None:
            out.write(f"@since(version = {gate.since})")
            out.newline()
        elif gate.unstable_feature is not None:
            out.write(f"@unstable(feature = {gate.unstable_feature})")
            out.newline()
        else:
            return
        if gate.deprecated is not None:
            out.write(f"@deprecated(version = {gate.deprecated})")
            out.newline()

    def external_id(self, value: Optional[str]) -> None:
        if value is None:
            return
        chars = []
        for c in value:
            if c.isascii() and (c.isalnum() or c in "-_./: "):
                chars.append(c)
            else:
                chars.append({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(
                    c, f"\\u{{{ord(c):x}}}"))
        self.out.write(f'@external-id("{"".join(chars)}")')
        self.out.newline()
