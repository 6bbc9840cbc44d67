"""PyInstaller entry point of ``openmsi`` (the same as the ``openmsi`` console script)."""

import sys

from openmsi_gui.platform.bundle import use_bundled_libraries

use_bundled_libraries()  # before anything loads librdkafka or libsodium
if sys.argv[1:2] == ["_plugin-host"]:  # a plugin's child process: only what it needs
    from openmsi_gui.engine.processing.plugin_host import main as host_plugin

    sys.exit(host_plugin())
try:
    from openmsi_gui.cli.main import main
except (ImportError, OSError) as exc:  # a library missing from the installation
    from openmsi_gui.platform.startup import exit_missing_library

    exit_missing_library(exc, "openmsi")

if __name__ == "__main__":
    sys.exit(main())
