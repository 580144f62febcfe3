"""WASI fuzzer: random sequences of raw WASI 0.2 calls, with boundary arguments, from a guest.

The guest (``tests/guests/wasi_fuzz``, built with componentize-py) is a thin
dispatcher: ``run(ops)`` performs a list of calls of ``ops.OPS`` and returns
one outcome per call.  This side draws the sequences: sequence ``i`` of a run
depends only on ``(--seed, i)``.  Drawing on the host keeps the generator in
ordinary Python (fast, printable, replayable) while the calls themselves
still come from inside the component, through the canonical ABI, as a hostile
guest's would; sending a whole sequence per component call keeps it cheap.

Arguments are drawn from boundary values: integers 0, 1, 2**31, 2**32-1,
2**63, 2**64-1 and their neighbours (sizes, offsets, lengths, durations,
timestamps, socket options); paths mixing ``..``, ``.``, ``/``, trailing
``/``, empty, long (255/256-byte names, > 4096 bytes, > 256 components),
NUL and odd Unicode, symlinks whose targets climb out or are absolute;
handles the guest holds, dropped ones and forged numbers.

Each worker owns a fixture tree::

    <root>/l1/peer.txt
    <root>/l1/l2/outside/...     files, a canary, symlinks: never reachable
    <root>/l1/l2/ro/...          preopened read-only as /ro
    <root>/l1/l2/sandbox/...     preopened read-write as /sandbox, rebuilt
                                 before every sequence (files, directories,
                                 and symlinks to .., ../.., ../outside, absolute
                                 paths, loops, dangling)

Before the run, everything under ``<root>`` except the sandbox's contents is
snapshotted (path, type, mode, size, mtime_ns, SHA-256 of the content,
symlink target).  The worker compares after every sequence, and the parent
again every ``--check-every`` sequences and at the end: any difference is an
*escape*, reported with the sequence that made it.  Escapes more than three
levels above the sandbox would land outside ``<root>`` and are not seen.

Outcomes of one sequence: ``completed`` (the call returned), ``trapped``
(it raised ``wasmtime.WasmtimeError`` -- which every wasmcomponent error,
``ComponentTrap`` included, derives from -- or ``wasmtime.Trap``).  Findings:
``foreign`` (anything else raised out of a call; the op that raised it is
found by replaying prefixes of the sequence), ``escape``, ``hang`` (no answer
within ``--timeout``; the parent kills the worker), ``crash`` (a worker died).
The exit status is 1 when there is any finding.

Every sequence runs in a fresh store and instance (about 12 ms), so it can be
replayed alone: ``--reproduce I`` (with the same ``--seed``/``--steps``).
Workers run with ``RLIMIT_FSIZE`` at 1 GiB (a write past it fails with
``EFBIG`` instead of filling the disk) and ``RLIMIT_DATA`` at 4 GiB (a runaway
host allocation raises ``MemoryError``, a finding, instead of exhausting a
shared machine).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import re
import resource
import shutil
import signal
import stat
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
GUEST = ROOT / "tests" / "guests" / "wasi_fuzz"
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(GUEST)]

from ops import CODES, DROPPED, OPS, RECENT, TABLES  # noqa: E402 - the guest's op table, shared

FINDINGS = ("foreign", "escape", "hang", "crash")
SETUP_TIMEOUT = 900.0  # seconds a worker may take to compile the guest (wasmtime's first compile is slow)
FILE_SIZE_LIMIT = 1 << 30
DATA_LIMIT = 4 << 30
STDIN = b"line one\nline two\n" * 64

# --------------------------------------------------------------------------
# Drawing sequences

BOUNDARY_INTS = (
    0, 1, 2, 3, 7, 8, 255, 256, 4095, 4096, 4097, 65535, 65536, 1 << 20, (1 << 20) + 1,
    2**31 - 1, 2**31, 2**31 + 1, 2**32 - 1, 2**32, 2**32 + 1, 2**40, 2**53, 2**62,
    2**63 - 1, 2**63, 2**63 + 1, 2**64 - 2, 2**64 - 1,
)
BUFFER_SIZES = (0, 1, 2, 100, 4095, 4096, 4097, 65536, 65537, 1 << 20)
NANOS = (0, 1, 999_999_999, 1_000_000_000, 2**31, 2**32 - 1)
HANDLE_NUMBERS = (0, 1, 2, 3, 4, 5, 8, 16, 100, 2**31 - 1, 2**31, 2**32 - 1)

NAMES = (
    "a.txt", "empty", "d", "d/b.txt", "d/e", "d/back", "d/side", "d/deep", "new", "new.txt", "newdir",
    "up", "upup", "out", "outdir", "abs", "absdir", "self", "loop1", "loop2", "dangling", "dlink",
    "r.txt", "sub", "sub/s.txt", "in", "ro", "sandbox", "outside", "canary.txt",
)
ODD = (
    "..", "..", ".", "", "x" * 255, "y" * 256, "\u00e9t\u00e9", "\x00", "a\x00b", "\u202e", "\ufffd",
    "\U0001f600", "\\", "*", " ", "-", "\ufeff", "a" * 64,
)


def draw_u64(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.55:
        return rng.choice(BOUNDARY_INTS)
    if roll < 0.85:
        return rng.randrange(4097)
    return rng.getrandbits(rng.randrange(1, 65))


def draw_path(rng: random.Random) -> str:
    """A path for the WASI filesystem: mostly names of the fixture, with the odd and the hostile."""
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(SIMPLE_PATHS)  # so that state changes too: renames, links, removals succeed
    if roll < 0.37:
        return "a/" * rng.choice((2049, 2100)) + "a.txt"  # more than max_path_bytes
    if roll < 0.39:
        return "./" * rng.choice((255, 256, 300)) + "a.txt"  # more than max_path_components
    if roll < 0.41:
        return "../" * rng.randrange(1, 40) + rng.choice(("etc/passwd", "outside/canary.txt", "", "l2/ro"))
    parts = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        parts.append(rng.choice(NAMES) if rng.random() < 0.7 else rng.choice(ODD))
    path = rng.choice(("/", "/", "/", "//", "/./")).join(parts)
    if rng.random() < 0.05:
        path = "/" + path
    if rng.random() < 0.15:
        path += rng.choice(("/", "/", "/.", "//", "/.."))
    return path


def draw_target(rng: random.Random, outside: str) -> str:
    """A symlink target: climbing, absolute, looping, or ordinary."""
    roll = rng.random()
    if roll < 0.5:
        return rng.choice((
            "..", "../..", "../../..", "../outside", "../outside/canary.txt", "/", "/etc", "/etc/passwd",
            outside, outside + "/canary.txt", outside + "/", "a.txt", "d", "d/", ".", "./", "self", "self/..",
            "d/../..", "d/../a.txt", "up/outside", "loop1", "new", "newdir", "", "x" * 300, "dangling",
        ))
    return draw_path(rng)


@dataclass
class Op:
    """One call of a sequence, as the guest receives it."""

    code: int
    ints: list[int]
    strs: list[str]

    def render(self) -> str:
        return f"{OPS[self.code][0]}(ints={self.ints}, strs={[s if len(s) < 80 else s[:40] + f'...<{len(s)}>' for s in self.strs]})"



# How often each op is drawn: filesystem calls most, since that is where the sandbox is.
WEIGHTS = {name: 1.0 for name, _kinds in OPS}
WEIGHTS.update({
    "open-at": 8, "get-directories": 0.5, "read-via-stream": 3, "write-via-stream": 3, "append-via-stream": 2,
    "read": 3, "write": 3, "set-size": 3, "set-times": 2, "stat-at": 3, "set-times-at": 3, "link-at": 3,
    "readlink-at": 2, "remove-directory-at": 2, "rename-at": 4, "symlink-at": 4, "unlink-file-at": 3,
    "create-directory-at": 3, "metadata-hash-at": 2, "read-directory": 2, "read-directory-entry": 3,
    "advise": 2, "input-read": 3, "input-blocking-read": 2, "output-write": 3, "output-check-write": 2,
    "output-write-zeroes": 3, "output-blocking-write-zeroes-and-flush": 2, "output-splice": 2,
    "output-blocking-splice": 2, "drop": 3, "poll": 2, "pollable-ready": 2, "pollable-block": 1.5,
})
NAMES_BY_CODE = [name for name, _kinds in OPS]
# ops whose size argument the host must buffer (more than its limit traps, as in wasmtime)
CAPPED = {"get-random-bytes", "get-insecure-random-bytes", "output-write-zeroes", "output-blocking-write-zeroes-and-flush"}
WEIGHT_LIST = [WEIGHTS[name] for name in NAMES_BY_CODE]


def draw_slot(rng: random.Random, forging: bool) -> int:
    if forging and rng.random() < 0.06:
        if rng.random() < 0.5:
            return DROPPED + rng.randrange(DROPPED)
        return 2 * DROPPED + rng.choice(HANDLE_NUMBERS)
    roll = rng.random()
    if roll < 0.5:
        return RECENT + (0 if roll < 0.35 else rng.randrange(4))  # the newest objects
    return rng.randrange(8) if roll < 0.95 else rng.randrange(64)


SIMPLE_PATHS = (
    "a.txt", "empty", "d/b.txt", "new.txt", "new", "new2", "d/e", "d/e/f", "newdir", "newdir/x", "d", "dlink",
    "r.txt", "sub", "sub/s.txt",
)
GOOD_FILES = ("a.txt", "empty", "d/b.txt", "new.txt", "new", "r.txt", "sub/s.txt", "in", "dlink/b.txt", "d/side")
GOOD_DIRS = ("d", "d/e", "newdir", "dlink", "sub", ".", "self")


def draw_open(rng: random.Random) -> tuple[list[int], list[str]]:
    """open-at arguments that mostly succeed: an existing or new file or directory, sensible flags."""
    if rng.random() < 0.7:
        path = rng.choice(GOOD_FILES)
        open_flags = rng.choice((0, 0, 1, 1, 9, 5))  # none, create, create|truncate, create|exclusive
        flags = rng.choice((1, 1, 2, 3, 3, 3, 7))  # read, write, read|write (|file-integrity-sync)
    else:
        path = rng.choice(GOOD_DIRS)
        open_flags = rng.choice((0, 2, 3))  # none, directory, create|directory
        flags = rng.choice((1, 33, 32))  # read, read|mutate-directory, mutate-directory
    base = rng.choice((0, 0, 0, 1, RECENT))  # /sandbox, /ro (the first two descriptors), the newest
    return [base, rng.randrange(2), open_flags, flags], [path]


def draw_op(rng: random.Random, code: int, forging: bool, outside: str, have: frozenset[str] = frozenset()) -> Op:
    name = OPS[code][0]
    if name == "open-at" and rng.random() < 0.6:
        return Op(code, *draw_open(rng))
    ints: list[int] = []
    strs: list[str] = []
    for kind in OPS[code][1]:
        if kind in ("desc", "desc2") and "path" in OPS[code][1] and rng.random() < 0.6:
            ints.append(rng.choice((0, 0, 0, 1)))  # a path from /sandbox or /ro, mostly
        elif kind in ("desc", "desc2", "dirs", "in", "out", "poll", "err", "tcp", "udp", "net", "slot"):
            ints.append(draw_slot(rng, forging))
        elif kind == "polls":
            count = rng.choice((1, 1, 2, 3, 5)) if rng.random() < 0.97 else 0  # none: wasmtime traps
            ints.append(count)
            ints.extend(draw_slot(rng, forging) for _ in range(count))
        elif kind in ("u64", "u32"):
            # host-side buffers the guest sizes: mostly within the limits, so the sequence goes on
            if name in CAPPED and rng.random() < 0.8:
                ints.append(rng.choice((0, 1, 4095, 4096, rng.randrange(65537))))
            else:
                ints.append(draw_u64(rng))
        elif kind == "u8":
            ints.append(rng.choice((0, 1, 2, 64, 255, 256, 2**64 - 1)))
        elif kind == "ts":
            ints += [rng.randrange(3), draw_u64(rng), rng.choice(NANOS) if rng.random() < 0.7 else rng.getrandbits(32)]
        elif kind == "addr":
            ints += [rng.randrange(2), rng.choice((0, 1, 80, 65535, rng.randrange(65536))), draw_u64(rng), draw_u64(rng)]
        elif kind == "pf":
            ints.append(rng.randrange(2))
        elif kind == "of":
            ints.append(rng.randrange(16) if rng.random() < 0.6 else rng.choice((0, 1, 2, 3, 9, 11)))
        elif kind == "df":
            ints.append(rng.randrange(64) if rng.random() < 0.4 else rng.choice((1, 2, 3, 3, 33, 35)))
        elif kind in ("adv", "fam", "shut"):
            ints.append(rng.randrange(8))
        elif kind == "table":
            held = [TABLES.index(table) for table in sorted(have) if table in TABLES]
            ints.append(rng.choice(held) if held and rng.random() < 0.9 else rng.randrange(len(TABLES)))
        elif kind == "buf":
            ints.append(rng.choice(BUFFER_SIZES) if rng.random() < 0.3 else rng.choice((0, 1, 100, 4096)))
        elif kind == "path":
            strs.append(draw_path(rng))
        elif kind == "text":
            strs.append(draw_target(rng, outside))
        else:
            raise ValueError(kind)
    return Op(code, ints, strs)


# Which ops make an object of each table: drawing an op whose table is still
# empty mostly draws one of its producers instead (fewer calls skipped).
PRODUCERS = {
    "desc": ("get-directories", "open-at"),
    "in": ("read-via-stream", "get-stdin"),
    "out": ("write-via-stream", "append-via-stream", "get-stdout", "get-stderr"),
    "dirs": ("read-directory",),
    "poll": ("input-subscribe", "output-subscribe", "subscribe-instant", "subscribe-duration", "tcp-subscribe"),
    "net": ("instance-network",),
    "tcp": ("create-tcp-socket",),
    "udp": ("create-udp-socket",),
}
SLOT_TABLES = {"desc": "desc", "desc2": "desc", "dirs": "dirs", "in": "in", "out": "out", "poll": "poll",
               "polls": "poll", "tcp": "tcp", "udp": "udp", "net": "net"}


def needs(code: int) -> list[str]:
    return [SLOT_TABLES[kind] for kind in OPS[code][1] if kind in SLOT_TABLES]


def draw_sequence(seed: int, index: int, steps: int, outside: str) -> list[Op]:
    """Sequence ``index`` of a run with ``seed`` (deterministic); ``outside`` is the fixture's outside/."""
    rng = random.Random(seed * 1_000_003 + index)
    forging = rng.random() < 0.2  # most sequences use only handles they hold, so they run to the end
    length = rng.randint(max(1, steps // 2), steps)
    ops: list[Op] = []
    have: set[str] = set()
    if rng.random() < 0.95:
        ops.append(Op(CODES["get-directories"], [], []))
        have.add("desc")
        if rng.random() < 0.7:  # a file to read, write, resize, stream...
            ops.append(Op(CODES["open-at"], [0, 0, rng.choice((0, 1, 9)), rng.choice((3, 3, 1, 2))],
                          [rng.choice(("a.txt", "empty", "d/b.txt", "new.txt"))]))
    while len(ops) < length:
        code = rng.choices(range(len(OPS)), WEIGHT_LIST)[0]
        missing = [table for table in needs(code) if table not in have and table in PRODUCERS]
        if missing and rng.random() < 0.85:
            code = CODES[rng.choice(PRODUCERS[missing[0]])]
            missing = [table for table in needs(code) if table not in have and table in PRODUCERS]
            if missing:
                code = CODES[PRODUCERS[missing[0]][0]]
        ops.append(draw_op(rng, code, forging, outside, frozenset(have)))
        for table, producers in PRODUCERS.items():
            if OPS[code][0] in producers:
                have.add(table)
    return ops


# --------------------------------------------------------------------------
# The fixture and its snapshot


class Fixture:
    """A worker's directory tree: outside/, ro/ and sandbox/ beneath two levels of our own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base = root / "l1" / "l2"
        self.outside = self.base / "outside"
        self.ro = self.base / "ro"
        self.sandbox = self.base / "sandbox"
        self.stdin = root / "stdin.txt"

    @classmethod
    def create(cls, parent: Optional[Path] = None) -> Fixture:
        fixture = cls(Path(tempfile.mkdtemp(prefix="wasi-fuzz-", dir=parent)).resolve())
        base, outside, ro = fixture.base, fixture.outside, fixture.ro
        (outside / "secret").mkdir(parents=True)
        (base.parent / "peer.txt").write_text("next to the fixture\n")
        fixture.stdin.write_bytes(STDIN)
        (base / "beside.txt").write_text("beside the preopens\n")
        (outside / "canary.txt").write_text("canary: must never change\n")
        (outside / "secret" / "inner.txt").write_text("secret\n")
        (outside / "emptydir").mkdir()
        os.symlink("canary.txt", outside / "link")
        (ro / "sub").mkdir(parents=True)
        (ro / "r.txt").write_text("read only\n")
        (ro / "sub" / "s.txt").write_text("read only too\n")
        os.symlink("../outside", ro / "up")
        os.symlink("r.txt", ro / "in")
        os.symlink(str(outside / "canary.txt"), ro / "abs")
        fixture.sandbox.mkdir()
        fixture.reset_sandbox()
        return fixture

    def reset_sandbox(self) -> None:
        """Empty the sandbox (never replace it: the preopen is the directory itself) and refill it."""
        sandbox = self.sandbox
        for entry in os.scandir(sandbox):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        (sandbox / "d" / "e").mkdir(parents=True)
        (sandbox / "a.txt").write_text("alpha\n")
        (sandbox / "empty").write_bytes(b"")
        (sandbox / "d" / "b.txt").write_text("bravo\n")
        links = {
            "up": "..", "upup": "../..", "out": "../outside/canary.txt", "outdir": "../outside",
            "abs": str(self.outside / "canary.txt"), "absdir": str(self.outside), "self": ".",
            "loop1": "loop2", "loop2": "loop1", "dangling": "nowhere", "dlink": "d",
            "d/back": "../..", "d/side": "../a.txt", "d/deep": "../../outside/secret",
        }
        for name, target in links.items():
            os.symlink(target, sandbox / name)

    def snapshot(self) -> dict[str, tuple[Any, ...]]:
        """Everything under the root but the sandbox's contents: (type, mode, size, mtime, hash, target)."""
        out: dict[str, tuple[Any, ...]] = {}
        sandbox = str(self.sandbox)

        def visit(path: str) -> None:
            info = os.lstat(path)
            rel = os.path.relpath(path, self.root)
            mode = info.st_mode
            if path == sandbox:
                out[rel] = ("sandbox", stat.S_IFMT(mode))  # must stay a directory; its contents are the guest's
                return
            if stat.S_ISLNK(mode):
                out[rel] = ("link", mode, os.readlink(path))
            elif stat.S_ISDIR(mode):
                out[rel] = ("dir", mode, info.st_mtime_ns)
                for name in sorted(os.listdir(path)):
                    visit(os.path.join(path, name))
            elif stat.S_ISREG(mode):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                out[rel] = ("file", mode, info.st_size, info.st_mtime_ns, digest)
            else:
                out[rel] = ("other", mode, info.st_size, info.st_mtime_ns)

        visit(str(self.root))
        return out

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def differences(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]) -> list[str]:
    """What changed between two snapshots, one line per path."""
    lines = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old != new:
            lines.append(f"{path}: {old} -> {new}" if old and new else f"{path}: {'removed' if old else 'created'}")
    return lines


# --------------------------------------------------------------------------
# Running sequences


def allowed(error: BaseException) -> bool:
    """Errors a WASI call may raise into the embedder."""
    import wasmtime

    return isinstance(error, (wasmtime.WasmtimeError, wasmtime.Trap))


def signature(error: BaseException) -> str:
    """Exception class and innermost frame: findings with the same signature are one bug."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(error).__qualname__} at {where}"


def refuse_address(address: tuple[str, int], use: str) -> bool:
    """The fuzzer's socket address policy: nothing (bind, connect, send... all ``access-denied``)."""
    return False


def trap_line(error: BaseException) -> str:
    """The line of a trap's message that says what happened (not the backtrace)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if "Caused by:" in lines[:-1]:  # wasmtime's: the cause follows the backtrace
        return lines[lines.index("Caused by:") + 1][:200]
    for line in reversed(lines):
        if "trap" in line or "error" in line.lower():
            return line[:200]
    return lines[-1][:200] if lines else type(error).__name__


def compare(ours: Result, ops: list[Op], anchor: Runner) -> str:
    """Run ``ops`` on wasmtime too; the first call whose outcome differs, as ``"<op>: <ours> | <wasmtime's>"``.

    Only the first: once the two sandboxes differ, later differences may be its consequences.
    """
    try:
        theirs: Optional[list[str]] = anchor.call(ops)
        their_trap = ""
    except Exception as error:  # noqa: BLE001 - the anchor's behaviour, whatever it is
        theirs = None
        their_trap = f"trap ({trap_line(error)})" if allowed(error) else f"FOREIGN {type(error).__name__}"
    if ours.outcomes is None or theirs is None:
        if (ours.outcomes is None) != (theirs is None):
            mine = f"trap ({ours.trap})" if ours.outcomes is None else "completed"
            return re.sub(r"\d+", "N", f"sequence: {mine} | {their_trap or 'completed'}")
        return ""
    for op, a, b in zip(ops, ours.outcomes, theirs, strict=False):
        if a != b:
            return f"{OPS[op.code][0]}: {a} | {b}"
    return ""


def register_world() -> None:
    """Tell tests/wasi_guests.py the guest's world: WIT names are kebab-case, unlike the directory's."""
    import wasi_guests

    wasi_guests.WORLDS.setdefault("wasi_fuzz", "wasi-fuzz")


def guest_path() -> Path:
    """The built guest (componentize-py, cached by tests/wasi_guests.py)."""
    import wasi_guests

    register_world()
    try:
        return wasi_guests.build("wasi_fuzz")
    except BaseException as skipped:  # pytest.skip outside pytest: report why
        if type(skipped).__name__ == "Skipped":
            raise SystemExit(f"cannot build the guest: {skipped}") from None
        raise


@dataclass
class Result:
    """What one sequence did."""

    outcome: str  # completed | trapped | foreign | escape
    ops: int
    counts: Counter[str] = field(default_factory=Counter)  # "<op> <ok|err|skip|guest>"
    detail: str = ""
    outcomes: Optional[list[str]] = None  # per op, when the call returned
    trap: str = ""  # the first line of the trap's message
    diverged: str = ""  # --compare: the first difference, "<op>: <ours> | <wasmtime's>"


class Runner:
    """Runs sequences on one fixture (in a worker, or in-process), on wasmcomponent or wasmtime.

    An instance serves the sequences of one group (``start_group``) until a
    call raises; then the next sequence gets a fresh store and instance.
    ``runtime="wasmtime"`` runs the same guest on ``wasmtime.component`` with
    ``add_wasip2`` and a native ``wasmtime.WasiConfig``: the anchor.
    """

    def __init__(self, fixture: Fixture, guest: Path, baseline: Optional[dict[str, tuple[Any, ...]]] = None,
                 runtime: str = "wasmcomponent", sockets: bool = False) -> None:
        import wasmtime

        if runtime == "wasmtime":
            import wasmtime.component as module
        else:
            import wasmcomponent as module  # type: ignore[no-redef]
        config = wasmtime.Config()
        try:
            config.cache = True
        except wasmtime.WasmtimeError:
            pass
        self.runtime = runtime
        self.sockets = sockets and runtime == "wasmcomponent"
        self.engine = wasmtime.Engine(config)
        self.component = module.Component.from_file(self.engine, str(guest))
        self.linker = module.Linker(self.engine)
        self.linker.add_wasip2()
        self.fixture = fixture
        self.baseline = baseline if baseline is not None else fixture.snapshot()
        self.live: Optional[tuple[Any, Any]] = None  # (store, run) of the current instance

    def start_group(self) -> None:
        """The next sequence starts in a fresh store and instance."""
        self.live = None

    def instance(self) -> tuple[Any, Any]:
        import wasmtime

        from wasmcomponent.wasi import WasiConfig

        if self.live is None:
            cfg: Any = WasiConfig() if self.runtime == "wasmcomponent" else wasmtime.WasiConfig()
            cfg.argv = ["wasi-fuzz", "--flag", ""]
            cfg.env = [("FUZZ", "1"), ("EMPTY", "")]
            cfg.stdin_file = str(self.fixture.stdin)
            if self.runtime == "wasmcomponent":
                cfg.stdout_buffer()
                cfg.stderr_buffer()
            if self.sockets:
                # sockets can be made and configured, but every address is refused: no traffic, ever
                cfg.allow_tcp()
                cfg.allow_udp()
                cfg.socket_addr_check = refuse_address
            cfg.preopen_dir(str(self.fixture.sandbox), "/sandbox", True)
            cfg.preopen_dir(str(self.fixture.ro), "/ro", False)
            store = wasmtime.Store(self.engine)
            store.set_wasi(cfg)
            instance = self.linker.instantiate(store, self.component)
            run = instance.get_func(store, "run")
            assert run is not None
            self.live = (store, run)
        return self.live

    def call(self, ops: list[Op]) -> list[str]:
        """Run ``ops`` on a freshly filled sandbox; raises what the call raises (and drops the instance)."""
        self.fixture.reset_sandbox()
        try:
            store, run = self.instance()
            outcomes = run(store, ops)  # both runtimes read a record's fields as attributes
            run.post_return(store)
        except BaseException:
            self.live = None  # a trap poisons the instance
            raise
        return list(outcomes)

    def escaped(self) -> list[str]:
        return differences(self.baseline, self.fixture.snapshot())

    def run(self, ops: list[Op]) -> Result:
        """One sequence, classified; a foreign exception is narrowed down to the op that raised it."""
        result = Result("completed", len(ops))
        try:
            outcomes = self.call(ops)
        except Exception as error:  # noqa: BLE001 - classifying is the point
            if allowed(error):
                result.outcome = "trapped"
                result.trap = trap_line(error)
            else:
                result.outcome = "foreign"
                result.detail = self.describe_foreign(ops, error)
        except BaseException as error:  # e.g. RecursionError, MemoryError raised as BaseException subclasses
            if isinstance(error, KeyboardInterrupt):
                raise
            result.outcome = "foreign"
            result.detail = self.describe_foreign(ops, error)
        else:
            result.outcomes = outcomes
            for op, outcome in zip(ops, outcomes, strict=False):
                result.counts[f"{OPS[op.code][0]} {outcome.split(':', 1)[0]}"] += 1
        changed = self.escaped()
        if changed:
            result.outcome = "escape"
            result.detail = "\n".join(changed[:40]) + "\n\nsequence:\n" + "\n".join(op.render() for op in ops)
            self.baseline = self.fixture.snapshot()  # report each change once
        return result

    def describe_foreign(self, ops: list[Op], error: BaseException) -> str:
        """Signature, the first op whose prefix raises it again, and the traceback."""
        culprit = "not reproduced by a prefix in a fresh instance"
        for end in range(1, len(ops) + 1):
            self.start_group()
            try:
                self.call(ops[:end])
            except BaseException as again:  # noqa: BLE001
                if isinstance(again, KeyboardInterrupt):
                    raise
                if not allowed(again):
                    culprit = f"op {end - 1}: {ops[end - 1].render()}"
                    break
        self.start_group()
        lines = [signature(error), f"{type(error).__module__}.{type(error).__qualname__}: {error}"[:2000],
                 f"raised by {culprit}", "", "sequence:", *(op.render() for op in ops), "",
                 "".join(traceback.format_exception(error))]
        return "\n".join(lines)


# --------------------------------------------------------------------------
# Workers and the parent


def limit_worker() -> None:
    """Bound what a runaway host call can take from a shared machine (see the module docstring)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
    for which, limit in ((resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT), (resource.RLIMIT_DATA, DATA_LIMIT)):
        soft, hard = resource.getrlimit(which)
        if hard == resource.RLIM_INFINITY or hard > limit:
            resource.setrlimit(which, (limit, hard))


def worker_main(connection: Connection, root: str, baseline: dict[str, tuple[Any, ...]], guest: str,
                options: dict[str, Any]) -> None:
    """Run the groups the parent sends (``(first, last)`` indices); answer ``(index, Result)`` per sequence."""
    limit_worker()
    runner = Runner(Fixture(Path(root)), Path(guest), baseline, options["runtime"], not options["compare"])
    anchor = Runner(runner.fixture, Path(guest), baseline, "wasmtime") if options["compare"] else None
    outside = str(runner.fixture.outside)
    connection.send(("ready", None))  # compiling took its own time: sequences are timed from here
    while True:
        group = connection.recv()
        if group is None:
            return
        runner.start_group()
        if anchor is not None:
            anchor.start_group()
        for index in range(group[0], group[1] + 1):
            ops = draw_sequence(options["seed"], index, options["steps"], outside)
            result = runner.run(ops)
            if anchor is not None and not any(slot >= DROPPED for op in ops for slot in slot_values(op)):
                result.diverged = compare(result, ops, anchor)
            if index == options.get("plant_escape"):
                # test hook: a change outside the sandbox, as an escape would make, after this sequence
                with open(runner.fixture.outside / "canary.txt", "a") as canary:
                    canary.write("planted\n")
                changed = runner.escaped()
                if changed and result.outcome != "escape":
                    result.outcome, result.detail = "escape", "\n".join(changed)
            if index == options.get("plant_hang"):
                time.sleep(10**6)  # test hook: a sequence that never answers
            connection.send((index, result))


def slot_values(op: Op) -> list[int]:
    """The handle-slot arguments of ``op`` (forged ones are numbered differently on each runtime)."""
    out, position = [], 0
    for kind in OPS[op.code][1]:
        if kind in ("path", "text"):
            continue
        width = {"ts": 3, "addr": 4}.get(kind, 1)
        if kind == "polls":
            count = op.ints[position]
            out.extend(op.ints[position + 1 : position + 1 + count])
            width = 1 + count
        elif kind in SLOT_TABLES or kind == "slot":
            out.append(op.ints[position])
        position += width
    return out


def group_of(index: int, size: int) -> tuple[int, int]:
    """The first and last index of the group holding ``index`` (groups share an instance)."""
    first = index - index % size
    return first, first + size - 1


@dataclass
class Slot:
    """A worker process, its fixture, and the sequence it is running."""

    fixture: Fixture
    baseline: dict[str, tuple[Any, ...]]
    process: Any = None
    connection: Any = None
    ready: bool = False  # the worker has loaded the component
    index: Optional[int] = None  # the sequence running, None when idle
    last: int = -1  # the last sequence of its group
    started: float = 0.0
    done: int = 0
    since_check: list[int] = field(default_factory=list)


@dataclass
class Summary:
    """Counts, findings, timing."""

    sequences: int = 0
    ops: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    findings: list[tuple[str, int, str]] = field(default_factory=list)
    signatures: Counter[str] = field(default_factory=Counter)
    diverged: Counter[str] = field(default_factory=Counter)  # --compare: kinds of difference
    diverged_at: dict[str, int] = field(default_factory=dict)  # the first sequence showing each
    diverged_sequences: int = 0
    traps: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0

    def count(self, kind: str) -> int:
        return self.outcomes[kind]

    def render(self) -> str:
        elapsed = self.elapsed or time.monotonic() - self.started
        rate = self.sequences / elapsed if elapsed else 0.0
        made = sum(n for key, n in self.calls.items() if not key.endswith(" skip"))
        kinds = {k: sum(n for key, n in self.calls.items() if key.endswith(" " + k)) for k in ("ok", "err", "guest", "skip")}
        return (
            f"{self.sequences} sequences, {self.ops} ops in {elapsed:.1f}s ({rate:.0f}/s): "
            f"completed {self.outcomes['completed']}, trapped {self.outcomes['trapped']}; "
            f"calls made {made} (ok {kinds['ok']}, err {kinds['err']}, refused by bindings {kinds['guest']}), "
            f"skipped {kinds['skip']}; "
            + ", ".join(f"{kind} {self.outcomes[kind]}" for kind in FINDINGS)
        )


def fuzz(args: argparse.Namespace, guest: Path, report: Callable[[str], None]) -> Summary:
    """Run sequences ``args.start .. args.start + args.count - 1`` on ``args.jobs`` workers."""
    context = multiprocessing.get_context("fork")
    summary = Summary()
    options = {"seed": args.seed, "steps": args.steps, "plant_escape": args.plant_escape,
               "plant_hang": args.plant_hang, "runtime": args.runtime, "compare": args.compare}
    parent_dir = Path(args.workdir) if args.workdir else None
    if parent_dir is not None:
        parent_dir.mkdir(parents=True, exist_ok=True)

    def new_slot() -> Slot:
        fixture = Fixture.create(parent_dir)
        return Slot(fixture, fixture.snapshot())

    def start(slot: Slot) -> None:
        parent_end, child_end = context.Pipe()
        slot.process = context.Process(
            target=worker_main, args=(child_end, str(slot.fixture.root), slot.baseline, str(guest), options), daemon=True
        )
        slot.process.start()
        child_end.close()
        slot.connection, slot.done = parent_end, 0

    def finding(kind: str, index: int, detail: str) -> None:
        summary.outcomes[kind] += 1
        key = f"{kind}: {detail.splitlines()[0] if detail else ''}"
        summary.signatures[key] += 1
        if summary.signatures[key] > args.keep:
            return
        summary.findings.append((kind, index, detail))
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{kind}-{args.seed}-{index}.txt").write_text(
                f"{kind} (seed {args.seed}, sequence {index}, steps {args.steps})\n"
                f"replay: python fuzz/fuzz_wasi.py --seed {args.seed} --steps {args.steps} --group {args.group}"
                f" --reproduce {index}\n\n"
                f"{detail}\n"
            )
        report(f"\n{kind.upper()} at sequence {index}: {key}\n")

    def parent_check(slot: Slot) -> None:
        """The parent's own comparison of a slot's fixture with its baseline."""
        changed = differences(slot.baseline, slot.fixture.snapshot())
        if changed:
            # the sequences finished since the last check, and the one running (it may be mid-change)
            suspects = slot.since_check + ([slot.index] if slot.index is not None else [])
            span = f"{min(suspects)}..{max(suspects)}" if suspects else "?"
            finding("escape", min(suspects, default=-1),
                    f"changed by one of sequences {span} (parent check)\n" + "\n".join(changed[:40]))
            slot.baseline = slot.fixture.snapshot()
        slot.since_check.clear()

    def stop(slot: Slot, kill: bool) -> None:
        if slot.process is not None and slot.process.is_alive():
            if kill:
                slot.process.kill()
            else:
                slot.connection.send(None)
                slot.process.join(10)
                if slot.process.is_alive():
                    slot.process.kill()
            slot.process.join()
        if slot.connection is not None:
            slot.connection.close()

    end = args.start + args.count
    next_index = args.start
    pending: list[tuple[int, int]] = []  # the rest of groups whose worker was replaced
    last_report = time.monotonic()
    finished_since_check = 0

    def assign(slot: Slot) -> None:
        nonlocal next_index
        if pending:
            first, last = pending.pop()
        elif next_index < end:
            first, last = next_index, min(group_of(next_index, args.group)[1], end - 1)
            next_index = last + 1
        else:
            slot.index = None
            return
        slot.index, slot.last, slot.started = first, last, time.monotonic()
        slot.connection.send((first, last))

    def replace(position: int, slot: Slot, kill: bool, check: bool = True) -> Slot:
        if slot.index is not None and slot.index < slot.last:
            pending.append((slot.index + 1, slot.last))
        stop(slot, kill)
        if check:
            parent_check(slot)
        slot.fixture.remove()
        fresh = new_slot()
        slots[position] = fresh
        start(fresh)
        return fresh

    slots = [new_slot() for _ in range(args.jobs)]
    try:
        for slot in slots:
            start(slot)
            assign(slot)
        while any(s.index is not None for s in slots):
            ready = multiprocessing.connection.wait([s.connection for s in slots if s.index is not None], timeout=0.1)
            now = time.monotonic()
            for position, slot in enumerate(slots):
                if slot.index is None:
                    continue
                limit = args.timeout if slot.ready else SETUP_TIMEOUT
                if slot.connection in ready:
                    try:
                        index, result = slot.connection.recv()
                    except (EOFError, OSError):
                        slot.process.join(1)
                        summary.sequences += 1
                        slot.since_check.append(slot.index)
                        finding("crash", slot.index, f"worker died (exit code {slot.process.exitcode})")
                        assign(replace(position, slot, kill=True))
                        continue
                    if index == "ready":
                        slot.ready, slot.started = True, now
                        continue
                    summary.sequences += 1
                    summary.ops += result.ops
                    summary.calls.update(result.counts)
                    if result.trap:
                        summary.traps[re.sub(r"\d+", "N", result.trap)] += 1
                    if result.diverged:
                        summary.diverged_sequences += 1
                        summary.diverged[result.diverged] += 1
                        summary.diverged_at.setdefault(result.diverged, index)
                    slot.since_check.append(index)
                    slot.done += 1
                    finished_since_check += 1
                    if result.outcome in FINDINGS:
                        finding(result.outcome, index, result.detail)
                    else:
                        summary.outcomes[result.outcome] += 1
                    if result.outcome == "escape":
                        slot.index = index
                        # already reported: a fresh fixture, so that later checks mean something
                        assign(replace(position, slot, kill=True, check=False))
                    elif index < slot.last:
                        slot.index, slot.started = index + 1, now
                    else:
                        slot.index = None
                        if slot.done >= args.recycle:
                            slot = replace(position, slot, kill=False)
                        assign(slot)
                elif now - slot.started > limit:
                    assert slot.index is not None
                    hung = slot.index
                    summary.sequences += 1
                    slot.since_check.append(hung)
                    ops = draw_sequence(args.seed, hung, args.steps, str(slot.fixture.outside))
                    finding("hang", hung, f"no answer within {limit}s\n\nsequence:\n"
                            + "\n".join(op.render() for op in ops))
                    assign(replace(position, slot, kill=True))
            if finished_since_check >= args.check_every:
                finished_since_check = 0
                for slot in slots:
                    parent_check(slot)
            if now - last_report >= args.progress:
                last_report = now
                report(f"\r{summary.render()}")
        for slot in slots:
            stop(slot, kill=False)
            parent_check(slot)
    finally:
        for slot in slots:
            stop(slot, kill=True)
            if not args.keep_fixtures:
                slot.fixture.remove()
    summary.elapsed = time.monotonic() - summary.started
    return summary


