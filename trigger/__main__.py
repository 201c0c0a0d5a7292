"""``python -m trigger``."""

import sys

from trigger.cli import main

sys.exit(main())
