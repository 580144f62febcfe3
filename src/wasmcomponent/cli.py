"""The ``wasmcomponent`` command line.

``wasmcomponent run [OPTIONS] FILE [ARGS...]`` loads a component (binary
``.wasm`` or WAT text) and instantiates it with WASI (``add_wasip2``).  As with
``wasmtime run``, options go before ``FILE`` and everything after it belongs
to the guest: ``ARGS`` become its ``argv[1:]`` (``argv[0]`` is the file's base
name, or ``--argv0``).  A ``--`` right after ``FILE`` is dropped, so the older
``run FILE -- ARGS`` form still works; a later ``--`` is the guest's.

Without ``--invoke`` the component's ``wasi:cli/run`` export runs.  With
``--invoke 'name(args)'`` one export is called with WAVE-encoded arguments and
its result printed in WAVE on stdout::

    $ wasmcomponent run --invoke 'greet("world")' examples/hello.wat
    "Hello, world!"

Exports inside exported instances are named with ``#``
(``--invoke 'wasi:cli/run@0.2.0#run()'``), or by their bare name when no other
exported instance has a function of that name.  An unknown name lists the
callable exports with their WIT signatures.

``wasmcomponent wit FILE`` prints the component's WIT, as ``wasm-tools
component wit`` does (:mod:`wasmcomponent.wit`): the world ``root`` of package
``root:component``, then the packages its interfaces come from.
``wasmcomponent inspect FILE`` loads (compiles) the component and lists its
imports and exports one by one, each interface expanded in place, with the
same printer; a component that WIT cannot describe (one exporting a type or a
core module, say) is listed structurally by :mod:`wasmcomponent.wit_print`.  ``wasmcomponent --version`` prints the versions of
wasmcomponent and wasmtime-py.

Any wasmtime/wasmcomponent error, WAVE error or unreadable file is reported
as one ``error: ...`` line on stderr with exit status 1 (a lookup failure
adds the list of exports below it); usage errors exit with status 2;
``ExitTrap`` exits with its code.

Compiled components are cached on disk (``runtime.cache``), each entry
authenticated with a key kept outside the cache directory.  A guest that
could write the cache and read the key could make a later run execute its
code, so ``run`` refuses (exit status 2, naming both paths) a ``--dir`` whose
host directory contains, or is, the cache key file, and, unless
``--no-cache`` is given, one that contains the cache directory
(:func:`check_preopens`).  Paths are compared after ``realpath``.

The runtime is ``wasmcomponent`` itself.  For testing the command line
against the reference implementation, the environment variable
``WASMCOMPONENT_CLI_BACKEND=wasmtime`` switches to ``wasmtime.component``;
its reflection objects are then translated to our type model through their
public attributes only (:mod:`wasmcomponent.reflection`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
from importlib import metadata
from typing import Any, Optional, Sequence, TextIO

import wasmtime

from .reflection import model_component_type, model_functype, model_valtype
from .types import model
from .wave import WaveError, format_value, parse_call, parse_call_name
from .wit_print import function_signatures, wit_component

__all__ = ["main", "model_valtype", "model_functype", "model_component_type", "check_preopens", "version_text"]

BACKEND_ENV = "WASMCOMPONENT_CLI_BACKEND"
_BACKENDS = {"wasmcomponent": "wasmcomponent", "wasmtime": "wasmtime.component"}


class CliError(Exception):
    """A user-facing failure: a one-line message, and for a failed lookup the exports on the lines below."""


class UsageError(CliError):
    """The command line cannot work for this component (exit status 2, as argparse's errors)."""


# ---------------------------------------------------------------------- run


def _backend() -> Any:
    name = os.environ.get(BACKEND_ENV, "wasmcomponent")
    module = _BACKENDS.get(name)
    if module is None:
        raise CliError(f"unknown {BACKEND_ENV} `{name}` (expected one of {', '.join(_BACKENDS)})")
    return importlib.import_module(module)


def _export_listing(ty: model.ComponentType) -> str:
    """The callable exports, one ``name: func(...)`` per indented line (for lookup errors)."""
    lines = [f"  {name}: {signature}" for name, signature in function_signatures(ty)]
    if not lines:
        return "the component exports no functions"
    return "exported functions:\n" + "\n".join(lines)


def _lookup_error(message: str, ty: model.ComponentType) -> CliError:
    return CliError(f"{message}\n{_export_listing(ty)}")


def _function_paths(
    items: Any, leaf: str, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], model.FuncType]]:
    """Every function named ``leaf`` inside the exported instances (at any depth), with its path."""
    found: list[tuple[tuple[str, ...], model.FuncType]] = []
    if len(prefix) > 100:
        return found
    for name, item in items.items():
        if isinstance(item, model.InstanceType):
            func = item.exports.get(leaf)
            if isinstance(func, model.FuncType):
                found.append(((*prefix, name, leaf), func))
            found.extend(_function_paths(item.exports, leaf, (*prefix, name)))
    return found


