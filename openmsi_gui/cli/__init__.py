"""The headless command-line face of the engine (console script ``openmsi``)."""
