"""Enable encryption… in a broker profile: KafkaCrypto installed as the app's component
from a wheel file, refused with a wrong hash, and removed (pytest-qt, offscreen).

The test venv has kafkacrypto installed with pip; a finder hides that copy so the
profile editor sees what the packaged app sees, and the wheel installed is made
from it (its hash pinned for the test).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.abc
import importlib.machinery
import json
import sys
import zipfile
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from helpers import Recorder
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton

from openmsi_gui.app import encryption_component, provisioning
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, SettingsStore, WatchedFolder
from openmsi_gui.engine.events import JobState, JobStatus
from openmsi_gui.engine.kafka_config import KafkaConfig, default_nodes_dir
from openmsi_gui.engine.provision import create_key_topics, provision_node
from openmsi_gui.platform import component_install, components
from openmsi_gui.ui.encryption_dialog import EnableEncryptionDialog
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.profiles import ProfilesView

WAIT_MS = 20_000
ROT = "rot-password-123"
PROV = "prov-pw-456"
Make = Callable[[], ProfilesView]


class _OnlyTheComponent(importlib.abc.MetaPathFinder):
    """Finds kafkacrypto only in the components folder, as in the packaged app."""

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "kafkacrypto":
            return None  # its modules are found inside its package folder
        entries = [p for p in sys.path if p.startswith(self.folder)]
        spec = importlib.machinery.PathFinder.find_spec(fullname, entries)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return spec


def _kafkacrypto_wheel(folder: Path) -> Path:
    """A wheel of the kafkacrypto that pip installed (pure Python, like the real one)."""
    dist = metadata.distribution("kafkacrypto")
    wheel = folder / f"kafkacrypto-{dist.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as made:
        for file in dist.files or []:
            if file.parts[0] == "kafkacrypto" or file.parts[0].endswith(".dist-info"):
                source = Path(str(file.locate()))
                if source.is_file() and "__pycache__" not in file.parts:
                    made.write(source, str(file))
    return wheel


@pytest.fixture
def wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No kafkacrypto but the component; a wheel of it whose SHA-256 the app trusts."""
    made = _kafkacrypto_wheel(tmp_path)
    pinned = json.loads(components.PINS_FILE.read_text(encoding="utf-8"))
    pinned["kafkacrypto"].update(
        version=metadata.version("kafkacrypto"), wheel=made.name,
        sha256=hashlib.sha256(made.read_bytes()).hexdigest())
    pins = tmp_path / "components.json"
    pins.write_text(json.dumps(pinned), encoding="utf-8")
    monkeypatch.setattr(components, "PINS_FILE", pins)
    folder = tmp_path / "components"
    monkeypatch.setenv(components.COMPONENTS_ENV, str(folder))
    saved_modules = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "kafkacrypto"}
    saved_path = list(sys.path)
    for name in saved_modules:
        del sys.modules[name]
    finder = _OnlyTheComponent(folder)
    sys.meta_path.insert(0, finder)
    try:
        yield made
    finally:
        sys.meta_path.remove(finder)
        for name in [k for k in sys.modules if k.split(".")[0] == "kafkacrypto"]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
        sys.path[:] = saved_path


@pytest.fixture
def make_view(qtbot: Any, store: SettingsStore, controller: AppController,
              tasks: Tasks) -> Make:
    def make() -> ProfilesView:
        settings = store.settings
        settings.profiles.append(BrokerProfile(name="Lab", bootstrap_servers="lab:9092"))
        store.update(settings)
        view = ProfilesView(store, controller, tasks)
        qtbot.addWidget(view)
        view.resize(900, 700)
        view.show()
        return view

    return make


def click(qtbot: Any, button: QPushButton) -> None:
    assert button.isVisible(), button.text()
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def wait_missing(qtbot: Any, view: ProfilesView) -> None:
    """Wait until the section says encryption is missing: one sentence and the button."""
    crypto = view.crypto
    qtbot.waitUntil(lambda: crypto.status is not None and not crypto.status.available
                    and crypto.enable_button.isVisible(), timeout=WAIT_MS)
    assert crypto.note.text() == encryption_component.NOT_INSTALLED_NOTE
    assert not crypto.node_row.isVisible()  # no disabled controls
    assert not crypto.about.isVisible()
    assert not crypto.remove_button.isVisible()
    assert view.form.name_edit.isEnabled()  # the rest of the profile stays editable


