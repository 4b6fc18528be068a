"""``python -m prm_viewer``: the command line (:mod:`prm_viewer.cli`)."""

import sys

from prm_viewer.cli import main

if __name__ == "__main__":
    sys.exit(main())
