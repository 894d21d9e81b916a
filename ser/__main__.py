"""`python -m ser` is the same as the `ser` console script."""

import sys

from ser.cli import main

sys.exit(main())
