"""PyInstaller entry point of ``openmsi-gui`` (the same as the ``openmsi-gui`` gui-script)."""

import sys

from openmsi_gui.ui.application import main

if __name__ == "__main__":
    sys.exit(main())
