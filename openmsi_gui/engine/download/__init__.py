"""The download side, in stages: see :mod:`openmsi_gui.engine.download.downloader`."""
