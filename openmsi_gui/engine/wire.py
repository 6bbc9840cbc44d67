"""The chunk message format shared with OpenMSIStream.

Each chunk of a file travels as one Kafka message:

* **key**: UTF-8 ``<subdir with "/" as "_">_<filename>_chunk_<i>_of_<n>``;
* **value**: a msgpack array of 9 fields, or 10 with ``file_mtime``::

    [filename, file_hash, chunk_hash, chunk_offset_write, chunk_i,
     n_total_chunks, subdir_str, filename_append, data, file_mtime]

Hashes are raw SHA-512 digests, ``chunk_i`` is 1-based and ``subdir_str`` is a
POSIX path relative to the watched folder ("" at its root). We read 9 or 10
fields and always write 10.

Every decoded value is untrusted: :func:`decode_chunk` checks types, ranges
and the chunk hash, and raises :class:`BadMessage` with a readable reason.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import msgpack

from openmsi_gui.engine.untrusted import escaped

DEFAULT_CHUNK_SIZE = 524_288
HASH_SIZE = 64
MAX_CHUNK_SIZE = 1 << 30


class BadMessage(ValueError):
    """A Kafka message that is not a valid file chunk."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One decoded (and hash-checked) chunk of a file.

    Attributes:
        filename: the file's name, without folders.
        file_hash: SHA-512 digest of the whole file.
        chunk_hash: SHA-512 digest of ``data``.
        offset: where ``data`` goes in the file, in bytes.
        chunk_i: 1-based index of this chunk.
        n_chunks: how many chunks the file has.
        subdir: POSIX folder relative to the watched root, "" at the root.
        filename_append: suffix added to the name's stem (OpenMSIStream feature).
        data: the chunk's bytes.
        file_mtime: the source file's modification time, 0.0 if unknown.
    """

    filename: str
    file_hash: bytes
    chunk_hash: bytes
    offset: int
    chunk_i: int
    n_chunks: int
    subdir: str
    filename_append: str
    data: bytes
    file_mtime: float = 0.0

    @property
    def relpath(self) -> str:
        """The POSIX path of the file relative to the root, as sent (unchecked)."""
        name = self.filename
        if self.filename_append:
            stem, dot, ext = name.rpartition(".")
            if dot and stem:
                name = f"{stem}{self.filename_append}.{ext}"
            else:
                name += self.filename_append
        return f"{self.subdir}/{name}" if self.subdir else name


def check_chunk_size(chunk_size: int) -> int:
    """Return ``chunk_size`` if it is a power of two in a sane range.

    Raises:
        ValueError: otherwise, with a sentence saying what is allowed.
    """
    if chunk_size < 1024 or chunk_size > MAX_CHUNK_SIZE or chunk_size & (chunk_size - 1):
        raise ValueError(
            f"chunk size {chunk_size} is not allowed: use a power of two between 1024 and "
            f"{MAX_CHUNK_SIZE} bytes (the default is {DEFAULT_CHUNK_SIZE})"
        )
    return chunk_size


def n_chunks_for(size: int, chunk_size: int) -> int:
    """How many chunks a file of ``size`` bytes has (an empty file has one)."""
    return max(1, math.ceil(size / chunk_size))


def make_key(subdir: str, filename: str, chunk_i: int, n_chunks: int) -> str:
    """Build a chunk's message key exactly as OpenMSIStream does."""
    return f"{subdir.replace('/', '_')}_{filename}_chunk_{chunk_i}_of_{n_chunks}"


def encode_chunk(chunk: Chunk) -> bytes:
    """Serialise a chunk into the 10-field msgpack value."""
    return msgpack.packb(  # type: ignore[no-any-return]
        [
            chunk.filename,
            chunk.file_hash,
            chunk.chunk_hash,
            chunk.offset,
            chunk.chunk_i,
            chunk.n_chunks,
            chunk.subdir,
            chunk.filename_append,
            chunk.data,
            float(chunk.file_mtime),
        ],
        use_bin_type=True,
    )


def _text(value: object, field: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadMessage(f"{field} is not valid UTF-8") from exc
    if not isinstance(value, str):
        raise BadMessage(f"{field} should be text, not {type(value).__name__}")
    return value


def _digest(value: object, field: str) -> bytes:
    if isinstance(value, str):  # tolerate hex digests from other producers
        try:
            value = bytes.fromhex(value)
        except ValueError as exc:
            raise BadMessage(f"{field} is neither a digest nor hex") from exc
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise BadMessage(f"{field} is not a {HASH_SIZE}-byte SHA-512 digest")
    return value


def _int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadMessage(f"{field} should be an integer")
    return value


def decode_chunk(value: bytes | None, *, verify: bool = True) -> Chunk:
    """Parse and check a message value.

    Args:
        value: the raw Kafka message value.
        verify: check the chunk's SHA-512 against its data.

    Raises:
        BadMessage: if the value is not a well-formed, self-consistent chunk.
    """
    if not value:
        raise BadMessage("empty message value")
    try:
        fields = msgpack.unpackb(value, raw=False, strict_map_key=True, use_list=True)
    except Exception as exc:  # msgpack raises many types on garbage
        raise BadMessage(f"value is not msgpack ({type(exc).__name__})") from exc
    if not isinstance(fields, list) or len(fields) not in (9, 10):
        size = len(fields) if isinstance(fields, list) else type(fields).__name__
        raise BadMessage(f"value should be a list of 9 or 10 fields, got {size}")
    data = fields[8]
    if not isinstance(data, bytes):
        raise BadMessage("data field is not bytes")
    mtime = fields[9] if len(fields) == 10 else 0.0
    if isinstance(mtime, bool) or not isinstance(mtime, (int, float)) or not math.isfinite(mtime):
        raise BadMessage("file_mtime is not a number")
    chunk = Chunk(
        filename=_text(fields[0], "filename"),
        file_hash=_digest(fields[1], "file_hash"),
        chunk_hash=_digest(fields[2], "chunk_hash"),
        offset=_int(fields[3], "chunk_offset_write"),
        chunk_i=_int(fields[4], "chunk_i"),
        n_chunks=_int(fields[5], "n_total_chunks"),
        subdir=_text(fields[6], "subdir_str"),
        filename_append=_text(fields[7], "filename_append"),
        data=data,
        file_mtime=float(mtime),
    )
    if chunk.n_chunks < 1:
        raise BadMessage(f"n_total_chunks is {chunk.n_chunks}")
    if not 1 <= chunk.chunk_i <= chunk.n_chunks:
        raise BadMessage(f"chunk {chunk.chunk_i} is outside 1..{chunk.n_chunks}")
    if chunk.offset < 0:
        raise BadMessage(f"negative offset {chunk.offset}")
    if len(data) > MAX_CHUNK_SIZE:
        raise BadMessage(f"chunk of {len(data)} bytes is larger than {MAX_CHUNK_SIZE}")
    if verify and hashlib.sha512(data).digest() != chunk.chunk_hash:
        raise BadMessage(f"chunk {chunk.chunk_i} of '{escaped(chunk.relpath)}' fails its "
                         "SHA-512 check")
    return chunk
