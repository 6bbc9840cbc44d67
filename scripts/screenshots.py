"""Take the README's screenshots of the real app (run under X: Xvfb + trayer is fine).

    xvfb-run -s "-screen 0 1280x800x24" python scripts/screenshots.py docs/screenshots
    xvfb-run -s "-screen 0 1280x800x24" python scripts/screenshots.py /tmp/small \
        --size 1024x640 --dark      # the smallest supported window, every view in both themes

It runs the demo (embedded broker, outbox/ watched, inbox/ filled; its banner says where
they are), drops a few sample files in, including one named ``CON.txt`` that the downloader
refuses (a reserved Windows name), and saves one PNG per view plus the tray menu. For the
Stalled state, the first 3 of 5 chunks of ``huge_run2.raw`` are put on the demo topic (as
if the broker had lost the rest) with a 2-second stall time. The demo's destination is
paired with its folder (in an in-memory keychain), so the Delivery column says when each
file was delivered; then the folder also expects ``offsite-archive``, which never answers,
with a 1-second deadline: every file turns Not confirmed (``transfers-unconfirmed``, and the
folder form's Delivery section, ``watched-folders-delivery``). The folder's After delivery
section is then set (not applied) to move files confirmed by the demo's destination to an
archive folder (``watched-folders-after-delivery``), and its Preview… lists them
(``after-delivery-preview``). Last, a watched folder on a broker that is switched off shows
how the app says that it cannot reach it, and its profile shows the encryption section
as the installed app does before KafkaCrypto is fetched (``brokers-no-encryption``,
``enable-encryption``: ``scripts/screenshot_encryption.py``). The destination form's
"After each file" and processed files in the transfers are shot by
``scripts/screenshot_processing.py``. The Lab view is shot on a small lab reporting to
the demo's broker (``scripts/screenshot_lab.py``), one program selected with its log lines.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import keyring
import keyring.backend
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QScrollArea
from screenshot_encryption import encryption
from screenshot_information import information
from screenshot_lab import NEEDY, populate  # scripts/ (this script's folder)
from screenshot_processing import processing

from openmsi_gui.app import pairing
from openmsi_gui.app.demo import DemoFolders
from openmsi_gui.app.settings import Settings, SettingsStore
from openmsi_gui.app.transfer_rows import FilterMode
from openmsi_gui.app.transfers import RowStatus
from openmsi_gui.engine.after_delivery import AfterAction
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.application import DEMO_TOPIC, OpenMSIApp, demo_settings
from openmsi_gui.ui.main_window import MainWindow
from openmsi_gui.ui.theme import apply_theme
from openmsi_gui.ui.views.after_delivery_section import PreviewDialog
from openmsi_gui.ui.views.history import HistoryView
from openmsi_gui.ui.views.transfers import TransfersView


def select_failed(view: TransfersView) -> None:
    """Select the refused file, so that its error shows in full under the table."""
    for row in range(view.proxy.rowCount()):
        transfer = view.model.row_at(view.proxy.mapToSource(view.proxy.index(row, 0)).row())
        if transfer.status is RowStatus.FAILED:
            view.table.selectRow(row)
            return


def bandwidth_limited(openmsi: OpenMSIApp, shot: Callable[[str], None]) -> None:
    """Turn on "Limit bandwidth now" (ticked in the tray menu shot); shoot the status bar."""
    openmsi.controller.limit_bandwidth_now(True)
    QTimer.singleShot(600, lambda: shot("bandwidth-limited"))


def select_status(view: TransfersView, status: RowStatus) -> None:
    """Select the first row with ``status``, so that its error shows in full under the table."""
    for row in range(view.proxy.rowCount()):
        transfer = view.model.row_at(view.proxy.mapToSource(view.proxy.index(row, 0)).row())
        if transfer.status is status:
            view.table.clearSelection()
            view.table.selectRow(row)
            return


def half_lost_file(openmsi: OpenMSIApp) -> None:
    """Put only the first chunks of a file on the demo topic: its download stalls."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from helpers import chunks_of, produce_chunks  # tests/helpers.py (run from a checkout)

    from openmsi_gui.engine.kafka_config import KafkaConfig

    openmsi.controller.stalls.stall_seconds = 2.0
    config = KafkaConfig.for_bootstrap(openmsi.controller.embedded_bootstrap)
    chunks = chunks_of(os.urandom(5 * 65536), "huge_run2.raw", 65536)
    produce_chunks(config, DEMO_TOPIC, chunks[:3])