def resolve_function(ty: model.ComponentType, name: str) -> tuple[tuple[str, ...], model.FuncType]:
    """The export path and type of the function a WAVE call names.

    ``a#b#f`` walks exported instances ``a`` then ``b``.  A bare ``f`` is a
    root export, else the one function named ``f`` in the exported instances
    (as ``wasmtime run --invoke`` searches them); several are an error naming
    each.  Failures list every callable export with its signature.
    """
    *path, leaf = name.split("#")
    items: Any = ty.exports
    for part in path:
        inner = items.get(part)
        if not isinstance(inner, model.InstanceType):
            raise _lookup_error(f"no exported instance named `{part}`", ty)
        items = inner.exports
    found = items.get(leaf)
    if isinstance(found, model.FuncType):
        return (*path, leaf), found
    if path:
        raise _lookup_error(f"no exported function named `{name}`", ty)
    candidates = _function_paths(ty.exports, leaf)
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        names = ", ".join(f"`{'#'.join(c)}`" for c, _ in candidates)
        raise CliError(f"several exported instances have a function named `{leaf}`; write one of: {names}")
    raise _lookup_error(f"no exported function named `{name}`", ty)


def _get_func(store: wasmtime.Store, instance: Any, path: Sequence[str]) -> Any:
    """The function at export ``path`` of ``instance`` (a path :func:`resolve_function` found in its type)."""
    parent = None
    for part in path[:-1]:
        parent = instance.get_export_index(store, part, parent)
        if parent is None:
            break
    index = None if parent is None and len(path) > 1 else instance.get_export_index(store, path[-1], parent)
    func = None if index is None else instance.get_func(store, index)
    if func is None:  # the type said it exists: a backend inconsistency, reported plainly
        raise CliError(f"no exported function named `{'#'.join(path)}`")
    return func


def _wasi_config(path: str, options: WasiOptions) -> Any:
    """The WASI configuration of a CLI run: inherited stdio, the given dirs, env and args."""
    from .wasi import WasiConfig

    config = WasiConfig()
    config.inherit_stdin()
    config.inherit_stdout()
    config.inherit_stderr()
    # argv[0] is the file's base name, as `wasmtime run` gives it (no host path leaks to the guest).
    config.argv = [options.argv0 if options.argv0 is not None else os.path.basename(path), *options.args]
    pairs = []
    for item in options.env:
        name, sep, value = item.partition("=")
        if not sep:
            value = os.environ.get(name, "")
        pairs.append((name, value))
    config.env = pairs
    for spec in options.dirs:
        host, sep, guest = spec.partition("::")
        config.preopen_dir(host, guest if sep else host)
    if options.inherit_network:
        config.inherit_network()
    if options.allow_http:
        config.allow_outgoing_http()
    return config


class WasiOptions:
    """``--dir``/``--env``/``--inherit-network``/``--allow-http``/``--argv0`` and the guest's arguments."""

    def __init__(
        self,
        dirs: Sequence[str] = (),
        env: Sequence[str] = (),
        args: Sequence[str] = (),
        inherit_network: bool = False,
        allow_http: bool = False,
        argv0: Optional[str] = None,
    ) -> None:
        self.dirs = list(dirs)
        self.env = list(env)
        self.args = list(args)
        self.inherit_network = inherit_network
        self.allow_http = allow_http
        self.argv0 = argv0


