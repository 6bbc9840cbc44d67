"""Which destinations a watched folder expects to confirm its files, from its settings.

The deadline logic itself is the engine's (:mod:`openmsi_gui.engine.confirmation`);
this module turns a folder's settings (or the ``--expect`` flags) into an
:class:`~openmsi_gui.engine.confirmation.Expectation` and says when an expected
destination is not paired here (its receipts could never confirm anything).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from openmsi_gui.app import keychain, pairing
from openmsi_gui.app.settings import (
    MAX_DELIVERY_DEADLINE,
    MIN_DELIVERY_DEADLINE,
    WatchedFolder,
)
from openmsi_gui.app.text import duration_problem
from openmsi_gui.engine.confirmation import Expectation
from openmsi_gui.engine.receipt_keys import PairingError, PublicIdentity
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)


def folder_expectation(folder: WatchedFolder) -> Expectation | None:
    """What ``folder`` expects (None when it names no destination).

    Files sent before the folder was added are not looked at.
    """
    names = tuple(dict.fromkeys(n.strip() for n in folder.expected_destinations if n.strip()))
    if not names:
        return None
    return Expectation(names, folder.delivery_deadline, folder.resend_unconfirmed,
                       since=folder.added_at)


def deadline_problem(text: str) -> str | None:
    """What is wrong with a deadline as written on the folder form ("" is the default, 1h)."""
    return duration_problem(text, "Give a deadline, e.g. 1h (90s, 20m, 1h, 7d).",
                            MIN_DELIVERY_DEADLINE, MAX_DELIVERY_DEADLINE, "a deadline")


def paired_names(data_dir: Path | None = None) -> list[str]:
    """The names of the destinations paired here, sorted (blocks on the keychain)."""
    try:
        trusted = pairing.trusted_identities(data_dir)
    except (PairingError, keychain.KeychainError) as exc:
        log.warning("the paired destinations cannot be read: %s", exc)
        return []
    return sorted({public.name for public in trusted.values()}, key=str.casefold)


def pair(code: str, data_dir: Path | None = None) -> tuple[PublicIdentity, list[str]]:
    """Trust the identity ``code`` names, then list the names paired here (keychain: blocks).

    Raises:
        PairingError, KeychainError: the code cannot be read or stored (a sentence).
    """
    return pairing.trust(code, data_dir), paired_names(data_dir)


def unpaired(expected: Sequence[str], data_dir: Path | None = None) -> list[str]:
    """The expected names that no destination paired here has (their files stay unconfirmed)."""
    paired = set(paired_names(data_dir))
    return [name for name in expected if name not in paired]


def warn_unpaired(expected: Sequence[str], data_dir: Path | None = None) -> None:
    """Log one line per expected destination that is not paired here, with what to do."""
    for name in unpaired(expected, data_dir):
        log.warning("'%s' is expected to confirm every file but is not paired here, so its "
                    "receipts are not believed: run 'openmsi pair show --name %s' on its "
                    "machine and 'openmsi pair add CODE' here", escaped(name), escaped(name))
