"""A hostile guest for the WASI sandbox tests (tests/test_wasi_sandbox.py).

It attacks its preopens the way untrusted code would: ordinary Python file
I/O (``open``, ``os.listdir``, ``os.symlink``, ``os.rename``...) through
wasi-libc, and raw ``wasi:filesystem`` calls through the generated bindings
where the exact path matters (a trailing ``/``) or Python has no spelling.

Outcomes are logged as text that does not depend on the host (no inode
numbers, times or host paths), so the same run compares equal under
``wasmtime.component`` and ``wasmcomponent``: ``ok ...``, ``err:<error-code>``
for a raw call, ``OSError:<errno>`` for a wasi-libc call.
"""

import os

import wit_world
from componentize_py_types import Err
from wit_world.imports import preopens, tcp_create_socket, types, udp_create_socket
from wit_world.imports.network import IpAddressFamily
from wit_world.imports.wall_clock import Datetime

# A file name that exists only outside the preopen: seeing it means an escape.
CANARY = "CANARY-outside-sandbox-5f0c1d"
# The time set-times-at writes in the race; the host checks nothing outside carries it.
MAGIC_SECONDS = 1_000_000_007

NOFOLLOW = types.PathFlags(0)
FOLLOW = types.PathFlags.SYMLINK_FOLLOW
NO_OPEN = types.OpenFlags(0)
READ = types.DescriptorFlags.READ
WRITE = types.DescriptorFlags.WRITE
MUTATE = types.DescriptorFlags.MUTATE_DIRECTORY

# What `exhaust` holds until `release`.
HOARD: list = []


def _code(exc: Err) -> str:
    value = exc.value
    name = getattr(value, "name", None)
    return "err:" + (name.lower().replace("_", "-") if name else type(value).__name__)


def _drop(resource) -> None:
    resource.__exit__(None, None, None)


def _preopen(root: str) -> types.Descriptor:
    """The descriptor of the preopen mounted at ``root`` (the others are dropped)."""
    found = None
    for desc, path in preopens.get_directories():
        if path == root and found is None:
            found = desc
        else:
            _drop(desc)
    if found is None:
        raise RuntimeError(f"no preopen {root}")
    return found


def _names(desc: types.Descriptor) -> list:
    stream = desc.read_directory()
    names = []
    try:
        while True:
            entry = stream.read_directory_entry()
            if entry is None:
                return names
            names.append(entry.name)
    finally:
        _drop(stream)


def _timestamp(seconds: int) -> types.NewTimestamp:
    return types.NewTimestamp_Timestamp(Datetime(seconds=seconds, nanoseconds=0))


def _attempt(log: list, label: str, action) -> None:
    """Run ``action`` and log its outcome (a value, a WASI error code or an errno)."""
    try:
        result = action()
    except Err as exc:
        log.append(f"{label}: {_code(exc)}")
    except OSError as exc:
        log.append(f"{label}: OSError:{exc.errno}")
    else:
        log.append(f"{label}: ok{'' if result is None else ' ' + str(result)}")


# ------------------------------------------------------------------ the trailing-slash race


class Race:
    """Counts of one race operation: landed inside, refused (by code), escaped."""

    def __init__(self) -> None:
        self.inside = 0
        self.escaped = 0
        self.refused: dict = {}

    def refuse(self, code: str) -> None:
        self.refused[code] = self.refused.get(code, 0) + 1

    def line(self, op: str) -> str:
        refused = sum(self.refused.values())
        codes = ",".join(f"{k}={v}" for k, v in sorted(self.refused.items()))
        return f"{op} attempts={self.inside + refused + self.escaped} inside={self.inside} refused={refused} escaped={self.escaped} codes={codes}"


def _reference(base: types.Descriptor, name: str) -> tuple:
    """The metadata hash and link count of the real directory ``name`` (opened without following)."""
    for _ in range(1_000_000):
        try:
            desc = base.open_at(NOFOLLOW, name, types.OpenFlags.DIRECTORY, READ)
        except Err:
            continue
        try:
            hashed = desc.metadata_hash()
            return (hashed.lower, hashed.upper), desc.stat().link_count
        finally:
            _drop(desc)
    raise RuntimeError(f"{name} never was a directory")


