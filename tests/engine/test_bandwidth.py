"""Bandwidth limits: rclone's --bwlimit syntax, timetables, token buckets, and a real transfer."""

from __future__ import annotations

import hashlib
import os
import threading
from datetime import datetime
from pathlib import Path

import pytest
from helpers import tree_files, wait_until

from openmsi_gui.engine.bandwidth import (
    OFF,
    BandwidthError,
    Limit,
    Pacer,
    Rates,
    Timetable,
    TokenBucket,
    parse_rate,
)
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import Direction, EventBus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.s3 import S3Error, S3Location, S3Store
from openmsi_gui.engine.upload_types import UploadOutcome
from openmsi_gui.engine.uploader import Uploader

MiB = 1024 * 1024
MONDAY = datetime(2026, 11, 30)  # a Monday, 00:00


@pytest.mark.parametrize(("text", "rate"), [
    ("8M", 8 * MiB), ("8m", 8 * MiB), ("512k", 512 * 1024), ("512K", 512 * 1024),
    ("1.5MiB", 1.5 * MiB), ("2Ki", 2048), ("1G", 1024 * MiB), ("100", 100 * 1024),
    ("100B", 100), ("off", None), ("OFF", None), ("0", None), (".5M", MiB / 2)])
def test_rates_as_rclone_reads_them(text: str, rate: float | None) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", [
    "8MB", "fast", "-1M", "8M:", "08:00", "08:00,", "25:00,1M", "08:60,1M", "8:00,1M",
    "Mon08:00,1M", "Xyz-08:00,1M", "08:00,4M 18:00", "08:00,4M,1M"])
def test_what_is_not_a_limit_is_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(BandwidthError) as caught:
        Timetable.parse(text)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"cannot read the bandwidth limit {text!r}")
    assert "08:00,4M 18:00,off" in message


def test_a_constant_and_an_upload_download_pair() -> None:
    assert Timetable.parse("8M").at(MONDAY) == Rates(8 * MiB, 8 * MiB)
    assert Timetable.parse("10M:1M").at(MONDAY) == Rates(10 * MiB, MiB)
    assert Timetable.parse("10M:off").at(MONDAY) == Rates(10 * MiB, None)
    assert Timetable.parse("off") is OFF
    assert Timetable.parse("") is OFF
    assert OFF.is_off
    assert str(Timetable.parse("10M:1M")) == "10M:1M"
    assert str(Timetable.parse("1.5M")) == "1.5M"


def test_a_daily_timetable_wraps_round_midnight() -> None:
    table = Timetable.parse("08:00,4M 18:00,off")
    assert table.at(MONDAY.replace(hour=7, minute=59)).up is None  # Sunday 18:00 holds
    assert table.at(MONDAY.replace(hour=8)).up == 4 * MiB
    assert table.at(MONDAY.replace(hour=17, minute=59)).down == 4 * MiB
    assert table.at(MONDAY.replace(hour=18)).up is None
    assert str(table) == "08:00,4M 18:00,off"
    assert str(Timetable.parse("08:00,512k;12:00,10M")) == "08:00,512K 12:00,10M"


def test_a_weekly_timetable_wraps_round_the_week() -> None:
    table = Timetable.parse("Mon-08:00,4M Sat-00:00,off")
    assert table.at(MONDAY.replace(hour=7)).up is None  # still Saturday's entry
    assert table.at(MONDAY.replace(hour=8)).up == 4 * MiB
    assert table.at(datetime(2026, 12, 4, 23, 59)).up == 4 * MiB  # Friday night
    assert table.at(datetime(2026, 12, 5, 0, 0)).up is None  # Saturday
    assert str(table) == "Mon-08:00,4M Sat-00:00,off"
    mixed = Timetable.parse("Mon-00:00,512 12:00,1M Sun-20:00,off")
    assert mixed.at(MONDAY.replace(hour=11)).up == 512 * 1024
    assert mixed.at(datetime(2026, 12, 2, 13, 0)).up == MiB  # Wednesday afternoon
    assert mixed.at(datetime(2026, 12, 6, 21, 0)).up is None  # Sunday night
    assert Timetable.parse(str(mixed)) == mixed
    assert Timetable.parse("monday-08:00,1M").at(MONDAY.replace(hour=9)).up == MiB


def test_of_two_entries_at_one_time_the_last_written_wins() -> None:
    assert Timetable.parse("08:00,1M 08:00,2M").at(MONDAY.replace(hour=9)).up == 2 * MiB


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_token_bucket_books_bytes_and_says_how_long_to_wait() -> None:
    clock = Clock()
    rate: list[float | None] = [MiB]
    bucket = TokenBucket(lambda: rate[0], burst=0.25, clock=clock)
    assert bucket.take(MiB) == pytest.approx(1.0)
    assert bucket.take(MiB) == pytest.approx(2.0)  # served in turn
    clock.now += 2.0
    assert bucket.delay() == 0
    clock.now += 10.0  # a quiet time saves at most the burst
    assert bucket.take(MiB) == pytest.approx(0.75)
    rate[0] = None  # "off": nothing is counted, the debt is forgiven
    assert bucket.take(100 * MiB) == 0
    assert bucket.delay() == 0
    rate[0] = 2 * MiB
    assert bucket.take(MiB) == pytest.approx(0.5)


