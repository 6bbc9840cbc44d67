"""The PySide6 tray application (console/GUI script ``openmsi-gui``)."""