def _open_list(base, root, path, ref) -> bool:
    desc = base.open_at(NOFOLLOW, path, types.OpenFlags.DIRECTORY, READ | MUTATE)
    try:
        return CANARY in _names(desc)
    finally:
        _drop(desc)


def _open_create(base, root, path, ref) -> bool:
    # With the preopen's write permission: a file created through an escaped
    # descriptor lands outside (and stays there for the host to find).
    desc = base.open_at(NOFOLLOW, path, types.OpenFlags.DIRECTORY, READ | MUTATE)
    try:
        made = desc.open_at(NOFOLLOW, "made-by-race", types.OpenFlags.CREATE, WRITE)
        _drop(made)
        try:
            desc.stat_at(NOFOLLOW, CANARY)
        except Err:
            desc.unlink_file_at("made-by-race")
            return False
        return True
    finally:
        _drop(desc)


def _stat(base, root, path, ref) -> bool:
    return base.stat_at(NOFOLLOW, path).link_count != ref[1]


def _hash(base, root, path, ref) -> bool:
    hashed = base.metadata_hash_at(NOFOLLOW, path)
    return (hashed.lower, hashed.upper) != ref[0]


def _set_times(base, root, path, ref) -> bool:
    # Only the host can see where the times landed (it checks the outside tree).
    base.set_times_at(NOFOLLOW, path, _timestamp(MAGIC_SECONDS), _timestamp(MAGIC_SECONDS))
    return False


def _py_list(base, root, path, ref) -> bool:
    return CANARY in os.listdir(f"{root}/{path}")


def _py_stat(base, root, path, ref) -> bool:
    return os.stat(f"{root}/{path}").st_nlink != ref[1]


RACE_OPS = {
    "open-list": _open_list,
    "open-create": _open_create,
    "stat": _stat,
    "hash": _hash,
    "set-times": _set_times,
    "py-list": _py_list,
    "py-stat": _py_stat,
}


# ------------------------------------------------------------------ static escapes


def _read_file(desc: types.Descriptor) -> str:
    data, _ = desc.read(64, 0)
    return repr(data.decode(errors="replace"))


def _open_show(base, path: str, flags=NOFOLLOW, open_flags=NO_OPEN, desc_flags=READ):
    """open-at, then what the descriptor shows (file text or sorted names)."""

    def run() -> str:
        desc = base.open_at(flags, path, open_flags, desc_flags)
        try:
            if desc.get_type() == types.DescriptorType.DIRECTORY:
                return repr(sorted(_names(desc)))
            return _read_file(desc)
        finally:
            _drop(desc)

    return run


def _stat_show(base, path: str, flags=NOFOLLOW):
    def run() -> str:
        return base.stat_at(flags, path).type.name.lower()

    return run


def _target(target: str) -> str:
    """A symlink target as the log shows it (absolute ones differ between the fixtures of two runs)."""
    return "absolute" if target.startswith("/") else repr(target)


def _py_read(path: str):
    def run() -> str:
        with open(path) as f:
            return repr(f.read(64))

    return run


def _py_write(path: str, mode: str = "w"):
    def run() -> None:
        with open(path, mode) as f:
            f.write("planted")

    return run


def _py_listdir(path: str):
    return lambda: repr(sorted(os.listdir(path)))


