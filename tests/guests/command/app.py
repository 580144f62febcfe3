"""A `wasi:cli/run` command for the WASI host tests: argv[1] selects the outcome."""

import sys

import wit_world.exports
from componentize_py_types import Err


class Run(wit_world.exports.Run):
    def run(self) -> None:
        mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
        print("command running:", " ".join(sys.argv[1:]))
        sys.stdout.flush()
        if mode == "err":
            raise Err(None)
        if mode == "exit0":
            sys.exit(0)
        if mode == "exit3":
            sys.exit(3)
