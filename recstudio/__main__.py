"""`python -m recstudio ...` (and `torchrun ... -m recstudio train ... --distributed`)."""

import sys

from recstudio.cli import main

sys.exit(main())