def check_preopens(dirs: Sequence[str], use_cache: bool) -> None:
    """Refuse a ``--dir`` preopen that would expose the compile cache or its key to the guest.

    The key file is protected even with ``--no-cache``: a guest that reads it
    (or plants its own) could forge entries for every later cached run.  The
    cache directory matters only when this run uses the cache; its entries
    are authenticated, so one planted by an earlier guest is only recompiled.
    """
    from .runtime.cache import CACHE_DIR_ENV, CACHE_KEY_ENV, cache_key_path, default_cache_dir

    protected = [("compile cache key", cache_key_path(), CACHE_KEY_ENV)]
    if use_cache:
        protected.append(("compile cache directory", default_cache_dir(), CACHE_DIR_ENV))
    for spec in dirs:
        host = spec.partition("::")[0]
        root = os.path.realpath(host)
        exposed = [
            (what, resolved, env)
            for what, target, env in protected
            for resolved in [os.path.realpath(target)]
            if os.path.commonpath([root, resolved]) == root
        ]
        if exposed:
            names = " and the ".join(f"{what} {resolved}" for what, resolved, _ in exposed)
            envs = " and ".join(env for _, _, env in exposed)
            hint = "" if any(env == CACHE_KEY_ENV for _, _, env in exposed) else ", or pass --no-cache"
            raise UsageError(
                f"--dir {host} would expose the {names} to the guest, which could then make later runs "
                f"execute its code; preopen a narrower directory, set {envs} to "
                f"{'paths' if len(exposed) > 1 else 'a path'} outside it{hint}"
            )


class NoRunExport(UsageError):
    """``run`` without ``--invoke`` on a component that is not a ``wasi:cli/run`` command."""


def _load(engine: wasmtime.Engine, backend: Any, path: str, use_cache: bool) -> Any:
    """Compile the component at ``path``; a slow compile prints a one-line status on stderr.

    Our runtime uses the on-disk compile cache (see ``runtime.cache``) unless
    ``use_cache`` is false; either way a compile of more than a second says so.
    """
    if backend.__name__ != "wasmcomponent":
        return backend.Component.from_file(engine, path)
    from .runtime.cache import compile_with_progress, load_component

    if use_cache:
        return load_component(engine, path, progress=sys.stderr)
    return compile_with_progress(engine, path, progress=sys.stderr)


def run(
    path: str,
    call: Optional[str],
    out: TextIO,
    options: Optional[WasiOptions] = None,
    use_cache: bool = True,
) -> int:
    """Instantiate the component at ``path`` and perform the WAVE ``call``, printing its result.

    Without ``call``, run the component's ``wasi:cli/run`` export; the status is 0 for
    ``ok`` and 1 for ``err``.  WASI is always available, with inherited stdio.
    The call's name and arguments are checked before the component is instantiated.
    """
    options = options or WasiOptions()
    check_preopens(options.dirs, use_cache)
    backend = _backend()
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    component = _load(engine, backend, path, use_cache)
    path_in_instance: tuple[str, ...] = ()
    functype: Optional[model.FuncType] = None
    args: list[Any] = []
    if call is None:
        run_name = _run_export_name(component.type.exports(engine))
        if run_name is None:
            raise NoRunExport("the component exports no `wasi:cli/run` (use --invoke to call an export)")
        path_in_instance = (run_name, "run")
    else:
        component_type = model_component_type(component.type, engine)
        path_in_instance, functype = resolve_function(component_type, parse_call_name(call))
        _, args = parse_call(call, functype)
    store.set_wasi(_wasi_config(path, options))
    linker = backend.Linker(engine)
    linker.add_wasip2()
    instance = linker.instantiate(store, component)
    if functype is None:
        try:
            func = _get_func(store, instance, path_in_instance)
        except CliError:
            raise CliError("`wasi:cli/run` exports no `run` function") from None
        result = func(store)
        func.post_return(store)
        return 1 if getattr(result, "tag", "ok") == "err" else 0
    func = _get_func(store, instance, path_in_instance)
    result = func(store, *args)
    func.post_return(store)
    if functype.result is not None:
        value, printed_type = _settled(result, functype.result)
        out.write(format_value(value, printed_type) + "\n")
    return 0


def _settled(value: Any, ty: model.ValType) -> tuple[Any, model.ValType]:
    """``value`` with each stream read to its end (a list) and each future awaited, and its printed type.

    A ``stream<T>`` prints as the WAVE ``list<T>`` of its elements, a
    ``future<T>`` as its value (what the guest writes runs meanwhile).
    Streams and futures are settled at the top level and inside tuples.
    """
    if isinstance(ty, model.StreamType):
        if ty.payload is None:
            raise CliError("a `stream` without a payload has no elements to print")
        chunks: list[Any] = []
        while True:
            chunk = value.read_now(65536)
            if not chunk:
                break
            chunks.append(chunk)
        # a stream<u8> reads as ``bytes``, which is how WAVE takes a list<u8>
        items = b"".join(chunks) if ty.payload == model.U8 else [x for c in chunks for x in c]
        return items, model.ListType(ty.payload)
    if isinstance(ty, model.FutureType):
        if ty.payload is None:
            raise CliError("a `future` without a payload has no value to print")
        return value.get(), ty.payload
    if isinstance(ty, model.TupleType) and isinstance(value, tuple):
        pairs = [_settled(v, t) for v, t in zip(value, ty.elements, strict=True)]
        return tuple(v for v, _ in pairs), model.TupleType(tuple(t for _, t in pairs))
    return value, ty