class WitWorld(wit_world.WitWorld):
    def race(self, root: str, name: str, ops: list, attempts: int) -> str:
        base = _preopen(root)
        try:
            ref = _reference(base, name)
            path = name + "/"
            counts = {op: Race() for op in ops}
            funcs = [(op, RACE_OPS[op], counts[op]) for op in ops]
            for i in range(attempts):
                op, func, count = funcs[i % len(funcs)]
                try:
                    escaped = func(base, root, path, ref)
                except Err as exc:
                    count.refuse(_code(exc))
                except OSError as exc:
                    count.refuse(f"OSError:{exc.errno}")
                else:
                    if escaped:
                        count.escaped += 1
                    else:
                        count.inside += 1
            return "\n".join(counts[op].line(op) for op in ops)
        finally:
            _drop(base)

    def swap(self, root: str, name: str, targets: list, flips: int, rounds: int) -> str:
        d = f"{root}/{name}"
        real = d + ".real"
        done = 0
        errors: dict = {}

        def fail(step: str, exc: OSError) -> None:
            key = f"{step}:{exc.errno}"
            errors[key] = errors.get(key, 0) + 1

        for i in range(rounds):
            try:
                os.rename(d, real)
            except OSError as exc:
                fail("rename-away", exc)
                continue
            for j in range(flips):
                try:
                    os.symlink(targets[(i + j) % len(targets)], d)
                    os.unlink(d)
                    done += 1
                except OSError as exc:
                    fail("symlink", exc)
                    try:
                        os.unlink(d)
                    except OSError:
                        pass
            try:
                os.rename(real, d)
            except OSError as exc:
                fail("rename-back", exc)
        errs = ",".join(f"{k}={v}" for k, v in sorted(errors.items()))
        return f"swaps={done} errors={errs}"

    def escapes(self, root: str) -> str:
        base = _preopen(root)
        log: list = []
        out = "../outside"
        try:
            # `..` traversal and absolute paths
            _attempt(log, "open ../", _open_show(base, f"{out}/{CANARY}"))
            _attempt(log, "open a/../../", _open_show(base, f"inner/../../outside/{CANARY}"))
            _attempt(log, "open deep ..", _open_show(base, "inner/" + "../" * 30 + "etc/passwd"))
            _attempt(log, "open ..", _open_show(base, "..", open_flags=types.OpenFlags.DIRECTORY))
            _attempt(log, "open inner/../..", _open_show(base, "inner/../..", open_flags=types.OpenFlags.DIRECTORY))
            _attempt(log, "open /etc/passwd", _open_show(base, "/etc/passwd"))
            _attempt(log, "open /", _open_show(base, "/", open_flags=types.OpenFlags.DIRECTORY))
            _attempt(log, "open inside via ..", _open_show(base, "inner/../inside.txt"))
            _attempt(log, "stat ../", _stat_show(base, out))
            _attempt(log, "stat ..", _stat_show(base, ".."))
            _attempt(log, "hash ../", lambda: base.metadata_hash_at(NOFOLLOW, out) and "hashed")
            # symlinks: absolute targets, `..`-escaping relative targets, loops
            for link in ("link-abs", "link-rel", "link-updir", "link-deep", "link-dir-out", "link-abs-dir", "loop-a", "loop"):
                _attempt(log, f"open {link} follow", _open_show(base, link, flags=FOLLOW))
                _attempt(log, f"open {link} nofollow", _open_show(base, link))
                _attempt(log, f"open {link}/ dir", _open_show(base, link + "/", open_flags=types.OpenFlags.DIRECTORY))
                _attempt(log, f"stat {link} follow", _stat_show(base, link, FOLLOW))
                _attempt(log, f"stat {link}", _stat_show(base, link))
                _attempt(log, f"stat {link}/", _stat_show(base, link + "/"))
                _attempt(log, f"readlink {link}", lambda link=link: _target(base.readlink_at(link)))
            _attempt(log, "open link-dir-out/canary", _open_show(base, f"link-dir-out/{CANARY}"))
            _attempt(log, "open link-updir/outside/canary", _open_show(base, f"link-updir/outside/{CANARY}"))
            _attempt(log, "open link-abs-dir/..", _open_show(base, "link-abs-dir/..", open_flags=types.OpenFlags.DIRECTORY))
            _attempt(log, "open link-inside", _open_show(base, "link-inside", flags=FOLLOW))
            _attempt(log, "open loop-a/x", _open_show(base, "loop-a/x"))
            # writes aimed outside
            _attempt(log, "create ../", _open_show(base, f"{out}/planted", open_flags=types.OpenFlags.CREATE, desc_flags=WRITE))
            _attempt(log, "create link-dir-out/", _open_show(base, "link-dir-out/planted", open_flags=types.OpenFlags.CREATE, desc_flags=WRITE))
            _attempt(log, "create through link-rel", _open_show(base, "link-rel", flags=FOLLOW, open_flags=types.OpenFlags.TRUNCATE, desc_flags=WRITE))
            _attempt(log, "mkdir ../", lambda: base.create_directory_at(f"{out}/planted-dir"))
            _attempt(log, "mkdir link-dir-out/", lambda: base.create_directory_at("link-dir-out/planted-dir"))
            _attempt(log, "rmdir ../", lambda: base.remove_directory_at(f"{out}/sub0"))
            _attempt(log, "unlink ../", lambda: base.unlink_file_at(f"{out}/{CANARY}"))
            _attempt(log, "unlink link-dir-out/", lambda: base.unlink_file_at(f"link-dir-out/{CANARY}"))
            _attempt(log, "set-times ../", lambda: base.set_times_at(NOFOLLOW, out, _timestamp(MAGIC_SECONDS), _timestamp(MAGIC_SECONDS)))
            _attempt(log, "set-times link-rel follow", lambda: base.set_times_at(FOLLOW, "link-rel", _timestamp(MAGIC_SECONDS), _timestamp(MAGIC_SECONDS)))
            _attempt(log, "symlink-at into ../", lambda: base.symlink_at("inside.txt", f"{out}/planted-link"))
            # hard links to outside files, renames out of the preopen
            _attempt(log, "link-at ../canary", lambda: base.link_at(NOFOLLOW, f"{out}/{CANARY}", base, "hard-1"))
            _attempt(log, "link-at link-dir-out/canary", lambda: base.link_at(NOFOLLOW, f"link-dir-out/{CANARY}", base, "hard-2"))
            _attempt(log, "link-at link-rel follow", lambda: base.link_at(FOLLOW, "link-rel", base, "hard-3"))
            _attempt(log, "link-at inside to ../", lambda: base.link_at(NOFOLLOW, "inside.txt", base, f"{out}/hard-4"))
            _attempt(log, "rename to ../", lambda: base.rename_at("inside.txt", base, f"{out}/moved"))
            _attempt(log, "rename to link-dir-out/", lambda: base.rename_at("inside.txt", base, "link-dir-out/moved"))
            _attempt(log, "rename from ../", lambda: base.rename_at(f"{out}/{CANARY}", base, "stolen"))
            _attempt(log, "rename dir to ../", lambda: base.rename_at("inner", base, f"{out}/inner-moved"))
            # ordinary Python I/O through wasi-libc
            _attempt(log, "py open ../", _py_read(f"{root}/../outside/{CANARY}"))
            _attempt(log, "py open deep ..", _py_read(f"{root}/inner" + "/.." * 30 + "/etc/passwd"))
            _attempt(log, "py open link-rel", _py_read(f"{root}/link-rel"))
            _attempt(log, "py open link-abs", _py_read(f"{root}/link-abs"))
            _attempt(log, "py listdir link-dir-out", _py_listdir(f"{root}/link-dir-out"))
            _attempt(log, "py listdir link-dir-out/", _py_listdir(f"{root}/link-dir-out/"))
            _attempt(log, "py listdir link-updir", _py_listdir(f"{root}/link-updir"))
            _attempt(log, "py listdir link-deep/", _py_listdir(f"{root}/link-deep/"))
            _attempt(log, "py open loop", _py_read(f"{root}/loop-a"))
            _attempt(log, "py write link-dir-out/", _py_write(f"{root}/link-dir-out/planted"))
            _attempt(log, "py write link-rel", _py_write(f"{root}/link-rel", "a"))
            _attempt(log, "py mkdir ../", lambda: os.mkdir(f"{root}/../outside/py-dir"))
            _attempt(log, "py rename to ../", lambda: os.rename(f"{root}/inside.txt", f"{root}/../outside/py-moved"))
            _attempt(log, "py link ../canary", lambda: os.link(f"{root}/../outside/{CANARY}", f"{root}/py-hard"))
            _attempt(log, "py utime link-rel", lambda: os.utime(f"{root}/link-rel", (MAGIC_SECONDS, MAGIC_SECONDS)))
            # a symlink the guest makes itself, then follows
            _attempt(log, "py symlink ../outside", lambda: os.symlink("../outside", f"{root}/made-link"))
            _attempt(log, "py listdir made-link/", _py_listdir(f"{root}/made-link/"))
            _attempt(log, "py open made-link/canary", _py_read(f"{root}/made-link/{CANARY}"))
            _attempt(log, "py write made-link/", _py_write(f"{root}/made-link/planted"))
            _attempt(log, "open made-link/ dir", _open_show(base, "made-link/", open_flags=types.OpenFlags.DIRECTORY))
            _attempt(log, "py unlink made-link", lambda: os.unlink(f"{root}/made-link"))
            _attempt(log, "py still inside", _py_read(f"{root}/inside.txt"))
        finally:
            _drop(base)
        return "\n".join(log)

    def readonly(self, root: str, ro: str) -> str:
        base = _preopen(root)
        rod = _preopen(ro)
        log: list = []
        ts = _timestamp(MAGIC_SECONDS)
        try:
            _attempt(log, "get-flags", lambda: sorted(f.name.lower() for f in types.DescriptorFlags if f in rod.get_flags()))
            _attempt(log, "read", _open_show(rod, "file.txt"))
            _attempt(log, "list", _open_show(rod, ".", open_flags=types.OpenFlags.DIRECTORY))
            for label, open_flags, flags in (
                ("open write", NO_OPEN, WRITE),
                ("open read-write", NO_OPEN, READ | WRITE),
                ("open create", types.OpenFlags.CREATE, READ),
                ("open create new", types.OpenFlags.CREATE | types.OpenFlags.EXCLUSIVE, WRITE),
                ("open truncate", types.OpenFlags.TRUNCATE, READ),
                ("open dir mutate", types.OpenFlags.DIRECTORY, READ | MUTATE),
            ):
                path = "new.txt" if "new" in label else ("subdir" if "dir" in label else "file.txt")
                _attempt(log, label, _open_show(rod, path, open_flags=open_flags, desc_flags=flags))
            # the preopen, and descriptors opened from it: plain, and asking for mutate-directory
            sub = rod.open_at(NOFOLLOW, "subdir", types.OpenFlags.DIRECTORY, READ)
            targets = [("preopen", rod, "file.txt"), ("subdir", sub, "inner.txt")]
            try:
                targets.append(("subdir-mutate", rod.open_at(NOFOLLOW, "subdir", types.OpenFlags.DIRECTORY, READ | MUTATE), "inner.txt"))
            except Err as exc:
                log.append(f"subdir-mutate: {_code(exc)}")
            for where, d, name in targets:
                _attempt(log, f"{where} get-flags", lambda d=d: sorted(f.name.lower() for f in types.DescriptorFlags if f in d.get_flags()))
                _attempt(log, f"{where} mkdir", lambda d=d: d.create_directory_at("new-dir"))
                _attempt(log, f"{where} rmdir", lambda d=d: d.remove_directory_at("empty"))
                _attempt(log, f"{where} unlink", lambda d=d, name=name: d.unlink_file_at(name))
                _attempt(log, f"{where} rename", lambda d=d, name=name: d.rename_at(name, d, "moved"))
                _attempt(log, f"{where} symlink", lambda d=d: d.symlink_at("file.txt", "new-link"))
                _attempt(log, f"{where} link", lambda d=d, name=name: d.link_at(NOFOLLOW, name, d, "hard"))
                _attempt(log, f"{where} set-times-at", lambda d=d, name=name: d.set_times_at(NOFOLLOW, name, ts, ts))
                _attempt(log, f"{where} set-times", lambda d=d: d.set_times(ts, ts))
                _attempt(log, f"{where} open create", _open_show(d, "new.txt", open_flags=types.OpenFlags.CREATE, desc_flags=WRITE))
                _attempt(log, f"{where} open write", _open_show(d, name, desc_flags=WRITE))
                _attempt(log, f"{where} open truncate", _open_show(d, name, open_flags=types.OpenFlags.TRUNCATE))
            for _, d, _ in targets[1:]:
                _drop(d)
            # across preopens: the mutable one as the source, the read-only one as the target
            _attempt(log, "rename into ro", lambda: base.rename_at("inside.txt", rod, "moved-in"))
            _attempt(log, "rename out of ro", lambda: rod.rename_at("file.txt", base, "moved-out"))
            _attempt(log, "link into ro", lambda: base.link_at(NOFOLLOW, "inside.txt", rod, "linked-in"))
            _attempt(log, "link out of ro", lambda: rod.link_at(NOFOLLOW, "file.txt", base, "linked-out"))
            # a file descriptor opened read-only from the read-only preopen
            f = rod.open_at(NOFOLLOW, "file.txt", NO_OPEN, READ)
            _attempt(log, "file write", lambda: f.write(b"planted", 0))
            _attempt(log, "file set-size", lambda: f.set_size(0))
            _attempt(log, "file set-times", lambda: f.set_times(ts, ts))
            _attempt(log, "file write-via-stream", lambda: _drop(f.write_via_stream(0)))
            _attempt(log, "file read", lambda: _read_file(f))
            _drop(f)
            # a file opened read-only from the mutable preopen: the open mode decides
            g = base.open_at(NOFOLLOW, "inside.txt", NO_OPEN, READ)
            _attempt(log, "mutable file write", lambda: g.write(b"planted", 0))
            _attempt(log, "mutable file set-size", lambda: g.set_size(0))
            _attempt(log, "mutable file write-via-stream", lambda: _drop(g.write_via_stream(0)))
            _attempt(log, "mutable file read", lambda: _read_file(g))
            _drop(g)
            w = base.open_at(NOFOLLOW, "inside.txt", NO_OPEN, WRITE)
            _attempt(log, "mutable write-only file read", lambda: _read_file(w))
            _attempt(log, "mutable write-only file read-via-stream", lambda: _drop(w.read_via_stream(0)))
            _attempt(log, "mutable write-only file write", lambda: w.write(b"in", 0))
            _drop(w)
            # ordinary Python I/O
            _attempt(log, "py read", _py_read(f"{ro}/file.txt"))
            _attempt(log, "py write", _py_write(f"{ro}/file.txt"))
            _attempt(log, "py append", _py_write(f"{ro}/file.txt", "a"))
            _attempt(log, "py create", _py_write(f"{ro}/py-new.txt"))
            _attempt(log, "py r+", lambda: open(f"{ro}/file.txt", "r+").close())
            _attempt(log, "py mkdir", lambda: os.mkdir(f"{ro}/py-dir"))
            _attempt(log, "py rmdir", lambda: os.rmdir(f"{ro}/empty"))
            _attempt(log, "py remove", lambda: os.remove(f"{ro}/file.txt"))
            _attempt(log, "py rename", lambda: os.rename(f"{ro}/file.txt", f"{ro}/py-moved"))
            _attempt(log, "py rename out", lambda: os.rename(f"{ro}/file.txt", f"{root}/py-moved"))
            _attempt(log, "py symlink", lambda: os.symlink("file.txt", f"{ro}/py-link"))
            _attempt(log, "py utime", lambda: os.utime(f"{ro}/file.txt", (MAGIC_SECONDS, MAGIC_SECONDS)))
            _attempt(log, "py truncate", lambda: os.truncate(f"{ro}/file.txt", 0))
        finally:
            _drop(rod)
            _drop(base)
        return "\n".join(log)

    def exhaust(self, root: str, kind: str, most: int) -> str:
        base = _preopen(root) if kind == "open" else None
        got = 0
        outcome = "held"
        try:
            for _ in range(most):
                if kind == "open":
                    item = base.open_at(NOFOLLOW, "file.txt", NO_OPEN, READ)
                    HOARD.append(item)
                    got += 1
                elif kind == "get-directories":
                    pairs = preopens.get_directories()
                    HOARD.extend(desc for desc, _ in pairs)
                    got += len(pairs)
                    if not pairs:
                        outcome = "empty"
                        break
                elif kind == "tcp":
                    HOARD.append(tcp_create_socket.create_tcp_socket(IpAddressFamily.IPV4))
                    got += 1
                elif kind == "udp":
                    HOARD.append(udp_create_socket.create_udp_socket(IpAddressFamily.IPV4))
                    got += 1
                else:
                    raise ValueError(kind)
                print(f"{kind} holding {got}", flush=True)
        except Err as exc:
            outcome = _code(exc)
        finally:
            if base is not None:
                _drop(base)
        return f"{kind} got={got} {outcome}"

    def release(self) -> int:
        count = len(HOARD)
        while HOARD:
            _drop(HOARD.pop())
        return count
