"""Qt-free glue to the operating system: start on login and service mode.

Nothing here imports Qt; the tray app (:mod:`openmsi_gui.ui`) and the
``openmsi`` command line (:mod:`openmsi_gui.cli`) both use it.
"""