def stalled(app: QApplication, window: MainWindow, shot: Callable[[str], None]) -> None:
    """Shoot the transfers with the stalled download selected (Retry enabled)."""
    window.tabs.setCurrentWidget(window.transfers)
    select_status(window.transfers, RowStatus.STALLED)
    app.sendPostedEvents()
    shot("transfers-stalled")


def no_broker(app: QApplication, openmsi: OpenMSIApp, base: Path,
              shot: Callable[[str], None]) -> None:
    """Add a watched folder on a broker that is switched off; shoot it once the app says so."""
    from openmsi_gui.app.settings import BrokerProfile, WatchedFolder
    from openmsi_gui.engine.processes import free_port

    (base / "instrument").mkdir(exist_ok=True)
    settings = openmsi.store.settings
    profile = BrokerProfile(name="Lab broker", bootstrap_servers=f"127.0.0.1:{free_port()}")
    folder = WatchedFolder(path=str(base / "instrument"), profile_id=profile.id,
                           topic="lab-data")
    settings.profiles.append(profile)
    settings.folders.append(folder)
    openmsi.store.update(settings)
    window = openmsi.window

    def select() -> None:
        window.tabs.setCurrentWidget(window.folders)
        window.folders.select(folder.id)
        app.sendPostedEvents()

    QTimer.singleShot(5500, select)  # its job gives up connecting after ~4 s
    QTimer.singleShot(6500, lambda: shot("watched-folders-no-broker"))  # folder checked


def problems(app: QApplication, window: MainWindow, shot: Callable[[str], None]) -> None:
    """Shoot the transfers with the Problems filter on (the failed and the stalled file)."""
    view = window.transfers
    window.tabs.setCurrentWidget(view)
    view.filter_combo.setCurrentIndex(view.filter_combo.findData(FilterMode.PROBLEMS))
    app.sendPostedEvents()
    shot("transfers-problems")
    view.filter_combo.setCurrentIndex(view.filter_combo.findData(FilterMode.ALL))


def folders_advanced(app: QApplication, window: MainWindow,
                     shot: Callable[[str], None]) -> None:
    """Shoot the watched folder's form with its Advanced section open."""
    window.tabs.setCurrentWidget(window.folders)
    window.folders.advanced.set_expanded(True)
    app.sendPostedEvents()  # lay the section out (processEvents would run later steps)
    shot("watched-folders-advanced")
    window.folders.advanced.set_expanded(False)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keychain of the script's own: the shots never touch (or need) the desktop's."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        """The secret stored, if any."""
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        """Keep a secret."""
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        """Forget a secret."""
        self.secrets.pop((service, username), None)


def pair_demo(settings: Settings, base: Path) -> Settings:
    """Pair the demo's destination with its folder, which then expects it (deadline 1 h)."""
    keyring.set_keyring(MemoryKeyring())
    settings.destinations[0].receipt_name = "lab-archive"  # shorter than HOST:/tmp/.../inbox
    name = pairing.destination_name(settings.destinations[0])
    made = pairing.identity(name, base)
    assert made is not None
    pairing.trust(made.public.pairing_code(), base)
    settings.folders[0].expected_destinations = [name]
    return settings


def expect_offsite(openmsi: OpenMSIApp) -> None:
    """Make the folder expect a destination that never answers, within a second."""
    settings = openmsi.store.settings
    folder = settings.folders[0]
    folder.expected_destinations = [*folder.expected_destinations, "offsite-archive"]
    folder.delivery_deadline = 1.0
    openmsi.store.update(settings)


def unconfirmed(app: QApplication, openmsi: OpenMSIApp, shot: Callable[[str], None]) -> None:
    """Shoot the Not confirmed files (one selected), then the folder's Delivery section."""
    window = openmsi.window
    view = window.transfers
    window.tabs.setCurrentWidget(view)
    view.filter_combo.setCurrentIndex(view.filter_combo.findData(FilterMode.PROBLEMS))
    select_status(view, RowStatus.UNCONFIRMED)
    app.sendPostedEvents()
    shot("transfers-unconfirmed")
    view.filter_combo.setCurrentIndex(view.filter_combo.findData(FilterMode.ALL))
    window.tabs.setCurrentWidget(window.folders)
    window.folders.select(openmsi.store.settings.folders[0].id)
    delivery = window.folders.delivery
    delivery.set_expanded(True)
    app.sendPostedEvents()
    for area in window.folders.findChildren(QScrollArea):
        area.ensureWidgetVisible(delivery.add_code_button)
    shot("watched-folders-delivery")


