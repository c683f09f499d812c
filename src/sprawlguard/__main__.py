"""`python -m sprawlguard`."""

import sys

from sprawlguard.cli import main

sys.exit(main())
