"""``python -m lkmrs_sched``."""

import sys

from lkmrs_sched.cli import main

sys.exit(main())
