"""`python -m tracker`, and the `tracker` command (pyproject's script)."""

import gc
import sys

from .cli import main


def run() -> None:
    status = main()
    # The process ends: the interpreter's last collection would walk every object still alive
    # (a state's entries, the catalog) to free nothing; frozen ones it skips (0.1 s of a `state`).
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    run()
