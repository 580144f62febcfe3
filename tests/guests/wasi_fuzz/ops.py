"""The calls of the wasi_fuzz guest: one table shared by the guest and fuzz/fuzz_wasi.py.

Each entry is ``(name, argument kinds)``.  An op travels as
``op(code, ints, strs)``: ``code`` is the entry's index, and its arguments
are taken in order from ``ints`` (every kind but the string ones) and from
``strs`` (``path`` and ``text``).  Kinds:

- handle slots, indices into the guest's tables (modulo their length; from
  ``RECENT`` on, counted from the newest object): ``desc``,
  ``desc2`` (a second descriptor), ``dirs`` (directory-entry stream), ``in``,
  ``out``, ``poll``, ``polls`` (a count, then that many pollable slots),
  ``err`` (an ``io/error``), ``tcp``, ``udp``, ``net``;
- plain integers, passed unchanged whatever their size: ``u64``, ``u32``,
  ``u8``, ``ts`` (three: 0 no-change / 1 now / 2 timestamp, seconds,
  nanoseconds), ``addr`` (four: family, port, flow info, scope id);
- small choices: ``pf`` (path flags, 0..1), ``of`` (open flags, 0..15),
  ``df`` (descriptor flags, 0..63), ``adv`` (advice, 0..5), ``fam``
  (address family, 0..1), ``shut`` (shutdown type, 0..2), ``table`` (which
  table ``drop`` takes from), ``slot`` (a slot of that table);
- ``buf``: the length of a buffer the guest builds (kept small: a guest
  list is guest memory);
- ``path`` and ``text``: strings, passed unchanged.

A slot at or past ``DROPPED`` is a *forged* handle: the guest wraps a handle
number of its choosing in an object of the expected resource class, and the
host receives that number.  From ``DROPPED`` to ``2 * DROPPED - 1`` the number
is one the guest dropped earlier in the sequence (a stale handle, maybe
reused since by another resource); from ``2 * DROPPED`` on it is
``slot - 2 * DROPPED`` (0, 1, 2**31, 2**32-1...: never issued, or of another
type).
"""

RECENT = 500
DROPPED = 1000

TABLES = ("desc", "dirs", "in", "out", "poll", "err", "tcp", "udp", "net")

OPS = (
    # wasi:filesystem
    ("get-directories", ()),
    ("open-at", ("desc", "pf", "path", "of", "df")),
    ("read-via-stream", ("desc", "u64")),
    ("write-via-stream", ("desc", "u64")),
    ("append-via-stream", ("desc",)),
    ("advise", ("desc", "u64", "u64", "adv")),
    ("sync-data", ("desc",)),
    ("get-flags", ("desc",)),
    ("get-type", ("desc",)),
    ("set-size", ("desc", "u64")),
    ("set-times", ("desc", "ts", "ts")),
    ("read", ("desc", "u64", "u64")),
    ("write", ("desc", "buf", "u64")),
    ("read-directory", ("desc",)),
    ("sync", ("desc",)),
    ("create-directory-at", ("desc", "path")),
    ("stat", ("desc",)),
    ("stat-at", ("desc", "pf", "path")),
    ("set-times-at", ("desc", "pf", "path", "ts", "ts")),
    ("link-at", ("desc", "pf", "path", "desc2", "path")),
    ("readlink-at", ("desc", "path")),
    ("remove-directory-at", ("desc", "path")),
    ("rename-at", ("desc", "path", "desc2", "path")),
    ("symlink-at", ("desc", "text", "path")),
    ("unlink-file-at", ("desc", "path")),
    ("is-same-object", ("desc", "desc2")),
    ("metadata-hash", ("desc",)),
    ("metadata-hash-at", ("desc", "pf", "path")),
    ("read-directory-entry", ("dirs",)),
    ("filesystem-error-code", ("err",)),
    # wasi:io
    ("input-read", ("in", "u64")),
    ("input-blocking-read", ("in", "u64")),
    ("input-skip", ("in", "u64")),
    ("input-blocking-skip", ("in", "u64")),
    ("input-subscribe", ("in",)),
    ("output-check-write", ("out",)),
    ("output-write", ("out", "buf")),
    ("output-blocking-write-and-flush", ("out", "buf")),
    ("output-flush", ("out",)),
    ("output-blocking-flush", ("out",)),
    ("output-subscribe", ("out",)),
    ("output-write-zeroes", ("out", "u64")),
    ("output-blocking-write-zeroes-and-flush", ("out", "u64")),
    ("output-splice", ("out", "in", "u64")),
    ("output-blocking-splice", ("out", "in", "u64")),
    ("error-to-debug-string", ("err",)),
    ("pollable-ready", ("poll",)),
    ("pollable-block", ("poll",)),
    ("poll", ("polls",)),
    # wasi:clocks
    ("monotonic-now", ()),
    ("monotonic-resolution", ()),
    ("subscribe-instant", ("u64",)),
    ("subscribe-duration", ("u64",)),
    ("wall-now", ()),
    ("wall-resolution", ()),
    # wasi:random
    ("get-random-bytes", ("u64",)),
    ("get-random-u64", ()),
    ("get-insecure-random-bytes", ("u64",)),
    ("get-insecure-random-u64", ()),
    ("insecure-seed", ()),
    # wasi:cli
    ("get-environment", ()),
    ("get-arguments", ()),
    ("initial-cwd", ()),
    ("get-stdin", ()),
    ("get-stdout", ()),
    ("get-stderr", ()),
    ("get-terminals", ()),
    # wasi:sockets (the host refuses every address, or sockets altogether: never any traffic)
    ("instance-network", ()),
    ("create-tcp-socket", ("fam",)),
    ("create-udp-socket", ("fam",)),
    ("tcp-start-bind", ("tcp", "net", "addr")),
    ("tcp-start-connect", ("tcp", "net", "addr")),
    ("tcp-start-listen", ("tcp",)),
    ("tcp-set-listen-backlog-size", ("tcp", "u64")),
    ("tcp-set-keep-alive-idle-time", ("tcp", "u64")),
    ("tcp-set-keep-alive-enabled", ("tcp", "u8")),
    ("tcp-set-hop-limit", ("tcp", "u8")),
    ("tcp-set-receive-buffer-size", ("tcp", "u64")),
    ("tcp-getters", ("tcp",)),
    ("tcp-shutdown", ("tcp", "shut")),
    ("tcp-subscribe", ("tcp",)),
    ("udp-start-bind", ("udp", "net", "addr")),
    ("udp-stream", ("udp", "u8", "addr")),
    ("udp-getters", ("udp",)),
    ("udp-subscribe", ("udp",)),
    # handles
    ("drop", ("table", "slot")),
)

CODES = {name: code for code, (name, _kinds) in enumerate(OPS)}
