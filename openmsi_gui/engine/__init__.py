"""The Qt-free transfer engine: chunking, wire format, registries, Kafka I/O.

Nothing under this package may import Qt; an import-linter contract in
``pyproject.toml`` (checked by the test suite) enforces it.
"""
