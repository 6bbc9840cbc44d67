"""Jobs on an encrypted profile wait for the KafkaCrypto component instead of failing.

The installed app leaves KafkaCrypto out (GPL-2.0-only) until the user installs
it (see :mod:`openmsi_gui.platform.components`). Until then a folder or a
destination whose broker profile names an encryption node does not start: it
*waits*, saying in one sentence what to do, and nothing is read or committed,
so every file is sent or received once the component is there. The controller
tries such jobs again every :data:`RETRY_SECONDS` (cheaply: no keychain, no
broker) and at once when the component is installed from this process.
"""

from __future__ import annotations

from openmsi_gui.app.settings import BrokerProfile
from openmsi_gui.app.text import sentence
from openmsi_gui.engine import crypto
from openmsi_gui.platform.components import activate

RETRY_SECONDS = 10.0
"""How often a job waiting for the component looks for it again."""
WAITING = sentence(crypto.INSTALL_HINT)
"""What a job waiting for the component says (the state's detail)."""


def component_missing(profile: BrokerProfile) -> bool:
    """Whether jobs on ``profile`` need KafkaCrypto and it cannot be imported (blocking).

    A component that another process (``openmsi encryption install``) installed
    meanwhile is put on ``sys.path`` first, so it is found without a restart.
    """
    if not profile.crypto_node_id.strip():
        return False
    if crypto.kafkacrypto_available():
        return False
    activate()
    return not crypto.kafkacrypto_available()


__all__ = ["RETRY_SECONDS", "WAITING", "component_missing"]
