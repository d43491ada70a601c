"""Entry point of the packaged app: the same `recstudio` command (no arguments opens the window)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen app re-executes itself for child processes
    from recstudio.cli import main

    sys.exit(main())
