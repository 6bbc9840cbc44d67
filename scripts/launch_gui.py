"""PyInstaller entry point of ``openmsi-gui`` (the same as the ``openmsi-gui`` gui-script)."""

import sys

from openmsi_gui.platform.bundle import missing_library, use_bundled_libraries

use_bundled_libraries()  # before anything loads librdkafka or libsodium
try:
    from openmsi_gui.ui.application import main
except (ImportError, OSError) as exc:  # a library missing from the installation
    sentence = missing_library(exc)
    if sentence is None:
        raise
    # The windowed app has no terminal: say it in a message box too.
    from PySide6.QtWidgets import QApplication, QMessageBox

    print(f"openmsi-gui: error: {sentence}", file=sys.stderr, flush=True)
    _app = QApplication(sys.argv[:1])
    QMessageBox.critical(None, "OpenMSI cannot start", sentence[0].upper() + sentence[1:] + ".")
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(main())
