"""``python -m tracklet ...`` is the ``tracklet`` command."""

import sys

from tracklet.cli import main

sys.exit(main())