def after_delivery(app: QApplication, openmsi: OpenMSIApp, base: Path,
                   shot: Callable[..., None]) -> None:
    """Set (not apply) Move to archive for files the demo's destination confirmed; shoot it."""
    view = openmsi.window.folders
    view.select(openmsi.store.settings.folders[0].id)
    for i in range(view.delivery.expected_list.count()):  # offsite-archive never answers
        item = view.delivery.expected_list.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == "offsite-archive":
            item.setCheckState(Qt.CheckState.Unchecked)
    section = view.after_delivery
    section.set_expanded(True)
    section.action_combo.setCurrentIndex(section.action_combo.findData(AfterAction.MOVE.value))
    (base / "sent").mkdir(exist_ok=True)
    section.archive_edit.setText(str(base / "sent"))
    section.min_age_edit.setText("7d")
    section.min_age_edit.textEdited.emit("7d")
    app.sendPostedEvents()
    for area in view.findChildren(QScrollArea):
        area.ensureWidgetVisible(section.preview_button)
    shot("watched-folders-after-delivery")
    section.min_age_edit.setText("")  # the demo's files are minutes old: list them
    section.min_age_edit.textEdited.emit("")
    section.preview_button.click()

    def preview_shot() -> None:
        dialog = view.findChild(PreviewDialog)
        if dialog is not None:
            shot("after-delivery-preview", dialog)
            dialog.reject()
        view.on_revert_clicked()

    QTimer.singleShot(700, preview_shot)


def audit(openmsi: OpenMSIApp, shot: Callable[..., None]) -> None:
    """History ▸ Audit… on the demo's topic: its files, confirmed by lab-archive or not."""
    history = openmsi.window.findChild(HistoryView)
    assert history is not None
    history.open_audit()
    window = history.audit_window
    assert window is not None
    window.resize(1000, 520)
    window.run_audit()
    QTimer.singleShot(2500, lambda: (shot("audit", window), window.close()))


def lab(app: QApplication, window: MainWindow, shot: Callable[[str], None], dark: bool) -> None:
    """Shoot the Lab view with the program that needs attention selected (its log lines)."""
    view = window.lab
    if view is None:
        return
    window.tabs.setCurrentWidget(view)
    view.select(NEEDY)
    app.sendPostedEvents()
    shoot(app, shot, "lab-view", dark)


def parse_args() -> argparse.Namespace:
    """The output folder, the window size and whether to take dark shots too."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--size", default="1100x680", help="window size, WIDTHxHEIGHT",
                        type=lambda text: tuple(int(v) for v in text.lower().split("x")))
    parser.add_argument("--dark", action="store_true",
                        help="also every view in dark mode (NAME-dark.png)")
    return parser.parse_args()


def workspace(out: Path) -> Path:
    """Make the output folder, and a temporary one for the demo's data (returned)."""
    out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="openmsi-shots-"))
    os.environ["OPENMSI_GUI_DATA_DIR"] = str(base / "data")  # the Lab view's store, ...
    return base


def shoot(app: QApplication, shot: Callable[[str], None], name: str, dark: bool) -> None:
    """Save the window as NAME.png soon, and (``dark``) as NAME-dark.png in the dark theme."""
    QTimer.singleShot(400, lambda: shot(name))
    if dark:
        QTimer.singleShot(500, lambda: apply_theme(app, "dark"))
        QTimer.singleShot(800, lambda: (shot(f"{name}-dark"), apply_theme(app, "light")))