def _read_component(path: str) -> bytes:
    """The component binary at ``path`` (component text is converted)."""
    from .wit.decode import component_bytes

    with open(path, "rb") as f:
        return component_bytes(f.read())


def wit(path: str, out: TextIO, docs: bool = True) -> int:
    """Print the WIT of the component at ``path``, as ``wasm-tools component wit`` does."""
    from .wit import print_wit

    out.write(print_wit(_read_component(path), docs=docs))
    return 0


def inspect(path: str, out: TextIO, use_cache: bool = True, imports: bool = True, exports: bool = True) -> int:
    """Print the imports and exports (or one side) of the component at ``path`` in WIT syntax.

    The component is loaded (compiled and cached) by the selected backend
    first, so that a component the runtime rejects is reported as such; its
    types are then printed from the binary by :mod:`wasmcomponent.wit`.
    """
    from .errors import UnsupportedError
    from .wit import decode
    from .wit.printer import print_world_items

    backend = _backend()
    engine = wasmtime.Engine()
    component = _load(engine, backend, path, use_cache)
    component_type = model_component_type(component.type, engine)
    try:
        world = decode(_read_component(path)).world
    except UnsupportedError:
        world = None
    if world is None or _beyond_wit(component_type):
        # WIT has no words for this component (a type or core module export, an instance
        # nested in an instance...): list its structure instead.
        text = wit_component(component_type, imports=imports, exports=exports)
        out.write(text + "\n" if text else "")
        return 0
    out.write(print_world_items(world, imports=imports, exports=exports))
    return 0


def _beyond_wit(ty: model.ComponentType) -> bool:
    """Whether the component imports or exports something a WIT world cannot show (modules, components, values)."""
    wit_kinds = (model.FuncType, model.InstanceType, model.TypeBound)
    return not all(isinstance(t, wit_kinds) for t in (*ty.imports.values(), *ty.exports.values()))


def _run_export_name(exports: Any) -> Optional[str]:
    """The component's ``wasi:cli/run@0.2.x`` export with the highest patch version, if any."""

    def patch(name: str) -> int:
        tail = name.removeprefix("wasi:cli/run@0.2.")
        return int(tail) if tail.isdigit() else -1

    names = [name for name in exports if name.startswith("wasi:cli/run@0.2.")]
    return max(names, key=patch) if names else None


def _is_snippet_line(text: str) -> bool:
    """Source-excerpt lines of a WAT parse error (``--> file:1:2``, ``1 | code``, ``| ^``)."""
    head = text.split(" ", 1)[0]
    return text.startswith(("-->", "|")) or (head.isdigit() and text[len(head) :].startswith(" |"))


def _is_backtrace_line(text: str) -> bool:
    """wasmtime's trap backtrace: its heading and frames (``3: 0x1ac9eb - <unknown>!f``)."""
    if text.startswith("error while executing at wasm backtrace"):
        return True
    head, sep, rest = text.partition(": ")
    return bool(sep) and head.isdigit() and rest.lstrip().startswith("0x")


def _one_line(error: BaseException) -> str:
    """An error's text on one line: wasmtime's "Caused by" chain joined with `: `."""
    parts: list[str] = []
    for line in str(error).splitlines():
        text = line.strip()
        if not text or text == "Caused by:" or _is_snippet_line(text) or _is_backtrace_line(text):
            continue
        head, sep, rest = text.partition(": ")
        parts.append(rest.strip() if sep and head.isdigit() else text)
    return ": ".join(parts) or type(error).__name__


def version_text() -> str:
    """``wasmcomponent X (wasmtime-py Y, Python Z)``, as printed by ``--version``."""
    from . import __version__

    try:
        wasmtime_version = metadata.version("wasmtime")
    except metadata.PackageNotFoundError:  # pragma: no cover - wasmtime is a dependency
        wasmtime_version = "unknown"
    python = ".".join(str(part) for part in sys.version_info[:3])
    return f"wasmcomponent {__version__} (wasmtime-py {wasmtime_version}, Python {python})"


