"""``python -m openmsi_gui`` runs the ``openmsi`` command line."""

import sys

from openmsi_gui.cli.main import main

sys.exit(main())