def main() -> None:
    """Run the demo and save the screenshots into the folder given (or docs/screenshots)."""
    args = parse_args()
    out: Path = args.out
    base = workspace(out)
    app = QApplication([])
    logging.basicConfig(level=logging.INFO)  # as the app does: the log view shows INFO lines
    store = SettingsStore(base / "settings.json")
    store.update(pair_demo(demo_settings(base), base))
    apply_theme(app, "light")
    openmsi = OpenMSIApp(store, Registry(base / "registry.sqlite3"), demo=DemoFolders(base))
    openmsi.window.resize(*args.size)
    openmsi.start(show_window=True)
    window = openmsi.window
    samples = {"2026-11-24/scan_0001.tif": 6_000_000, "2026-11-24/scan_0002.tif": 6_000_000,
               "2026-11-24/spectrum.csv": 400_000, "calibration/dark_frame.fits": 12_000_000,
               "notes/run log.txt": 2_000, "CON.txt": 10}
    steps: list[tuple[int, object]] = []

    def drop() -> None:
        for rel, size in samples.items():
            path = base / "outbox" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(size))

    def shot(name: str, widget: object | None = None) -> None:
        target = widget or window
        target.grab().save(str(out / f"{name}.png"))  # type: ignore[attr-defined]
        print("saved", out / f"{name}.png", flush=True)

    def tab(view: object, name: str) -> None:
        window.tabs.setCurrentWidget(view)  # type: ignore[arg-type]
        shoot(app, shot, name, args.dark)

    def tray_menu() -> None:
        if not openmsi.tray.available:
            print("no system tray: skipping the tray menu", flush=True)
            return
        window.hide()
        geometry = openmsi.tray.icon.geometry()
        openmsi.tray.menu.popup(QPoint(geometry.right() - 240, geometry.bottom() + 4))
        QTimer.singleShot(500, lambda: shot("tray-menu", openmsi.tray.menu))

    def preferences() -> None:
        openmsi.show_preferences()
        dialog = window.findChildren(__import__("PySide6.QtWidgets").QtWidgets.QDialog)[-1]
        # the lab overview's group ticked, to show it filled in (not saved)
        QTimer.singleShot(300, lambda: (dialog.lab.report.setChecked(True),
                                        shot("preferences", dialog), dialog.close()))

    def wizard() -> None:
        openmsi.show_wizard()
        assert openmsi._wizard is not None
        openmsi._wizard.resize(720, 520)
        QTimer.singleShot(400, lambda: (shot("wizard", openmsi._wizard),
                                        openmsi._wizard.reject()))

    def dark() -> None:
        apply_theme(app, "dark")
        window.tabs.setCurrentWidget(window.transfers)
        QTimer.singleShot(400, lambda: (shot("transfers-dark"), apply_theme(app, "light")))

    steps = [(6000, drop), (7000, lambda: half_lost_file(openmsi)),
             (8000, lambda: populate(store, openmsi.controller.embedded_bootstrap)),
             (15500, lambda: select_failed(window.transfers)),
             (16000, lambda: tab(window.transfers, "transfers")),
             (17000, lambda: (window.transfers.tabs.setCurrentIndex(1)
                              if hasattr(window.transfers, "tabs") else None)),
             (19000, lambda: tab(window.transfers, "history")),
             (20000, lambda: (window.transfers.tabs.setCurrentIndex(0)
                              if hasattr(window.transfers, "tabs") else None)),
             (20300, lambda: stalled(app, window, shot)),
             (20600, lambda: problems(app, window, shot)),
             (21000, lambda: tab(window.folders, "watched-folders")),
             (21900, lambda: folders_advanced(app, window, shot)),  # after the dark shot
             (22000, lambda: tab(window.destinations, "destinations")),
             (23000, lambda: tab(window.profiles, "brokers")),
             (24000, lambda: tab(window.log, "log")),
             (24900, lambda: lab(app, window, shot, args.dark))]
    # After the lab's dark shot (--dark); the limit's settings change re-applies the theme,
    # so the dark transfers shot comes once that has happened.
    steps += [(delay + 1000, action) for delay, action in [
        (24900, lambda: bandwidth_limited(openmsi, shot)),
        (25700, dark), (26500, wizard), (28000, preferences),
        (28100, lambda: audit(openmsi, shot)),
        # The app needs attention from then on: files not confirmed in time, ...
        (28300, lambda: expect_offsite(openmsi)),
        (32300, lambda: unconfirmed(app, openmsi, shot)),
        (32600, lambda: after_delivery(app, openmsi, base, shot)),
        (33400, lambda: processing(app, openmsi, shot)),  # after the preview's revert
        (34700, lambda: information(app, openmsi, shot)),  # its fields saved, for the tray
        # ... and a broker that is switched off.
        (36000, lambda: no_broker(app, openmsi, base, shot)),
        (42600, lambda: encryption(app, openmsi, shot)),  # after no_broker's shot
        (44500, tray_menu), (46000, openmsi.quit)]]
    for delay, action in steps:
        QTimer.singleShot(delay, action)  # type: ignore[arg-type]
    app.exec()


if __name__ == "__main__":
    main()
