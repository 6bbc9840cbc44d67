"""The embedded broker behind the demo profile: started when first needed, and kept running.

Jobs on the demo profile connect to the address it had when they started. If
the broker process stops (it crashed, or was killed), it is started again on
that same port, where those jobs reconnect by themselves, with the topics they
use; a new broker on another port would leave them waiting on the dead one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.kafka_config import KafkaConfig

log = logging.getLogger(__name__)


class DemoBroker:
    """The app's one embedded broker.

    Args:
        topics: the topics the jobs on the demo profile use now (made again after a restart,
            should they be gone).
        data_dir: where it keeps its data (messages, committed offsets) across restarts.
    """

    def __init__(self, topics: Callable[[], set[str]], data_dir: Path) -> None:
        self._topics = topics
        self._data_dir = data_dir
        self._lock = threading.Lock()
        self._broker: EmbeddedBroker | None = None

    @property
    def bootstrap_servers(self) -> str:
        """Its address once started ("" before)."""
        return self._broker.bootstrap_servers if self._broker else ""

    def ensure(self) -> EmbeddedBroker:
        """The running broker: started now if needed, on its former port if it stopped."""
        with self._lock:
            if self._broker is not None and self._broker.running:
                return self._broker
            restart = self._broker is not None
            port = None
            if self._broker is not None:
                port = self._broker.port
                self._broker.stop()  # what is left of it (its storage)
            self._broker = EmbeddedBroker(port=port, data_dir=self._data_dir).start()
            if not restart:
                log.info("embedded broker running at %s", self._broker.bootstrap_servers)
                return self._broker
            log.warning("the local demo broker had stopped; it runs again at %s",
                        self._broker.bootstrap_servers)
            config = KafkaConfig.for_bootstrap(self._broker.bootstrap_servers)
            for topic in sorted(self._topics()):
                admin.create_topic(config, topic)
            return self._broker

    def revive(self) -> None:
        """Start it again if it was started and has stopped since (blocking)."""
        if self._broker is not None and not self._broker.running:
            self.ensure()

    @property
    def started(self) -> bool:
        """Whether it was started (it may have stopped since)."""
        return self._broker is not None

    def stop(self) -> None:
        """Stop it for good (at quit)."""
        with self._lock:
            broker, self._broker = self._broker, None
        if broker is not None:
            broker.stop()
