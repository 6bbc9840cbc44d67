"""PyInstaller entry point of ``openmsi`` (the same as the ``openmsi`` console script)."""

import sys

from openmsi_gui.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
