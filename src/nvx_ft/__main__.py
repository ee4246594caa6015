"""``python -m nvx_ft``: the ``nvx-ft`` command."""

import sys

from nvx_ft.cli import main

sys.exit(main())
