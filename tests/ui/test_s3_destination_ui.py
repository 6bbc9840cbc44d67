"""S3 bucket destinations: the Qt-free form logic, the controller and the destinations view.

The bucket tests talk to the real S3-compatible server of the session
(SeaweedFS, ``s3_server`` in conftest.py); secrets go to the in-memory keychain.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from helpers import Recorder, chunks_of, produce_chunks, wait_until
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QMessageBox
from pytestqt.qtbot import QtBot
from s3server import SeaweedS3

from openmsi_gui.app import controller as controller_module
from openmsi_gui.app import destinations, job_specs, keychain
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.destinations import (
    SECRET,
    key_layout,
    location_text,
    owner,
    s3_location,
    validate_destination,
    validate_s3_destination,
)
from openmsi_gui.app.job_specs import job_id
from openmsi_gui.app.settings import BrokerProfile, Destination, Settings, SettingsStore
from openmsi_gui.engine.events import EventBus, JobState, JobStatus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.s3 import S3Error, S3Location, staging_dir
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.destinations import DestinationsView
from openmsi_gui.ui.views.s3_box import NOT_TESTED, SECRET_NOT_STORED, SECRET_STORED

SECRET_TEXT = "typed-secret-Zq9"


def stored_secret(memory_keyring: Any, dest: Destination) -> str | None:
    return memory_keyring.secrets.get((keychain.SERVICE, f"{owner(dest)}/{SECRET}"))


# -- form logic without Qt ---------------------------------------------------------------


def _s3_dest(**fields: Any) -> tuple[Destination, Settings]:
    profile = BrokerProfile(name="Lab", bootstrap_servers="localhost:9092")
    values: dict[str, Any] = {"kind": "s3", "profile_id": profile.id, "topic": "raw",
                              "group_id": "g1", "bucket": "lab-data", "prefix": "beamline-7"}
    values.update(fields)
    return Destination(**values), Settings(profiles=[profile])


def test_a_good_s3_destination_validates() -> None:
    dest, settings = _s3_dest(endpoint_url="http://127.0.0.1:8333", region="us-east-1",
                              access_key_id="AKIA123")
    assert validate_s3_destination(dest, settings) == []
    assert validate_destination(dest, settings) == []
    dest.endpoint_url = "s3.example.org:9000"  # https:// is assumed
    assert validate_s3_destination(dest, settings) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"bucket": ""}, "Enter the bucket name"),
    ({"bucket": "Lab_Data"}, "'Lab_Data' is not a valid bucket name"),
    ({"bucket": "ab"}, "is not a valid bucket name"),
    ({"topic": ""}, "Choose or type a topic"),
    ({"profile_id": "gone"}, "Choose a broker"),
    ({"endpoint_url": "ftp://store.lab"}, "is not an endpoint URL"),
    ({"endpoint_url": "http://host:99999"}, "is not an endpoint URL"),
    ({"region": "US East"}, "is not a region name"),
    ({"prefix": "a\\b"}, "backslash"),
    ({"access_key_id": "AKIA 123"}, "access key id"),
])
def test_s3_validation_explains_each_problem(change: dict[str, str], expected: str) -> None:
    dest, settings = _s3_dest(**change)
    errors = validate_s3_destination(dest, settings)
    assert len(errors) == 1, errors
    assert expected in errors[0]
    assert errors[0].endswith(".")
    assert validate_destination(dest, settings) == errors  # the view shows the same


def test_s3_validation_needs_a_broker_and_refuses_a_shared_location() -> None:
    dest, _ = _s3_dest()
    assert validate_s3_destination(dest, Settings()) == ["Add a broker first (Brokers tab)."]
    dest, settings = _s3_dest()
    twin = dataclasses.replace(dest, id="other", group_id="g2", prefix="/beamline-7/")
    settings.destinations.append(twin)
    assert any("s3://lab-data/beamline-7 already receives raw" in e
               for e in validate_s3_destination(dest, settings))
    twin.prefix = "elsewhere"
    assert validate_s3_destination(dest, settings) == []


def test_location_text_layout_and_s3_location() -> None:
    dest, _ = _s3_dest(prefix=" /raw/ ", endpoint_url=" http://x:1 ", region="eu-west-1",
                       access_key_id=" AKIA ")
    assert location_text(dest) == "s3://lab-data/raw"
    assert location_text(Destination(path="/data")) == "/data"
    assert key_layout(dest) == "raw/raw/<subfolders>/<name>"
    assert key_layout(dataclasses.replace(dest, prefix="", topic="")) == \
        "<topic>/<subfolders>/<name>"
    assert s3_location(dest, "pw") == S3Location(
        bucket="lab-data", prefix="raw", endpoint_url="http://x:1", region="eu-west-1",
        access_key_id="AKIA", secret_access_key="pw")
    assert owner(dest) == f"destination:{dest.id}"


def test_access_key_id_is_saved_and_old_files_still_load(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    store = SettingsStore(path)
    settings = store.settings
    dest, _ = _s3_dest(access_key_id="AKIA123")
    settings.destinations.append(dest)
    store.update(settings)
    assert SettingsStore(path).settings.destinations == [dest]
    old = json.loads(path.read_text())
    del old["destinations"][0]["access_key_id"]  # a file from before the field existed
    path.write_text(json.dumps(old))
    assert SettingsStore(path).settings.destinations[0].access_key_id == ""


def test_check_s3_asks_for_a_missing_secret() -> None:
    with pytest.raises(S3Error, match="no secret access key is stored"):
        destinations.check_s3(S3Location(bucket="lab-data", access_key_id="AKIA123"))


# -- the controller ----------------------------------------------------------------------


def _server_dest(server: SeaweedS3, profile_id: str = "", **fields: Any) -> Destination:
    values: dict[str, Any] = {
        "kind": "s3", "profile_id": profile_id, "topic": "raw", "group_id": "g",
        "bucket": server.bucket, "prefix": f"p-{os.urandom(4).hex()}",
        "endpoint_url": server.endpoint_url, "region": "us-east-1",
        "access_key_id": server.access_key}
    values.update(fields)
    return Destination(**values)


def test_controller_tests_a_bucket_off_the_gui_thread(controller: AppController,
                                                      s3_server: SeaweedS3) -> None:
    dest = _server_dest(s3_server)
    assert "can be used" in controller.test_s3(dest, s3_server.secret_key).result(10)
    keychain.set_secret(owner(dest), SECRET, s3_server.secret_key)
    assert "OK" in controller.test_s3(dest).result(10)  # the keychain's secret
    error = controller.test_s3(dest, "wrong-secret").exception(10)
    assert isinstance(error, S3Error)
    assert "secret" in str(error)
    error = controller.test_s3(dataclasses.replace(dest, bucket="no-such-bucket")).exception(10)
    assert isinstance(error, S3Error)
    assert "does not exist" in str(error)


class _FakeDownloadJob:
    """Records how the controller starts a download job."""

    made: list[_FakeDownloadJob] = []  # noqa: RUF012 - reset by the fixture

    def __init__(self, config: object, topic: str, dest: Path, bus: object, registry: object,
                 group_id: str | None = None, name: str | None = None,
                 s3: S3Location | None = None, pacer: object = None,
                 receipts: object = None, **_more: object) -> None:
        self.topic, self.dest, self.group_id, self.name, self.s3 = topic, dest, group_id, name, s3
        self.stopped = False
        self.made.append(self)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.stopped = True

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass


@pytest.fixture
def fake_jobs(monkeypatch: pytest.MonkeyPatch) -> list[_FakeDownloadJob]:
    _FakeDownloadJob.made = []
    monkeypatch.setattr(job_specs, "DownloadJob", _FakeDownloadJob)  # built there
    monkeypatch.setattr(controller_module, "DownloadJob", _FakeDownloadJob)  # told apart there
    return _FakeDownloadJob.made


def test_s3_destination_starts_a_job_and_restarts_when_s3_settings_change(
        store: SettingsStore, controller: AppController, registry: Registry,
        broker_profile: BrokerProfile, topic: str, fake_jobs: list[_FakeDownloadJob],
        recorder: Recorder) -> None:
    dest = Destination(kind="s3", profile_id=broker_profile.id, topic=topic, group_id="g",
                       bucket="lab-data", prefix="raw", endpoint_url="http://127.0.0.1:9",
                       access_key_id="AKIA1")
    keychain.set_secret(owner(dest), SECRET, "first-secret")
    settings = store.settings
    settings.profiles.append(broker_profile)
    settings.destinations.append(dest)
    store.update(settings)
    controller.apply(store.settings).result(30)
    [job] = fake_jobs
    assert job.s3 == s3_location(dest, "first-secret")
    assert job.dest == staging_dir(job.s3, topic, registry.path.parent)
    assert (job.topic, job.group_id, job.name) == (topic, "g", str(job_id(dest)))

    controller.apply(store.settings).result(30)  # nothing changed: nothing restarts
    assert len(fake_jobs) == 1
    keychain.set_secret(owner(dest), SECRET, "second-secret")  # a new secret, same settings
    controller.apply(store.settings).result(30)
    assert job.stopped
    assert fake_jobs[-1].s3 is not None
    assert fake_jobs[-1].s3.secret_access_key == "second-secret"
    settings = store.settings
    settings.destinations[0].region = "eu-west-1"  # an S3 field
    store.update(settings)
    controller.apply(store.settings).result(30)
    assert len(fake_jobs) == 3
    assert fake_jobs[-1].s3 is not None
    assert fake_jobs[-1].s3.region == "eu-west-1"
    settings.destinations[0].enabled = False
    store.update(settings)
    controller.apply(store.settings).result(30)
    assert all(j.stopped for j in fake_jobs)
    assert not any(e.state is JobStatus.FAILED for e in recorder.of(JobState))


def test_unreadable_keychain_fails_the_s3_job_plainly(
        store: SettingsStore, registry: Registry, bus: EventBus, broker_profile: BrokerProfile,
        fake_jobs: list[_FakeDownloadJob], recorder: Recorder) -> None:
    def locked(owner_name: str, name: str) -> str | None:
        raise keychain.KeychainError("the system keychain is locked")

    ctl = AppController(store, bus, registry, secret=locked)
    try:
        settings = store.settings
        settings.profiles.append(broker_profile)
        settings.destinations.append(Destination(kind="s3", profile_id=broker_profile.id,
                                                 topic="t", group_id="g", bucket="lab-data"))
        store.update(settings)
        ctl.apply(store.settings).result(30)
    finally:
        ctl.shutdown().result(30)
    assert fake_jobs == []
    failures = [e for e in recorder.of(JobState) if e.state is JobStatus.FAILED]
    assert failures
    assert "keychain is locked" in failures[0].detail


# -- the view ----------------------------------------------------------------------------


@pytest.fixture
def profile(store: SettingsStore, broker_profile: BrokerProfile) -> BrokerProfile:
    settings = store.settings
    settings.profiles = [broker_profile]
    store.update(settings)
    return broker_profile


@pytest.fixture
def view(qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks,
         profile: BrokerProfile) -> DestinationsView:
    widget = DestinationsView(store, controller, tasks)
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    return widget


def _type(qtbot: QtBot, edit: QLineEdit, text: str) -> None:
    edit.clear()
    qtbot.keyClicks(edit, text)


def _fill_s3(qtbot: QtBot, view: DestinationsView, server: SeaweedS3, topic: str = "raw",
             bucket: str | None = None, secret: str | None = None,
             enabled: bool = False) -> None:
    """Add an S3 destination for ``server`` in the form (disabled: no job, fast teardown)."""
    qtbot.mouseClick(view.add_s3_button, Qt.MouseButton.LeftButton)
    view.enabled_check.setChecked(enabled)
    qtbot.keyClicks(view.topic_picker.combo, topic)
    # A group of its own: joining a group another test's consumer just left can wait for
    # the broker's session timeout.
    _type(qtbot, view.group_edit, f"g-{os.urandom(4).hex()}")
    _type(qtbot, view.bucket_edit, bucket or server.bucket)
    _type(qtbot, view.prefix_edit, f"p-{os.urandom(4).hex()}")
    _type(qtbot, view.endpoint_edit, server.endpoint_url)
    _type(qtbot, view.region_edit, "us-east-1")
    _type(qtbot, view.access_key_edit, server.access_key)
    _type(qtbot, view.secret_edit, secret if secret is not None else server.secret_key)


def test_switching_kind_shows_the_matching_fields(view: DestinationsView, qtbot: QtBot,
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *args: str(tmp_path)))
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    assert view.kind_combo.currentData() == "folder"
    assert view.s3_box.isHidden()
    assert view.path_row.isVisible()
    assert view.open_button.isEnabled()

    view.kind_combo.setCurrentIndex(view.kind_combo.findData("s3"))
    assert view.s3_box.isVisible()
    assert not view.path_row.isVisible()
    assert not view.open_button.isEnabled()
    assert view.test_button.isEnabled()
    assert view.secret_edit.echoMode() == QLineEdit.EchoMode.Password
    assert view.secret_edit.placeholderText() == SECRET_NOT_STORED
    assert "Enter the bucket name." in view.errors.text()
    _type(qtbot, view.bucket_edit, "lab-data")
    _type(qtbot, view.prefix_edit, "beam")
    assert view.layout_hint.text().startswith("Files go to beam/<topic>/<subfolders>/<name>")
    view.prefix_edit.clear()
    view.prefix_edit.textEdited.emit("")
    assert "as OpenMSIStream stores them" in view.layout_hint.text()
    cell = view.table.item(0, 0)
    assert cell is not None
    assert cell.text() == "s3://lab-data"

    view.kind_combo.setCurrentIndex(view.kind_combo.findData("folder"))
    assert view.s3_box.isHidden()
    assert view.path_row.isVisible()
    assert view.current_item().bucket == "lab-data"  # type: ignore[union-attr]


def test_saving_an_s3_destination_keeps_the_secret_in_the_keychain_only(
        view: DestinationsView, qtbot: QtBot, store: SettingsStore, s3_server: SeaweedS3,
        memory_keyring: Any, profile: BrokerProfile, topic: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _fill_s3(qtbot, view, s3_server, topic=topic, secret=SECRET_TEXT)
    assert view.apply_button.isEnabled(), view.errors.text()
    with qtbot.waitSignal(view.secretSaved, timeout=5000):
        qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)

    [dest] = store.settings.destinations
    assert (dest.kind, dest.bucket, dest.endpoint_url, dest.access_key_id) == (
        "s3", s3_server.bucket, s3_server.endpoint_url, s3_server.access_key)
    assert stored_secret(memory_keyring, dest) == SECRET_TEXT
    on_disk = store.path.read_text()
    assert SECRET_TEXT not in on_disk
    assert "secret" not in on_disk.lower()
    assert view.secret_edit.text() == ""
    assert view.secret_edit.placeholderText() == SECRET_STORED
    assert not view.apply_button.isEnabled()
    cell = view.table.item(0, 0)
    assert cell is not None
    assert cell.text() == f"s3://{s3_server.bucket}/{dest.prefix}"

    # Only a new secret: Apply is offered, and stores it.
    _type(qtbot, view.secret_edit, "another-secret")
    assert view.apply_button.isEnabled()
    assert "Unsaved changes." in view.errors.text()
    with qtbot.waitSignal(view.secretSaved, timeout=5000):
        qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    assert stored_secret(memory_keyring, dest) == "another-secret"
    assert "another-secret" not in store.path.read_text()

    # A view opened later asks the keychain whether a secret is stored.
    later = DestinationsView(store, view.controller, view.tasks)
    qtbot.addWidget(later)
    qtbot.waitUntil(lambda: later.secret_edit.placeholderText() == SECRET_STORED, timeout=5000)

    # Removing the destination removes its secret.
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda *_args: QMessageBox.StandardButton.Yes))
    qtbot.mouseClick(view.remove_button, Qt.MouseButton.LeftButton)
    assert store.settings.destinations == []
    qtbot.waitUntil(lambda: stored_secret(memory_keyring, dest) is None, timeout=5000)


def test_revert_forgets_a_typed_secret_and_folder_kind_drops_it(
        view: DestinationsView, qtbot: QtBot, store: SettingsStore, s3_server: SeaweedS3,
        memory_keyring: Any, tmp_path: Path, topic: str) -> None:
    _fill_s3(qtbot, view, s3_server, topic=topic)
    with qtbot.waitSignal(view.secretSaved, timeout=5000):
        qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    [dest] = store.settings.destinations
    _type(qtbot, view.secret_edit, "not-wanted")
    qtbot.mouseClick(view.revert_button, Qt.MouseButton.LeftButton)
    assert view.secret_edit.text() == ""
    assert not view.apply_button.isEnabled()
    assert stored_secret(memory_keyring, dest) == s3_server.secret_key

    view.kind_combo.setCurrentIndex(view.kind_combo.findData("folder"))
    view.path_edit.setText(str(tmp_path))
    view.path_edit.textEdited.emit(str(tmp_path))
    qtbot.waitUntil(view.apply_button.isEnabled)  # once the folder is checked off-thread
    with qtbot.waitSignal(view.secretSaved, timeout=5000):
        qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    assert store.settings.destinations[0].kind == "folder"
    assert stored_secret(memory_keyring, dest) is None


def _run_test(qtbot: QtBot, view: DestinationsView) -> tuple[bool, str]:
    with qtbot.waitSignal(view.testFinished, timeout=5000) as blocker:
        qtbot.mouseClick(view.test_button, Qt.MouseButton.LeftButton)
    ok, text = blocker.args  # type: ignore[misc]
    assert view.test_status.text() == text
    assert view.test_status.icon.accessibleName() == ("Success" if ok else "Problem")
    return bool(ok), str(text)


def test_test_button_against_a_real_bucket(view: DestinationsView, qtbot: QtBot,
                                           s3_server: SeaweedS3) -> None:
    _fill_s3(qtbot, view, s3_server)
    assert view.test_status.text() == NOT_TESTED
    ok, text = _run_test(qtbot, view)
    assert ok, text
    assert text.startswith("OK")
    assert s3_server.bucket in text
    assert view.test_button.isEnabled()

    _type(qtbot, view.secret_edit, "wrong-secret")
    ok, text = _run_test(qtbot, view)
    assert not ok
    assert "secret" in text

    _type(qtbot, view.secret_edit, s3_server.secret_key)
    _type(qtbot, view.bucket_edit, "no-such-bucket")
    ok, text = _run_test(qtbot, view)
    assert not ok
    assert "does not exist" in text

    _type(qtbot, view.bucket_edit, "No_Such")
    ok, text = _run_test(qtbot, view)  # checked before anything is sent
    assert not ok
    assert text.startswith("Not tested:")
    assert "not a valid bucket name" in text


def test_test_button_uses_the_stored_secret(view: DestinationsView, qtbot: QtBot,
                                            store: SettingsStore, s3_server: SeaweedS3,
                                            topic: str) -> None:
    _fill_s3(qtbot, view, s3_server, topic=topic)
    with qtbot.waitSignal(view.secretSaved, timeout=5000):
        qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    assert view.secret_edit.text() == ""
    ok, text = _run_test(qtbot, view)
    assert ok, text


@pytest.mark.slow
def test_s3_destination_set_up_in_the_view_receives_files(
        view: DestinationsView, qtbot: QtBot, store: SettingsStore, s3_server: SeaweedS3,
        recorder: Recorder, topic: str, kafka_config: KafkaConfig) -> None:
    """The whole way: form → keychain → controller → DownloadJob → an object in the bucket."""
    _fill_s3(qtbot, view, s3_server, topic=topic, enabled=True)
    with qtbot.waitSignal(view.secretSaved, timeout=5000):
        qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    [dest] = store.settings.destinations
    wait_until(lambda: any(isinstance(e, JobState) and e.job == str(job_id(dest))
                           and e.state in {JobStatus.RUNNING, JobStatus.FAILED}
                           for e in recorder.events),
               timeout=20, message="the S3 destination starting")
    states = [e for e in recorder.of(JobState)
              if e.job == str(job_id(dest))]
    assert states[-1].state is JobStatus.RUNNING, states
    data = os.urandom(300_000)
    produce_chunks(kafka_config, topic, chunks_of(data, "sub/scan.bin", chunk_size=65536))
    key = f"{dest.prefix}/{topic}/sub/scan.bin"
    client = s3_server.client()

    def arrived() -> bool:
        try:
            return bool(client.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read()
                        == data)
        except Exception:
            return False

    wait_until(arrived, timeout=30, message="the object in the bucket")