_RUN_USAGE = (
    "%(prog)s [-h] [--invoke CALL] [--dir HOST[::GUEST]] [--env K[=V]] [--inherit-network] [--allow-http] "
    "[--no-cache] [--argv0 NAME] FILE [ARGS ...]"
)


def _parser(command: Optional[str] = None) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The top-level parser and its ``run`` subparser (whose options decide where FILE is).

    ``serve`` and ``bindgen`` get their arguments only when ``command`` names
    them: their modules take tens of milliseconds to import, which ``run``
    should not pay.
    """
    parser = argparse.ArgumentParser(
        prog="wasmcomponent", description="Run WebAssembly components (pure-Python runtime)."
    )
    parser.add_argument("-V", "--version", action="version", version=version_text())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_cmd = commands.add_parser(
        "run",
        help="run a `wasi:cli/run` command, or call one export with --invoke",
        description="Run a `wasi:cli/run` command, or call one export with --invoke. As with `wasmtime run`, "
        "options go before FILE; everything after FILE is passed to the guest (a `--` right after FILE is "
        "dropped).",
        epilog="Compiled components are cached in $WASMCOMPONENT_CACHE_DIR (default "
        "$XDG_CACHE_HOME/wasmcomponent or ~/.cache/wasmcomponent); every entry carries an HMAC-SHA256 "
        "with the key in $WASMCOMPONENT_CACHE_KEY_FILE (default $XDG_CONFIG_HOME/wasmcomponent/cache.key "
        "or ~/.config/wasmcomponent/cache.key, mode 0600), and a tampered entry is deleted and recompiled. "
        "A --dir whose host directory contains the key file is refused (exit status 2), and so is one that "
        "contains the cache directory unless --no-cache is given: a guest must not be able to write code "
        "that a later run executes.",
        usage=_RUN_USAGE,
        allow_abbrev=False,  # the FILE scan in main() knows only the full option names, as clap does
    )
    run_cmd.add_argument(
        "--invoke",
        metavar="CALL",
        help="export to call with WAVE arguments, e.g. 'greet(\"world\")'; a function of an exported "
        "instance may be named `instance#function`, or `function` alone when that is unambiguous",
    )
    run_cmd.add_argument(
        "--dir",
        action="append",
        default=[],
        metavar="HOST[::GUEST]",
        help="preopen a host directory (refused if it contains the compile cache or its key; see below)",
    )
    run_cmd.add_argument(
        "--env", action="append", default=[], metavar="K[=V]", help="set (or inherit) an environment variable"
    )
    run_cmd.add_argument(
        "--inherit-network", action="store_true", help="allow TCP, UDP and name lookup (denied by default)"
    )
    run_cmd.add_argument(
        "--allow-http", action="store_true", help="allow outgoing wasi:http requests (denied by default)"
    )
    run_cmd.add_argument(
        "--no-cache", action="store_true", help="compile without the on-disk compile cache (neither read nor written)"
    )
    run_cmd.add_argument("--argv0", metavar="NAME", help="the guest's argv[0] (default: the base name of FILE)")
    run_cmd.add_argument("file", metavar="FILE", help="component binary (.wasm) or text (.wat)")
    run_cmd.add_argument(
        "args", nargs="*", default=[], metavar="ARGS", help="arguments for the guest (everything after FILE)"
    )
    wit_cmd = commands.add_parser(
        "wit",
        help="print a component's WIT (as `wasm-tools component wit`)",
        description="Print the WIT of a component: its world `root` in package `root:component`, then the "
        "packages its interfaces come from, exactly as `wasm-tools component wit` prints them. A WIT package "
        "encoded as wasm prints as that package.",
    )
    wit_cmd.add_argument("--no-docs", action="store_true", help="leave out doc comments")
    wit_cmd.add_argument("file", metavar="FILE", help="component binary (.wasm) or text (.wat)")
    inspect_cmd = commands.add_parser(
        "inspect",
        help="print a component's imports and exports in WIT syntax",
        description="Print a component's imports and exports with their types, in WIT syntax where possible.",
    )
    inspect_cmd.add_argument("--no-cache", action="store_true", help="compile without the on-disk compile cache")
    sides = inspect_cmd.add_mutually_exclusive_group()
    sides.add_argument("--imports", action="store_true", help="print only the imports")
    sides.add_argument("--exports", action="store_true", help="print only the exports")
    inspect_cmd.add_argument("file", metavar="FILE", help="component binary (.wasm) or text (.wat)")
    serve_cmd = commands.add_parser(
        "serve",
        help="serve a wasi:http/proxy component over HTTP (as `wasmtime serve`)",
        description="Serve a wasi:http/proxy 0.2 component over HTTP, a fresh instance per request, "
        "with `wasmtime serve`'s defaults and flags (needs `pip install 'wasmcomponent[serve]'`).",
    )
    bindgen_cmd = commands.add_parser(
        "bindgen",
        help="write typed Python bindings for a component",
        description="Write a Python package of typed bindings for the component's world: "
        "dataclasses, enums and flags as componentize-py's, a world class, Protocols for imports.",
    )
    if command == "serve":
        from . import serve

        serve.add_arguments(serve_cmd)
    elif command == "bindgen":
        from .bindgen import command as bindgen_command

        bindgen_command.add_arguments(bindgen_cmd)
    return parser, run_cmd


def _file_position(args: Sequence[str], subparser: argparse.ArgumentParser) -> Optional[int]:
    """Index of FILE among ``run``'s arguments: the first one that is neither an option nor its value."""
    takes_value = {
        option
        for action in subparser._actions  # argparse's own list of the declared options
        if action.option_strings and action.nargs != 0
        for option in action.option_strings
    }
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return index + 1 if index + 1 < len(args) else None
        if not arg.startswith("-") or arg == "-":
            return index
        index += 2 if arg in takes_value else 1
    return None


