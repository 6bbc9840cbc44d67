"""Bandwidth limits as the user sees them (no Qt), and the controller applying them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from helpers import wait_until

from openmsi_gui.app.bandwidth import (
    app_limit,
    describe_limit,
    item_limit,
    limit_problem,
    status_text,
)
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.job_specs import job_id
from openmsi_gui.app.settings import (
    BandwidthSettings,
    BrokerProfile,
    SettingsStore,
    WatchedFolder,
)
from openmsi_gui.engine.bandwidth import OFF, Timetable
from openmsi_gui.engine.events import Direction

MONDAY_9 = datetime(2026, 11, 30, 9, 0)
MiB = 1024 * 1024


def test_form_checks() -> None:
    assert limit_problem("") is None
    assert limit_problem("08:00,4M 18:00,off") is None
    problem = limit_problem("4 MB")
    assert problem is not None
    assert problem.startswith("cannot read the bandwidth limit '4 MB'")
    assert limit_problem("", required=True) == limit_problem("off", required=True)
    assert limit_problem("", required=True) is not None
    assert limit_problem("2M", required=True) is None


def test_the_limit_in_force_in_plain_words() -> None:
    assert status_text(Timetable.parse("4M"), MONDAY_9) == "Limited to 4 MiB/s"
    assert status_text(Timetable.parse("10M:1M"), MONDAY_9) == (
        "Limited to 10 MiB/s up, 1 MiB/s down")
    assert status_text(Timetable.parse("512K:off"), MONDAY_9) == (
        "Limited to 512 KiB/s up, no limit down")
    assert status_text(Timetable.parse("18:00,4M 08:00,off"), MONDAY_9) == ""
    assert status_text(OFF, MONDAY_9) == ""
    table = Timetable.parse("08:00,4M 18:00,off")
    assert describe_limit(table, Direction.UPLOAD, MONDAY_9) == (
        "4 MiB/s now (08:00,4M 18:00,off)")
    assert describe_limit(Timetable.parse("2M:1M"), Direction.DOWNLOAD) == "1 MiB/s"


def test_limit_now_uses_the_preset_instead_of_the_app_wide_limit() -> None:
    bandwidth = BandwidthSettings(limit="8M", preset="1M")
    assert app_limit(bandwidth) == Timetable.parse("8M")
    bandwidth.limit_now = True
    assert app_limit(bandwidth) == Timetable.parse("1M")
    assert item_limit(WatchedFolder(bwlimit="2M:off")) == Timetable.parse("2M:off")


def test_the_controller_applies_limits_in_place(store: SettingsStore,
                                                controller: AppController) -> None:
    settings = store.settings
    settings.bandwidth = BandwidthSettings(limit="", preset="2M")
    store.update(settings)
    controller.apply(store.settings).result(30)
    assert controller.bandwidth.rate(Direction.UPLOAD) is None
    controller.limit_bandwidth_now(True).result(30)
    assert controller.bandwidth.rate(Direction.DOWNLOAD) == 2 * MiB
    assert store.settings.bandwidth.limit_now  # kept across restarts
    controller.limit_bandwidth_now(False).result(30)
    wait_until(lambda: controller.bandwidth.rate(Direction.UPLOAD) is None,
               message="the limit lifted")
    assert SettingsStore(Path(store.path)).settings.bandwidth.limit_now is False


def test_a_folder_limit_changes_in_place_without_a_restart(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    settings = store.settings
    settings.profiles.append(broker_profile)
    folder = WatchedFolder(path=str(tmp_path / "out"), profile_id=broker_profile.id,
                           topic=make_topic(1))
    settings.folders.append(folder)
    store.update(settings)
    controller.apply(store.settings).result(30)
    running = controller._jobs[job_id(folder)]
    assert running.limit.rate(Direction.UPLOAD) is None
    settings = store.settings
    settings.folders[0].bwlimit = "3M:off"
    store.update(settings)
    controller.apply(store.settings).result(30)
    assert controller._jobs[job_id(folder)] is running  # the same job, not a new one
    assert running.limit.rate(Direction.UPLOAD) == 3 * MiB
