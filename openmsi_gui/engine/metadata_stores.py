"""Where a received file's information (metadata) is kept: S3 object metadata, sidecar files.

**S3**: each field becomes user metadata (``x-amz-meta-<key>``). HTTP headers
carry ASCII only, so keys are lowercased (S3 does so anyway) and values are
percent-encoded UTF-8 where needed: ``%``, control characters and every
non-ASCII character are encoded, all else is left as it is
(``Grüße`` → ``Gr%C3%BC%C3%9Fe``; :func:`urllib.parse.unquote` reverses it).
``sha512`` and ``mtime`` are ours and win over fields of the same name. S3
allows 2 KB of user metadata per object: fields that do not fit are left out,
with a warning (the sidecar and the history keep them all).

**Sidecar**: ``<file name>.metadata.json`` beside the file, the fields as one
JSON object, written to a hidden temporary file first and renamed into place
(never a half-written sidecar), and only inside the destination folder.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from openmsi_gui.engine.safepath import resolve_inside
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".metadata.json"
S3_METADATA_BYTES = 2048
"""S3's limit on an object's user metadata (keys and values, UTF-8)."""
_SAFE_VALUE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
_SAFE_KEY = "-_."


def s3_key(key: str) -> str:
    """A field name as S3 user metadata can carry it (lowercase, percent-encoded)."""
    return quote(key.lower(), safe=_SAFE_KEY)


def s3_value(value: str) -> str:
    """A field value as an HTTP header can carry it (ASCII; see the module's rule)."""
    return quote(value, safe=_SAFE_VALUE)


def s3_metadata(fields: Mapping[str, str], reserved: Mapping[str, str],
                relpath: str = "") -> dict[str, str]:
    """``reserved`` (ours) plus the fields that fit in :data:`S3_METADATA_BYTES`, encoded."""
    out = dict(reserved)
    used = sum(len(k) + len(v) for k, v in out.items())
    left_out = 0
    for key, value in fields.items():
        name, text = s3_key(key), s3_value(value)
        if name in out:  # ours, or the same name in another case
            left_out += 1
            continue
        if used + len(name) + len(text) > S3_METADATA_BYTES:
            left_out += 1
            continue
        out[name] = text
        used += len(name) + len(text)
    if left_out:
        log.warning("%d fields of the information of %s are not in its S3 object metadata "
                    "(S3 allows %d bytes, or the name was taken)", left_out, escaped(relpath),
                    S3_METADATA_BYTES)
    return out


def sidecar_relpath(relpath: str) -> str:
    """The relative path of the sidecar of ``relpath``."""
    return relpath + SIDECAR_SUFFIX


def write_sidecar(dest: Path, relpath: str, fields: Mapping[str, str]) -> Path:
    """Write ``fields`` as the sidecar of ``relpath`` under ``dest``, atomically.

    The caller fsyncs the folder (with the file's rename).

    Raises:
        UnsafePath: the sidecar's name is not allowed, or would land outside ``dest``.
        OSError: it could not be written.
    """
    target = resolve_inside(dest, sidecar_relpath(relpath))
    temp = target.with_name(f".openmsi-{os.getpid()}-{target.name[:40]}.partial")
    data = json.dumps(dict(fields), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    try:
        with temp.open("w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target