def test_a_pacer_takes_from_the_job_limit_and_the_app_wide_one() -> None:
    clock = Clock()
    job = Limit(Timetable.parse("4M:1M"), clock=clock)
    app = Limit(Timetable.parse("2M"), clock=clock)
    up, down = Pacer(Direction.UPLOAD, [job, app]), Pacer(Direction.DOWNLOAD, [job, app])
    assert up.rate() == 2 * MiB
    assert down.rate() == MiB
    down.account(MiB)
    assert down.delay() == pytest.approx(1.0)
    assert down.waits == 1
    other = Pacer(Direction.DOWNLOAD, [app])  # another job shares the app-wide bucket
    assert other.delay() == pytest.approx(0.5)
    app.set(OFF)
    assert other.delay() == 0
    assert down.delay() == pytest.approx(1.0)
    stop = threading.Event()
    stop.set()
    assert not up.pace(MiB, stop)  # a stopped job does not wait


def test_a_timetable_limit_follows_the_clock() -> None:
    now = [MONDAY.replace(hour=7)]
    limit = Limit(Timetable.parse("08:00,4M 18:00,off"), now=lambda: now[0])
    assert limit.rate(Direction.UPLOAD) is None
    now[0] = MONDAY.replace(hour=9)
    assert limit.rate(Direction.DOWNLOAD) == 4 * MiB


def test_a_limit_slows_a_real_transfer_both_ways(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path, bus: EventBus,
        registry: Registry) -> None:
    """Only that it completes and that the limiters were engaged: timings are benchmarks'."""
    source = tmp_path / "src"
    source.mkdir()
    files = {f"f{i}.bin": os.urandom(600 * 1024) for i in range(3)}
    for name, data in files.items():
        (source / name).write_bytes(data)
    up = Pacer(Direction.UPLOAD, [Limit(Timetable.parse("4M:2M"))])
    down = Pacer(Direction.DOWNLOAD, [Limit(Timetable.parse("4M:2M"))])
    uploader = Uploader(kafka_config, topic, bus, registry, chunk_size=64 * 1024, pacer=up)
    downloader = Downloader(kafka_config, topic, tmp_path / "dest", bus, registry,
                            group_id=f"g-{topic}", job="d", pacer=down)
    uploader.start()
    downloader.start()
    try:
        for name in files:
            uploader.submit(source, source / name)
        assert uploader.wait_idle(60)
        assert {r.outcome for r in uploader.results()} == {UploadOutcome.SENT}
        wait_until(lambda: tree_files(tmp_path / "dest") == files, message="every file")
    finally:
        uploader.stop()
        downloader.stop()
    assert up.waits > 0
    assert down.waits > 0


def test_a_limit_always_in_force_bounds_the_prefetch() -> None:
    """librdkafka would otherwise fetch 64 MiB at full speed after every quiet time."""
    from openmsi_gui.engine.download.flow import prefetch_settings
    from openmsi_gui.engine.kafka_config import CONSUMER_DEFAULTS

    settings = dict(CONSUMER_DEFAULTS)
    job, app = Limit(Timetable.parse("08:00,4M 18:00,2M")), Limit(OFF)
    capped = prefetch_settings(settings, Pacer(Direction.DOWNLOAD, [job, app]))
    assert capped["queued.max.messages.kbytes"] == str(4 * 1024)  # a second at the most
    assert capped["fetch.max.bytes"] == str(4 * MiB)
    assert prefetch_settings(settings, None) == settings
    sometimes_off = Pacer(Direction.DOWNLOAD, [Limit(Timetable.parse("08:00,4M 18:00,off"))])
    assert prefetch_settings(settings, sometimes_off) == settings
    low = prefetch_settings({**settings, "message.max.bytes": str(8 * MiB)},
                            Pacer(Direction.DOWNLOAD, [Limit(Timetable.parse("64K"))]))
    assert low["fetch.max.bytes"] == str(8 * MiB)  # never below message.max.bytes
    assert Timetable.parse("10M:1M").ceiling(Direction.DOWNLOAD) == MiB
    liftable = Limit(Timetable.parse("2M"), lasting=False)  # "Limit bandwidth now"
    assert Pacer(Direction.DOWNLOAD, [Limit(OFF), liftable]).ceiling() is None


def test_a_destination_limit_paces_its_uploads_to_s3(s3_location: S3Location,
                                                     tmp_path: Path) -> None:
    """Rebuilt files leave for S3 under the destination's limits, the other way."""
    down = Pacer(Direction.DOWNLOAD, [Limit(Timetable.parse("32M:off"))])
    store = S3Store(s3_location, "t", part_size=5 * MiB, workers=2, pacer=down.reverse())
    big, small = tmp_path / "big.bin", tmp_path / "small.bin"
    big.write_bytes(os.urandom(11 * MiB))
    small.write_bytes(b"small")
    for path in (big, small):
        digest = hashlib.sha512(path.read_bytes()).digest()
        store.put(path, path.name, digest, 0.0)
        assert store.exists(path.name, path.stat().st_size, digest)
    assert store.pacer is not None
    assert store.pacer.waits > 0
    slow = S3Store(s3_location, "t", pacer=Pacer(Direction.UPLOAD,
                                                 [Limit(Timetable.parse("1K"))]))
    with pytest.raises(S3Error, match="stopped before the upload started"):
        slow.put(small, "again.bin", b"\0" * 64, 0.0, stopping=lambda: True)
