"""Unit tests for the chunk wire format (openmsi_gui.engine.wire)."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import msgpack
import pytest

from openmsi_gui.engine import wire
from openmsi_gui.engine.wire import BadMessage, Chunk

DATA = b"hello, chunk"
DATA_HASH = hashlib.sha512(DATA).digest()
FILE_HASH = hashlib.sha512(b"the whole file").digest()


def fields(**overrides: Any) -> list[Any]:
    """The 10 fields of a valid chunk message, with some replaced by name."""
    values: dict[str, Any] = {
        "filename": "name.txt",
        "file_hash": FILE_HASH,
        "chunk_hash": DATA_HASH,
        "offset": 0,
        "chunk_i": 1,
        "n_chunks": 1,
        "subdir": "a/b",
        "filename_append": "",
        "data": DATA,
        "file_mtime": 1_700_000_000.5,
    }
    unknown = overrides.keys() - values.keys()
    assert not unknown, unknown
    values.update(overrides)
    return list(values.values())


def pack(value: object) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def make_chunk(**overrides: Any) -> Chunk:
    return Chunk(*fields(**overrides))


# -- keys ------------------------------------------------------------------


def test_key_at_root_has_leading_underscore() -> None:
    assert wire.make_key("", "name", 1, 3) == "_name_chunk_1_of_3"


def test_key_in_subdir_replaces_slashes() -> None:
    assert wire.make_key("a/b", "name", 2, 5) == "a_b_name_chunk_2_of_5"


# -- round trips -----------------------------------------------------------


def test_encode_decode_round_trip() -> None:
    chunk = make_chunk(filename_append="_x", offset=4096, chunk_i=2, n_chunks=3)
    decoded = wire.decode_chunk(wire.encode_chunk(chunk))
    assert decoded == chunk


def test_encode_writes_ten_fields() -> None:
    raw = msgpack.unpackb(wire.encode_chunk(make_chunk()), raw=False)
    assert isinstance(raw, list)
    assert len(raw) == 10
    assert raw == fields()


def test_encode_writes_mtime_as_float() -> None:
    raw = msgpack.unpackb(wire.encode_chunk(make_chunk(file_mtime=5)), raw=False)
    assert isinstance(raw[9], float)
    assert raw[9] == 5.0


def test_decode_nine_fields_means_mtime_zero() -> None:
    chunk = wire.decode_chunk(pack(fields()[:9]))
    assert chunk.file_mtime == 0.0
    assert chunk.data == DATA
    assert chunk.filename == "name.txt"


def test_decode_accepts_integer_mtime() -> None:
    chunk = wire.decode_chunk(pack(fields(file_mtime=12)))
    assert chunk.file_mtime == 12.0
    assert isinstance(chunk.file_mtime, float)


def test_decode_tolerates_hex_digests() -> None:
    chunk = wire.decode_chunk(pack(fields(file_hash=FILE_HASH.hex(), chunk_hash=DATA_HASH.hex())))
    assert chunk.file_hash == FILE_HASH
    assert chunk.chunk_hash == DATA_HASH


def test_decode_accepts_utf8_text_sent_as_bytes() -> None:
    chunk = wire.decode_chunk(pack(fields(filename="ü.txt".encode(), subdir=b"s")))
    assert chunk.filename == "ü.txt"
    assert chunk.subdir == "s"


def test_decode_empty_file_chunk() -> None:
    empty = hashlib.sha512(b"").digest()
    chunk = wire.decode_chunk(pack(fields(data=b"", chunk_hash=empty, file_hash=empty)))
    assert chunk.data == b""


def test_decode_without_verify_skips_chunk_hash() -> None:
    value = pack(fields(data=b"tampered"))
    with pytest.raises(BadMessage):
        wire.decode_chunk(value)
    assert wire.decode_chunk(value, verify=False).data == b"tampered"


# -- bad messages ----------------------------------------------------------

BAD_VALUES: dict[str, tuple[bytes | None, str]] = {
    "garbage bytes": (b"\xc1\xc1\xc1 definitely not msgpack", "msgpack"),
    "trailing garbage": (pack(fields()) + b"\x00junk", "msgpack"),
    "empty value": (b"", "empty"),
    "None value": (None, "empty"),
    "dict": (pack({"filename": "x"}), "list"),
    "int": (pack(7), "list"),
    "string": (pack("hello"), "list"),
    "8 fields": (pack(fields()[:8]), "9 or 10"),
    "11 fields": (pack([*fields(), 0]), "9 or 10"),
    "empty list": (pack([]), "9 or 10"),
    "filename int": (pack(fields(filename=3)), "filename"),
    "filename None": (pack(fields(filename=None)), "filename"),
    "filename non-UTF-8 bin": (pack(fields(filename=b"\xff\xfe.txt")), "UTF-8"),
    "subdir list": (pack(fields(subdir=["a"])), "subdir"),
    "subdir non-UTF-8 bin": (pack(fields(subdir=b"\xc0\x80")), "UTF-8"),
    "filename_append int": (pack(fields(filename_append=1)), "filename_append"),
    "data str": (pack(fields(data="text")), "data"),
    "data None": (pack(fields(data=None)), "data"),
    "file_hash short": (pack(fields(file_hash=b"\x00" * 63)), "file_hash"),
    "file_hash long": (pack(fields(file_hash=b"\x00" * 65)), "file_hash"),
    "file_hash int": (pack(fields(file_hash=5)), "file_hash"),
    "file_hash bad hex": (pack(fields(file_hash="zz" * 64)), "file_hash"),
    "file_hash short hex": (pack(fields(file_hash=FILE_HASH.hex()[:-2])), "file_hash"),
    "chunk_hash None": (pack(fields(chunk_hash=None)), "chunk_hash"),
    "offset float": (pack(fields(offset=0.0)), "chunk_offset_write"),
    "offset str": (pack(fields(offset="0")), "chunk_offset_write"),
    "chunk_i float": (pack(fields(chunk_i=1.0)), "chunk_i"),
    "n_chunks str": (pack(fields(n_chunks="1")), "n_total_chunks"),
    "chunk_i bool": (pack(fields(chunk_i=True)), "chunk_i"),
    "n_chunks bool": (pack(fields(n_chunks=True)), "n_total_chunks"),
    "offset bool": (pack(fields(offset=False)), "chunk_offset_write"),
    "chunk_i 0": (pack(fields(chunk_i=0, n_chunks=3)), "outside"),
    "chunk_i negative": (pack(fields(chunk_i=-1, n_chunks=3)), "outside"),
    "chunk_i > n": (pack(fields(chunk_i=4, n_chunks=3)), "outside"),
    "n_chunks 0": (pack(fields(chunk_i=1, n_chunks=0)), "n_total_chunks"),
    "n_chunks negative": (pack(fields(chunk_i=1, n_chunks=-2)), "n_total_chunks"),
    "negative offset": (pack(fields(offset=-1)), "negative offset"),
    "bad chunk hash": (pack(fields(data=b"hello, chunK")), "SHA-512"),
    "chunk hash of other data": (pack(fields(chunk_hash=FILE_HASH)), "SHA-512"),
    "mtime NaN": (pack(fields(file_mtime=math.nan)), "file_mtime"),
    "mtime inf": (pack(fields(file_mtime=math.inf)), "file_mtime"),
    "mtime -inf": (pack(fields(file_mtime=-math.inf)), "file_mtime"),
    "mtime str": (pack(fields(file_mtime="0")), "file_mtime"),
    "mtime None": (pack(fields(file_mtime=None)), "file_mtime"),
    "mtime bool": (pack(fields(file_mtime=True)), "file_mtime"),
}


@pytest.mark.parametrize(("value", "keyword"), list(BAD_VALUES.values()), ids=list(BAD_VALUES))
def test_bad_message(value: bytes | None, keyword: str) -> None:
    with pytest.raises(BadMessage, match=keyword):
        wire.decode_chunk(value)


def test_non_utf8_raw_str_is_bad_message() -> None:
    # Packed with the old "raw" string type: msgpack itself fails to decode it as str.
    value = msgpack.packb(fields(filename=b"\xff\xfe.txt"), use_bin_type=False)
    with pytest.raises(BadMessage):
        wire.decode_chunk(value)


def test_bad_message_is_a_value_error() -> None:
    assert issubclass(BadMessage, ValueError)


def test_bad_chunk_hash_reason_names_the_file() -> None:
    with pytest.raises(BadMessage, match=r"chunk 1 of 'a/b/name\.txt'"):
        wire.decode_chunk(pack(fields(data=b"tampered")))


# -- sizes -----------------------------------------------------------------


@pytest.mark.parametrize("size", [1024, 2048, 16384, wire.DEFAULT_CHUNK_SIZE, wire.MAX_CHUNK_SIZE])
def test_check_chunk_size_accepts_powers_of_two(size: int) -> None:
    assert wire.check_chunk_size(size) == size


@pytest.mark.parametrize("size", [0, -1024, 1, 512, 1023, 1000, 3000, 524_287,
                                  wire.MAX_CHUNK_SIZE * 2, wire.MAX_CHUNK_SIZE + 1])
def test_check_chunk_size_rejects(size: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        wire.check_chunk_size(size)


@pytest.mark.parametrize(("size", "expected"), [
    (0, 1), (1, 1), (1023, 1), (1024, 1), (1025, 2), (2048, 2), (10 * 1024 + 1, 11),
])
def test_n_chunks_for(size: int, expected: int) -> None:
    assert wire.n_chunks_for(size, 1024) == expected


# -- relpath ---------------------------------------------------------------


@pytest.mark.parametrize(("subdir", "filename", "append", "expected"), [
    ("", "data.csv", "", "data.csv"),
    ("a/b", "data.csv", "", "a/b/data.csv"),
    ("", "data.csv", "_v2", "data_v2.csv"),
    ("a/b", "data.csv", "_v2", "a/b/data_v2.csv"),
    ("", "archive.tar.gz", "_x", "archive.tar_x.gz"),
    ("", "README", "_x", "README_x"),
    ("", ".hidden", "_x", ".hidden_x"),
])
def test_chunk_relpath(subdir: str, filename: str, append: str, expected: str) -> None:
    chunk = make_chunk(subdir=subdir, filename=filename, filename_append=append)
    assert chunk.relpath == expected
