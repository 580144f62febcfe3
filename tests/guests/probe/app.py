"""Guest probes for the WASI host tests (built with componentize-py at test time).

Every export prints to stdout/stderr and returns a text log, so the host test
can compare the same run under two runtimes.
"""

import os
import random
import sys
import time

import wit_world


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}:{getattr(exc, 'errno', None)}"


def _attempt(log: list, label: str, action) -> None:
    try:
        result = action()
        log.append(f"{label}: ok {result!r}")
    except OSError as exc:
        log.append(f"{label}: {_err(exc)}")


class WitWorld(wit_world.WitWorld):
    def hello(self, name: str) -> str:
        print("hello,", name)
        print("to stderr", file=sys.stderr)
        sys.stdout.flush()
        return f"Hello, {name}!"

    def env_and_args(self) -> str:
        env = sorted((k, v) for k, v in os.environ.items() if k.startswith("PROBE_"))
        print("args", sys.argv)
        print("env", env)
        return repr((sys.argv, env))

    def random_and_clocks(self) -> str:
        a = os.urandom(32)
        b = os.urandom(32)
        r = random.random()
        t0 = time.monotonic()
        time.sleep(0.01)
        t1 = time.monotonic()
        wall = time.time()
        facts = [
            f"urandom lengths {len(a)} {len(b)}",
            f"urandom differs {a != b}",
            f"random in range {0.0 <= r < 1.0}",
            f"slept {t1 - t0 >= 0.009}",
            f"wall sane {wall > 1_600_000_000}",
        ]
        print("\n".join(facts))
        return ";".join(facts)

    def files(self, root: str) -> str:
        log = []
        path = os.path.join(root, "a.txt")
        with open(path, "w") as f:
            f.write("first line\n")
        with open(path, "a") as f:
            f.write("second line\n")
        with open(path) as f:
            log.append("read " + repr(f.read()))
        with open(path, "rb") as f:
            f.seek(6)
            log.append("seek-read " + repr(f.read(4)))
        os.makedirs(os.path.join(root, "sub", "deep"), exist_ok=True)
        with open(os.path.join(root, "sub", "deep", "b.bin"), "wb") as f:
            f.write(bytes(range(200)))
        log.append("size " + str(os.stat(os.path.join(root, "sub", "deep", "b.bin")).st_size))
        log.append("isdir " + str(os.path.isdir(os.path.join(root, "sub"))))
        log.append("list " + repr(sorted(os.listdir(root))))
        os.rename(path, os.path.join(root, "sub", "renamed.txt"))
        log.append("after-rename " + repr(sorted(os.listdir(os.path.join(root, "sub")))))
        log.append("exists-old " + str(os.path.exists(path)))
        os.remove(os.path.join(root, "sub", "deep", "b.bin"))
        os.rmdir(os.path.join(root, "sub", "deep"))
        log.append("after-delete " + repr(sorted(os.listdir(os.path.join(root, "sub")))))
        _attempt(log, "missing", lambda: open(os.path.join(root, "nope.txt")).read())
        _attempt(log, "rmdir-nonempty", lambda: os.rmdir(os.path.join(root, "sub")))
        _attempt(log, "mkdir-exists", lambda: os.mkdir(os.path.join(root, "sub")))
        _attempt(log, "open-dir-for-write", lambda: open(os.path.join(root, "sub"), "w"))
        print("\n".join(log))
        return "\n".join(log)

    def stdin_echo(self) -> str:
        data = sys.stdin.read()
        sys.stdout.write(data.upper())
        sys.stdout.flush()
        return data

    def sandbox(self, root: str, readonly_root: str) -> str:
        log = []
        _attempt(log, "dotdot", lambda: open(root + "/../secret.txt").read())
        _attempt(log, "dotdot-deep", lambda: open(root + "/inner/../../secret.txt").read())
        _attempt(log, "dotdot-inside", lambda: open(root + "/inner/../inside.txt").read())
        _attempt(log, "absolute", lambda: open("/etc/hostname").read())
        _attempt(log, "symlink-abs", lambda: open(root + "/link-abs").read())
        _attempt(log, "symlink-rel", lambda: open(root + "/link-rel").read())
        _attempt(log, "symlink-inside", lambda: open(root + "/link-inside").read())
        _attempt(log, "symlink-dir-escape", lambda: os.listdir(root + "/link-updir"))
        _attempt(log, "symlink-loop", lambda: open(root + "/loop-a").read())
        _attempt(log, "readonly-read", lambda: open(readonly_root + "/inside.txt").read())
        _attempt(log, "readonly-write", lambda: open(readonly_root + "/new.txt", "w").write("x"))
        _attempt(log, "readonly-append", lambda: open(readonly_root + "/inside.txt", "a").write("x"))
        _attempt(log, "readonly-mkdir", lambda: os.mkdir(readonly_root + "/d"))
        _attempt(log, "readonly-remove", lambda: os.remove(readonly_root + "/inside.txt"))
        _attempt(log, "readonly-rename", lambda: os.rename(readonly_root + "/inside.txt", readonly_root + "/x"))
        print("\n".join(log))
        return "\n".join(log)

    def fail(self) -> str:
        raise RuntimeError("deliberate failure")
