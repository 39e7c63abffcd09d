"""`python -m harness`: the kharness command line."""

import sys

from harness.cli.main import main

sys.exit(main())
