"""``python -m wasmcomponent``: the same as the ``wasmcomponent`` console script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
