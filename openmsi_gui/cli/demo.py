"""``openmsi demo``: the whole product on one machine, with nothing to install.

It starts the embedded broker, creates a topic, watches ``outbox/`` and
rebuilds everything into ``inbox/``. Whatever the user drops into the outbox
appears, verified, in the inbox.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from openmsi_gui.app.demo import DemoFolders
from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.jobs import DownloadJob, WatchJob, WatchOptions
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry

log = logging.getLogger("openmsi")
DEMO_TOPIC = "openmsi-demo"


def run_demo(folder: Path | None, duration: float, bus: EventBus,
             wait: Callable[[threading.Event, float], None]) -> int:
    """Run the demo until a signal (or ``duration`` seconds); return the exit code."""
    folders = DemoFolders.at(folder).create()
    base, outbox, inbox = folders.base, folders.outbox, folders.inbox
    # The broker keeps its data in the demo folder: a demo stopped mid-transfer and
    # started again on the same folder finishes every file.
    with EmbeddedBroker(data_dir=base / "broker") as broker:
        config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
        admin.create_topic(config, DEMO_TOPIC, partitions=3)
        registry = Registry(base / "registry.sqlite3")
        watch = WatchJob(config, outbox, WatchOptions(DEMO_TOPIC, upload_existing=True,
                                                      stable_seconds=1.0),
                         bus, registry, name="outbox")
        download = DownloadJob(config, DEMO_TOPIC, inbox, bus, registry,
                               group_id="openmsi-demo", name="inbox")
        download.start()
        watch.start()
        print(
            f"\nOpenMSI demo is running on a local broker at {broker.bootstrap_servers}.\n"
            f"{folders.instructions()}\n"
            "Press Ctrl-C to stop.\n", flush=True)
        try:
            wait(threading.Event(), duration)
        finally:
            watch.stop()
            download.stop()
            registry.close()
    return 0
