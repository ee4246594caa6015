"""``python -m nvx_ft.bench``: see :mod:`nvx_ft.bench.driver`."""

import sys

from nvx_ft.bench.driver import main

sys.exit(main())
