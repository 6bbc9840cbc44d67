"""The rules of the information sent with each file (Qt-free, no broker)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from openmsi_gui.engine.metadata import (
    HEADER,
    MAX_FIELDS,
    MAX_HEADER_BYTES,
    FolderMetadata,
    MetadataError,
    check_fields,
    compile_path_regex,
    decode_header,
    encode_header,
    fields_from_path,
    header_value,
    parse_field,
    parse_fields,
)
from openmsi_gui.engine.metadata_stores import (
    S3_METADATA_BYTES,
    s3_metadata,
    s3_value,
    write_sidecar,
)
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus, open_receipt, seal_receipt, trusted
from openmsi_gui.engine.safepath import UnsafePath


def test_key_value_arguments() -> None:
    assert parse_field("operator=Ada = L") == ("operator", "Ada = L")
    assert parse_fields(["a=1", "b=", "a=2"]) == {"a": "2", "b": ""}
    for bad in ("no-equals", "=v", "bad key=v", "-x=v", "k=line\nbreak", "k" * 65 + "=v"):
        with pytest.raises(MetadataError) as info:
            parse_field(bad)
        assert "\n" not in str(info.value)


def test_bounds() -> None:
    with pytest.raises(MetadataError, match="at most"):
        check_fields({f"k{i}": "v" for i in range(MAX_FIELDS + 1)})
    with pytest.raises(MetadataError, match="bytes"):
        check_fields({f"k{i}": "é" * 1000 for i in range(8)})
    assert check_fields({"k": "v"}) == {"k": "v"}


def test_path_pattern() -> None:
    pattern = compile_path_regex(r"(?P<sample>S\d+)/(?:(?P<run>run\d+)/)?")
    assert fields_from_path(pattern, "data/S001/x.tif") == {"sample": "S001"}
    assert fields_from_path(pattern, "S002/run3/x.tif") == {"sample": "S002", "run": "run3"}
    assert fields_from_path(pattern, "other/x.tif") == {}
    assert compile_path_regex("") is None
    with pytest.raises(MetadataError, match="not a regular expression"):
        compile_path_regex("(unclosed")
    with pytest.raises(MetadataError, match="no named group"):
        compile_path_regex(r"S\d+")


def test_folder_fields_and_sample() -> None:
    metadata = FolderMetadata({"lab": "B2", "sample": "fixed"}, re.compile(r"(?P<run>r\d)/"))
    assert metadata.for_file("r1/x") == {"lab": "B2", "sample": "fixed", "run": "r1"}
    metadata.set_sample("S9")
    assert metadata.for_file("x") == {"lab": "B2", "sample": "S9"}
    waiting = FolderMetadata(require_sample=True)
    called: list[int] = []
    waiting.on_sample(lambda: called.append(1))
    assert waiting.for_file("x") is None
    waiting.set_sample("S1")
    assert waiting.for_file("x") == {"sample": "S1"}
    assert called == [1]


@pytest.mark.parametrize(("raw", "why"), [
    (b"x" * (MAX_HEADER_BYTES + 1), "bytes"),
    (b"\xff\xfe", "UTF-8 JSON"),
    (b"{not json", "UTF-8 JSON"),
    (b"[1, 2]", "not a JSON object"),
    (json.dumps({"a": {"b": "c"}}).encode(), "not text"),
    (json.dumps({"a": 1}).encode(), "not text"),
    (json.dumps({f"k{i}": "v" for i in range(MAX_FIELDS + 1)}).encode(), "more than"),
    (json.dumps({"k": "v" * 5000}).encode(), "too long"),
])
def test_hostile_headers_are_refused_whole(raw: bytes, why: str) -> None:
    reason = decode_header(raw)
    assert isinstance(reason, str)
    assert why in reason


def test_header_text_is_escaped() -> None:
    fields = decode_header(json.dumps({"a\x1b[2J": "x\r\ny\u202e"}).encode())
    assert fields == {"a\\x1b[2J": "x\\r\\ny\\u202e"}
    assert decode_header(encode_header({"Größe": "µm"})) == {"Größe": "µm"}
    assert header_value([("other", b"1"), (HEADER, b"{}"), (HEADER, b"2")]) == b"{}"
    assert header_value(None) is None


def test_s3_metadata_is_ascii_and_bounded() -> None:
    out = s3_metadata({"Sample": "Grüße 100%", "sha512": "forged", "big": "x" * 3000},
                      {"sha512": "ab", "mtime": "1.0"}, "a.txt")
    assert out == {"sha512": "ab", "mtime": "1.0", "sample": "Gr%C3%BC%C3%9Fe 100%25"}
    assert unquote(out["sample"]) == "Grüße 100%"
    assert s3_value("tab\there") == "tab%09here"
    assert sum(len(k) + len(v) for k, v in out.items()) <= S3_METADATA_BYTES


def test_sidecar_is_written_inside_the_destination_only(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = write_sidecar(tmp_path, "sub/a.txt", {"k": "v"})
    assert path == tmp_path / "sub/a.txt.metadata.json"
    assert json.loads(path.read_text("utf-8")) == {"k": "v"}
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.txt.metadata.json"]
    with pytest.raises(UnsafePath):
        write_sidecar(tmp_path, "../a.txt", {})
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(UnsafePath):
        write_sidecar(tmp_path, "link/a.txt", {})


def test_receipts_carry_metadata_and_old_ones_still_verify() -> None:
    identity = SigningIdentity.generate("dest")
    trust = trusted(identity.public)
    plain = Receipt("dest", "t", "a.txt", b"\x01" * 64, 3, 1.0, "/x", 2.0, ReceiptStatus.STORED)
    with_meta = Receipt("dest", "t", "a.txt", b"\x01" * 64, 3, 1.0, "/x", 2.0,
                        ReceiptStatus.STORED, metadata='{"sample":"S1"}')
    assert open_receipt(seal_receipt(plain, identity), trust) == plain
    assert open_receipt(seal_receipt(with_meta, identity, sealed=True), trust) == with_meta


def test_nothing_is_sent_in_headers_on_an_encrypted_topic(tmp_path: Path) -> None:
    """KafkaCrypto encrypts keys and values, not headers: the information stays home."""
    from openmsi_gui.engine.events import EventBus
    from openmsi_gui.engine.kafka_config import KafkaConfig
    from openmsi_gui.engine.registry import Registry
    from openmsi_gui.engine.uploader import Uploader

    registry = Registry(tmp_path / "r.sqlite3")
    try:
        metadata = FolderMetadata({"lab": "B2"}, require_sample=True)
        config = KafkaConfig.for_bootstrap("127.0.0.1:9")
        plain = Uploader(config, "t", EventBus(), registry, metadata=metadata)
        sealed = Uploader(config, "t", EventBus(), registry, metadata=metadata,
                          cipher=object())  # type: ignore[arg-type]
        assert plain._metadata is metadata
        assert sealed._metadata is None  # and files do not wait for a sample either
    finally:
        registry.close()
