"""``python -m wasmcomponent.bindgen app.wasm --out DIR [--name PKG]``."""

import argparse
import sys

from . import add_arguments, main


def run() -> int:
    """Parse the command line and generate; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m wasmcomponent.bindgen", description="Generate typed Python bindings.")
    add_arguments(parser)
    return main(parser.parse_args())


if __name__ == "__main__":  # importing this module (as a package walk does) must not run it
    sys.exit(run())
