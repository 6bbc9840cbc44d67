"""``openmsi watch --after-delivery keep|move|delete --archive DIR --min-age 7d --preview``."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from openmsi_gui.cli.main import main
from openmsi_gui.cli.parser import build_parser
from openmsi_gui.engine.deliveries import DeliveryBook
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus
from openmsi_gui.engine.registry import Registry


def _args(folder: Path, *more: str) -> list[str]:
    return ["watch", str(folder), "--bootstrap-servers", "127.0.0.1:1", "--topic", "t", *more]


def test_the_flags_are_parsed(tmp_path: Path) -> None:
    args = build_parser().parse_args(_args(tmp_path, "--after-delivery", "move", "--archive",
                                           "/srv/done", "--min-age", "7d", "--preview"))
    assert (args.after_delivery, args.archive, args.min_age, args.preview) == (
        "move", Path("/srv/done"), 7 * 86400.0, True)
    args = build_parser().parse_args(_args(tmp_path))
    assert (args.after_delivery, args.archive, args.min_age) == ("keep", None, 0.0)


@pytest.mark.parametrize(("flags", "says"), [
    (["--after-delivery", "delete"], "--expect NAME"),
    (["--after-delivery", "move", "--expect", "a"], "--archive DIR"),
    (["--after-delivery", "move", "--expect", "a", "--archive", "{folder}/done"], "outside"),
    (["--archive", "/srv/done"], "--after-delivery move"),
])
def test_unusable_flags_are_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         flags: list[str], says: str) -> None:
    flags = [f.replace("{folder}", str(tmp_path)) for f in flags]
    assert main(["--data-dir", str(tmp_path / "data"), *_args(tmp_path, *flags)]) == 2
    assert says in capsys.readouterr().err


def test_preview_lists_what_would_go_and_touches_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    data = tmp_path / "data"
    registry = Registry(data / "registry.sqlite3")
    for name, body, confirmed in (("a.tif", b"a" * 2048, True), ("b.tif", b"b", False)):
        (outbox / name).write_bytes(body)
        st = (outbox / name).stat()
        digest = hashlib.sha512(body).digest()
        upload_id, _ = registry.start_upload("t", os.path.realpath(outbox), name, st.st_size,
                                             st.st_mtime_ns, digest, 4096, 1)
        registry.finish_upload(upload_id)
        if confirmed:
            DeliveryBook(registry).record(Receipt("archive", "t", name, digest, len(body), 0.0,
                                                  "/x", time.time(), ReceiptStatus.STORED))
    registry.close()
    code = main(["--data-dir", str(data), *_args(outbox, "--expect", "archive",
                                                 "--after-delivery", "delete", "--preview")])
    out = capsys.readouterr().out
    assert code == 0
    assert "a.tif\t2 KiB\tdeleted" in out
    assert "b.tif" not in out
    assert "1 file would be deleted now, freeing 2 KiB" in out
    assert (outbox / "a.tif").exists()
