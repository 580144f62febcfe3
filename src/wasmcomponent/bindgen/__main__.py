"""``python -m wasmcomponent.bindgen app.wasm --out DIR [--name PKG]``."""

import argparse
import sys

from . import add_arguments, main

parser = argparse.ArgumentParser(prog="python -m wasmcomponent.bindgen", description="Generate typed Python bindings.")
add_arguments(parser)
sys.exit(main(parser.parse_args()))
