"""The destinations view says that an encrypted destination waits for KafkaCrypto, then runs."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore
from openmsi_gui.engine import crypto
from openmsi_gui.engine.kafka_config import default_nodes_dir
from openmsi_gui.engine.provision import provision_node
from openmsi_gui.platform import components
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.destinations import DestinationsView

SENTENCE = ("Encryption is not installed: run openmsi encryption install, or Enable "
            "encryption… in the broker profile.")


def test_an_encrypted_destination_waits_for_the_component_then_runs(
        qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks,
        broker_profile: BrokerProfile, topic: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    installed = [False]
    real = crypto.kafkacrypto_available
    monkeypatch.setattr(crypto, "kafkacrypto_available", lambda: installed[0] and real())
    provision_node("ui_wait", "consumer", [topic], "rot-password-for-tests", "prov-password",
                   default_nodes_dir())
    profile = dataclasses.replace(broker_profile, crypto_node_id="ui_wait")
    (tmp_path / "in").mkdir()
    settings = store.settings
    settings.profiles = [profile]
    settings.destinations.append(Destination(path=str(tmp_path / "in"), profile_id=profile.id,
                                             topic=topic, group_id="ui-wait"))
    store.update(settings)
    view = DestinationsView(store, controller, tasks)
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    controller.start()
    view.table.selectRow(0)

    def status() -> str:
        cell = view.table.item(0, view.table.columnCount() - 1)
        return cell.text() if cell is not None else ""

    qtbot.waitUntil(lambda: status() == "Waiting", timeout=20_000)
    qtbot.waitUntil(lambda: SENTENCE in view.errors.text(), timeout=5000)
    if os.environ.get("OPENMSI_SHOT"):  # to look at it: OPENMSI_SHOT=/tmp/x.png
        view.grab().save(os.environ["OPENMSI_SHOT"])
    installed[0] = True
    components.notify()  # what installing the component does
    qtbot.waitUntil(lambda: status() == "Enabled", timeout=20_000)
    assert SENTENCE not in view.errors.text()
