"""``python -m molgym.cli``: the ``molgym`` command."""

import sys

from molgym.cli import main

sys.exit(main())