def reproduce(args: argparse.Namespace, guest: Path) -> int:
    """Run one sequence in this process, on a fresh fixture, and show every call's outcome.

    The sequences before it in its group run first (silently), in the same
    instance, as they did in the run.
    """
    fixture = Fixture.create(Path(args.workdir) if args.workdir else None)
    try:
        runner = Runner(fixture, guest, runtime=args.runtime, sockets=not args.compare)
        outside = str(fixture.outside)
        first = max(group_of(args.reproduce, args.group)[0], args.start)
        for earlier in range(first, args.reproduce):
            try:
                runner.call(draw_sequence(args.seed, earlier, args.steps, outside))
            except Exception:  # noqa: BLE001 - context only; the instance is replaced as in the run
                pass
        ops = draw_sequence(args.seed, args.reproduce, args.steps, outside)
        status = 0
        try:
            outcomes = runner.call(ops)
        except BaseException as error:  # noqa: BLE001 - showing it is the point
            if isinstance(error, KeyboardInterrupt):
                raise
            for op in ops:
                print(op.render())
            print(("TRAP" if allowed(error) else "FOREIGN") + f": {type(error).__qualname__}: {error}")
            if not allowed(error):
                traceback.print_exception(error)
                status = 1
        else:
            for op, outcome in zip(ops, outcomes, strict=False):
                print(f"{outcome:<28} {op.render()}")
        changed = runner.escaped()
        for line in changed:
            print("ESCAPE:", line)
        return 1 if changed else status
    finally:
        fixture.remove()