def open_enable_dialog(qtbot: Any, view: ProfilesView) -> EnableEncryptionDialog:
    click(qtbot, view.crypto.enable_button)
    dialog = view.crypto.enable_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def choose_file(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[str]:
    """Make the file dialog answer ``path``; returns the filters it was opened with."""
    asked: list[str] = []

    def get_open_file_name(*args: Any, **kwargs: Any) -> tuple[str, str]:
        asked.append(str(args[3] if len(args) > 3 else kwargs.get("filter", "")))
        return str(path), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", get_open_file_name)
    return asked


def test_a_profile_without_kafkacrypto_is_enabled_from_a_file_and_removed(
        qtbot: Any, make_view: Make, wheel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    view = make_view()
    wait_missing(qtbot, view)
    dialog = open_enable_dialog(qtbot, view)
    asked = choose_file(monkeypatch, wheel)
    with qtbot.waitSignal(dialog.workFinished, timeout=WAIT_MS) as finished:
        click(qtbot, dialog.file_button)
    assert asked == [encryption_component.WHEEL_FILTER]
    assert finished.args is not None
    assert finished.args[0], finished.args
    assert dialog.result_line.text().startswith("Encryption is enabled: KafkaCrypto")
    assert not dialog.file_button.isEnabled()
    assert dialog.close_button.text() == "Close"
    # The section becomes usable without restarting: the node list and Provision.
    crypto = view.crypto
    qtbot.waitUntil(lambda: crypto.status is not None and crypto.status.available,
                    timeout=WAIT_MS)
    assert crypto.node_row.isVisible()
    assert crypto.crypto_combo.isEnabled()
    assert crypto.provision_button.isEnabled()
    assert not crypto.enable_button.isVisible()
    assert crypto.remove_button.isVisible()
    assert not crypto.note.isVisible()
    assert sys.modules["kafkacrypto"].__file__ is not None
    assert str(components.components_dir()) in sys.modules["kafkacrypto"].__file__
    click(qtbot, dialog.close_button)
    # The provisioning dialog works with the component just installed.
    click(qtbot, crypto.provision_button)
    provision_dialog = view.provision_dialog
    assert provision_dialog is not None
    qtbot.waitUntil(provision_dialog.isVisible)
    provision_dialog.node_edit.setText("lab_sender")
    for edit, text in ((provision_dialog.rot_edit, ROT), (provision_dialog.repeat_edit, ROT),
                       (provision_dialog.prov_edit, PROV)):
        edit.setText(text)
    provision_dialog.key_topics_check.setChecked(False)
    with qtbot.waitSignal(provision_dialog.workFinished, timeout=WAIT_MS) as provisioned:
        click(qtbot, provision_dialog.provision_button)
    assert provisioned.args is not None
    assert provisioned.args[0], provisioned.args
    assert provisioning.list_nodes() == ["lab_sender"]
    provision_dialog.close()
    qtbot.waitUntil(lambda: crypto.crypto_combo.currentData() == "lab_sender",
                    timeout=WAIT_MS)
    # Remove asks first, says what stops working, and the section is back to the sentence.
    questions: list[str] = []

    def question(_parent: Any, _title: str, text: str, *_args: Any) -> QMessageBox.StandardButton:
        questions.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", question)
    with qtbot.waitSignal(crypto.componentChanged, timeout=WAIT_MS):
        click(qtbot, crypto.remove_button)
    assert questions == [encryption_component.REMOVE_QUESTION]
    assert "stop sending and receiving" in questions[0]
    wait_missing(qtbot, view)
    assert view.editor.form.status.text() == (  # it was imported: the provisioning used it
        "KafkaCrypto was removed: encrypted profiles keep working until the app quits, then "
        "wait until encryption is enabled again.")
    assert not components.status().component
    assert not list(components.components_dir().glob("kafkacrypto-*"))


def test_a_wheel_with_another_hash_is_refused_and_nothing_is_installed(
        qtbot: Any, make_view: Make, wheel: Path, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    other = tmp_path / "other" / wheel.name
    other.parent.mkdir()
    other.write_bytes(wheel.read_bytes() + b"\0")
    view = make_view()
    wait_missing(qtbot, view)
    dialog = open_enable_dialog(qtbot, view)
    choose_file(monkeypatch, other)
    with qtbot.waitSignal(dialog.workFinished, timeout=WAIT_MS) as finished:
        click(qtbot, dialog.file_button)
    assert finished.args is not None
    assert not finished.args[0]
    text = dialog.result_line.text()
    assert text == (f"{wheel.name} is not the KafkaCrypto release this app trusts (SHA-256 "
                    "differs): download it again from PyPI.")
    assert dialog.result_line.icon.accessibleName() == "Problem"
    assert dialog.file_button.isEnabled()  # try again
    assert dialog.index_button.isEnabled()
    assert not list(components.components_dir().glob("kafkacrypto-*"))
    assert not view.crypto.node_row.isVisible()
    click(qtbot, dialog.close_button)
    qtbot.waitUntil(lambda: not dialog.isVisible())


def test_removing_can_be_cancelled(qtbot: Any, make_view: Make, wheel: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = encryption_component.install(wheel)
    assert outcome.ok, outcome.sentence
    view = make_view()
    crypto = view.crypto
    qtbot.waitUntil(lambda: crypto.status is not None and crypto.status.available
                    and crypto.remove_button.isVisible(), timeout=WAIT_MS)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *_args: QMessageBox.StandardButton.Cancel)
    click(qtbot, crypto.remove_button)
    assert components.status().component
    assert crypto.remove_button.isEnabled()


def test_an_unreachable_package_index_is_said_in_one_sentence(
        qtbot: Any, make_view: Make, wheel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(component_install.INDEX_ENV, "http://127.0.0.1:9/simple")
    view = make_view()
    wait_missing(qtbot, view)
    dialog = open_enable_dialog(qtbot, view)
    with qtbot.waitSignal(dialog.workFinished, timeout=WAIT_MS) as finished:
        click(qtbot, dialog.index_button)
    assert finished.args is not None
    assert not finished.args[0]
    assert dialog.result_line.text() == (
        "The Python Package Index could not be reached: check the internet connection (and "
        f"HTTPS_PROXY behind a proxy), or copy {wheel.name} from another computer and click "
        "Install from a file….")
    assert not list(components.components_dir().glob("kafkacrypto-*"))
    click(qtbot, dialog.close_button)


@pytest.fixture
def sender(broker_profile: BrokerProfile, topic: str, kafka_config: KafkaConfig
           ) -> BrokerProfile:
    """An encrypted profile on the session broker (its node made while kafkacrypto is seen)."""
    provision_node("gui_up", "producer", [topic], ROT, PROV, default_nodes_dir())
    assert create_key_topics(kafka_config, [topic], 10.0).ok
    return dataclasses.replace(broker_profile, crypto_node_id="gui_up")


def test_a_folder_waiting_for_encryption_starts_once_it_is_enabled_in_the_app(
        qtbot: Any, sender: BrokerProfile, wheel: Path, topic: str, store: SettingsStore,
        controller: AppController, tasks: Tasks, recorder: Recorder, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "out").mkdir()
    settings = store.settings
    settings.profiles.append(sender)
    settings.folders.append(WatchedFolder(path=str(tmp_path / "out"), profile_id=sender.id,
                                          topic=topic))
    store.update(settings)
    controller.start().result(60)

    def states() -> list[JobState]:
        return [e for e in recorder.of(JobState) if isinstance(e, JobState)]

    qtbot.waitUntil(lambda: any(e.state is JobStatus.WAITING for e in states()),
                    timeout=WAIT_MS)
    dialog = EnableEncryptionDialog(tasks=tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    choose_file(monkeypatch, wheel)
    with qtbot.waitSignal(dialog.workFinished, timeout=WAIT_MS):
        click(qtbot, dialog.file_button)
    qtbot.waitUntil(lambda: states()[-1].state is JobStatus.RUNNING, timeout=WAIT_MS)
    assert not [e for e in states() if e.state is JobStatus.FAILED]
