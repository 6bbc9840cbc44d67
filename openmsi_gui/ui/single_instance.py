"""One running app per user: a second launch brings the first one forward."""

from __future__ import annotations

import getpass
import hashlib

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket


def server_name(config_dir: str) -> str:
    """A per-user, per-config-folder name (demo and tests don't collide with the real app)."""
    tag = hashlib.sha256(f"{getpass.getuser()}:{config_dir}".encode()).hexdigest()[:16]
    return f"openmsi-gui-{tag}"


class SingleInstance(QObject):
    """Claim the app's local socket, or tell the running instance to show itself.

    Signals:
        activated(): another launch asked this instance to come forward.
    """

    activated = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server: QLocalServer | None = None

    def notify_running(self, timeout_ms: int = 500) -> bool:
        """If an instance runs, ask it to show itself and return True."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.abort()
        return True

    def claim(self) -> bool:
        """Become the running instance; False if another one answers."""
        if self.notify_running():
            return False
        QLocalServer.removeServer(self.name)  # a stale socket left by a crash
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self.on_new_connection)
        return self._server.listen(self.name)

    def on_new_connection(self) -> None:
        # Any connection is a request to come forward; nothing else is spoken.
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.abort()
            socket.deleteLater()
            self.activated.emit()

    def close(self) -> None:
        """Release the name."""
        if self._server is not None:
            self._server.close()
            self._server = None