def default_workdir() -> Optional[str]:
    """``/dev/shm`` when it is a writable directory (symlink and rmdir are ~100x faster there), else None."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="number of sequences (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="run seed; sequence i depends on (seed, i) only")
    parser.add_argument("--start", type=int, default=0, help="first sequence index (to resume a run)")
    parser.add_argument("--steps", type=int, default=24, help="most calls in one sequence (default 24)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per sequence before it is a hang")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--group", type=int, default=8,
                        help="sequences sharing one instance (a new one after any trap); default 8")
    parser.add_argument("--recycle", type=int, default=5000, help="replace a worker after this many sequences")
    parser.add_argument("--check-every", type=int, default=1000,
                        help="the parent compares every fixture with its snapshot after this many sequences")
    parser.add_argument("--keep", type=int, default=3, help="findings reported in full per distinct signature")
    parser.add_argument("--progress", type=float, default=10.0, help="seconds between progress lines")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "wasmcomponent-fuzz" / "wasi",
                        help="where findings are saved")
    parser.add_argument("--workdir", default=default_workdir(),
                        help="where fixtures are made (default: /dev/shm when there is one, a tmpfs: fast)")
    parser.add_argument("--keep-fixtures", action="store_true", help="leave the fixtures behind")
    parser.add_argument("--reproduce", type=int, metavar="I", help="run sequence I in-process and show it")
    parser.add_argument("--runtime", choices=("wasmcomponent", "wasmtime"), default="wasmcomponent",
                        help="the runtime under test (wasmtime: wasmtime.component + add_wasip2, the anchor)")
    parser.add_argument("--compare", action="store_true",
                        help="also run every sequence without forged handles on wasmtime and count the first "
                             "call whose outcome differs (reported, not a finding)")
    parser.add_argument("--traps", action="store_true", help="list the trap messages seen, by count")
    parser.add_argument("--calls", action="store_true", help="list every op's outcomes (ok, err, guest, skip)")
    # test hooks: after sequence I, change outside/canary.txt / never answer
    parser.add_argument("--plant-escape", type=int, metavar="I", help=argparse.SUPPRESS)
    parser.add_argument("--plant-hang", type=int, metavar="I", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # a terminated run (timeout(1), kill) still kills its workers and removes its fixtures
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    guest = guest_path()
    if args.reproduce is not None:
        return reproduce(args, guest)
    print(f"seed {args.seed}, sequences {args.start}..{args.start + args.count - 1}, up to {args.steps} calls each, "
          f"{args.jobs} workers", file=sys.stderr)
    summary = fuzz(args, guest, lambda text: print(text, end="", file=sys.stderr, flush=True))
    print(file=sys.stderr)
    print(summary.render())
    for key, times in summary.signatures.items():
        print(f"  {times:>7} x {key}")
    for kind, index, _detail in summary.findings:
        print(f"  {kind} at sequence {index}: {args.out / f'{kind}-{args.seed}-{index}.txt'}")
    if args.compare:
        print(f"outcomes differing from wasmtime's in {summary.diverged_sequences} sequences "
              "(ours | wasmtime's; first sequence):")
        for key, times in summary.diverged.most_common():
            print(f"  {times:>7} x {key} (sequence {summary.diverged_at[key]})")
    if args.calls:
        print("calls (ok / err / refused by the bindings / skipped), in completed sequences:")
        for name, _kinds in OPS:
            counts = [summary.calls[f"{name} {kind}"] for kind in ("ok", "err", "guest", "skip")]
            print(f"  {name:<40} {counts[0]:>8} {counts[1]:>8} {counts[2]:>6} {counts[3]:>8}")
    if args.traps:
        print("traps:")
        for key, times in summary.traps.most_common():
            print(f"  {times:>7} x {key}")
    return 1 if any(summary.outcomes[kind] for kind in FINDINGS) else 0


if __name__ == "__main__":
    sys.exit(main())
