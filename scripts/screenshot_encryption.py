"""Encryption without KafkaCrypto, for scripts/screenshots.py.

``brokers-no-encryption``: a broker profile's encryption section as the installed app
shows it before KafkaCrypto is fetched (one sentence and Enable encryption…; kafkacrypto
is hidden from the app for the shot). ``enable-encryption``: the dialog that button
opens, with a wheel of the wrong hash refused (the sentence the user sees).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QScrollArea

from openmsi_gui.app.encryption_component import refused_sentence
from openmsi_gui.engine import crypto
from openmsi_gui.platform.component_install import HashMismatch
from openmsi_gui.platform.components import pin
from openmsi_gui.ui.application import OpenMSIApp


def encryption(app: QApplication, openmsi: OpenMSIApp, shot: Callable[..., None]) -> None:
    """Shoot a plain broker profile as if KafkaCrypto were missing, and its dialog.

    Everything is put back afterwards.
    """
    window = openmsi.window
    view = window.profiles
    available = crypto.kafkacrypto_available
    crypto.kafkacrypto_available = lambda: False  # type: ignore[assignment]
    window.tabs.setCurrentWidget(view)
    profile = next((p for p in openmsi.store.settings.profiles if not p.embedded), None)
    for row in range(view.list.count()):
        item = view.list.item(row)
        if profile is not None and item.data(Qt.ItemDataRole.UserRole) == profile.id:
            view.list.setCurrentItem(item)  # loads it into the form
    app.sendPostedEvents()
    view.crypto.refresh()

    def section() -> None:
        for area in view.findChildren(QScrollArea):
            area.ensureWidgetVisible(view.crypto)
        shot("brokers-no-encryption")
        view.crypto.on_enable_clicked()

    def dialog() -> None:
        made = view.crypto.enable_dialog
        if made is None:
            return
        made.show_problem(refused_sentence(HashMismatch("differs"), Path(pin().wheel)))
        QTimer.singleShot(200, lambda: (shot("enable-encryption", made), made.reject(),
                                        restore()))

    def restore() -> None:
        crypto.kafkacrypto_available = available  # type: ignore[assignment]
        view.crypto.refresh()

    QTimer.singleShot(600, section)
    QTimer.singleShot(1000, dialog)
