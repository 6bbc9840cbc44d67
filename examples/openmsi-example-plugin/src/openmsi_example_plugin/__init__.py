"""An example OpenMSI GUI processor plugin: a short summary of each file received.

Installed beside OpenMSI GUI (``pip install ./examples/openmsi-example-plugin``,
or ``pip install --target <data folder>/plugins ...`` for the installed app),
it is listed by ``openmsi plugins`` and chosen with ``--then-plugin file-summary``
or in a destination's "After each file: a Python plugin".
"""

from __future__ import annotations

import hashlib

from openmsi_gui.engine.processing.api import FileToProcess, ProcessingResult

HEAD_BYTES = 4096
"""How much of the file's beginning is hashed (a quick fingerprint of its header)."""


class FileSummary:
    """Size, line count and a hash of the first bytes of each file, as a JSON object.

    OpenMSI GUI makes one with no arguments and calls :meth:`process` once per
    verified file, in a child process of its own: an exception here fails that
    file's processing (with the exception's words as the reason), never the download.
    """

    name = "file-summary"
    version = "1.0.0"

    def process(self, file: FileToProcess) -> ProcessingResult:
        """Read the file once; return its summary, or a failure for an empty file."""
        size = lines = 0
        head, last = bytearray(), b""
        with open(file.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                if len(head) < HEAD_BYTES:
                    head += block[:HEAD_BYTES - len(head)]
                size += len(block)
                lines += block.count(b"\n")
                last = block[-1:]
        if size == 0:
            return ProcessingResult.failure("The file is empty: there is nothing to summarise.")
        if last != b"\n":
            lines += 1  # a last line without its newline counts too
        return ProcessingResult.success({
            "size": size,
            "lines": lines,
            "head_sha256": hashlib.sha256(head).hexdigest(),
            "head_bytes": len(head),
            "sample": file.metadata.get("sample"),
        })