def _split_guest_args(argv: list[str], run_parser: argparse.ArgumentParser) -> tuple[list[str], list[str]]:
    """``(argv up to and including FILE, the guest's arguments)`` for a ``run`` command line."""
    if not argv or argv[0] != "run":
        return argv, []
    position = _file_position(argv[1:], run_parser)
    if position is None:
        return argv, []
    end = position + 2  # "run" and FILE itself
    head, guest = argv[:end], argv[end:]
    if guest[:1] == ["--"]:  # `run FILE -- ARGS`, the form before positional guest arguments
        guest = guest[1:]
    return head, guest


def _misplaced_options(guest_args: Sequence[str], run_parser: argparse.ArgumentParser) -> list[str]:
    """wasmcomponent's own options among the guest's arguments (written after FILE by mistake?)."""
    ours = {option for action in run_parser._actions for option in action.option_strings}
    return [arg for arg in guest_args if arg.split("=", 1)[0] in ours and arg not in ("-h", "--help")]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wasmcomponent`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, run_parser = _parser(argv[0] if argv else None)
    head, guest_args = _split_guest_args(argv, run_parser)
    args = parser.parse_args(head)
    if args.command == "serve":
        from . import serve

        return serve.main(args)
    if args.command == "bindgen":
        from .bindgen import command as bindgen_command

        return bindgen_command.main(args)
    try:
        if args.command == "wit":
            return wit(args.file, sys.stdout, docs=not args.no_docs)
        if args.command == "inspect":
            only = {"imports": not args.exports, "exports": not args.imports}
            return inspect(args.file, sys.stdout, use_cache=not args.no_cache, **only)
        guest_args = [*args.args, *guest_args]  # `run -- FILE ARGS`: argparse kept them
        options = WasiOptions(args.dir, args.env, guest_args, args.inherit_network, args.allow_http, args.argv0)
        return run(args.file, args.invoke, sys.stdout, options, use_cache=not args.no_cache)
    except wasmtime.ExitTrap as exit_trap:
        return int(getattr(exit_trap, "code", 1))
    except NoRunExport as error:
        misplaced = _misplaced_options(guest_args, run_parser)
        hint = ""
        if misplaced:
            fixed = shlex.join(["wasmcomponent", *head[:-1], *guest_args, args.file])
            hint = (
                f"; `{misplaced[0].split('=', 1)[0]}` after the component name is an argument for the guest, "
                f"as with `wasmtime run`: put options before the component, e.g. {fixed}"
            )
        print(f"error: {error}{hint}", file=sys.stderr)
        return 2
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except CliError as error:  # may carry a listing of the exports on the following lines
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (wasmtime.WasmtimeError, wasmtime.Trap, WaveError, OSError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 1
