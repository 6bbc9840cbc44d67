"""``openmsi pair``: trust a destination's delivery receipts, by a one-line code.

On the destination's machine::

    openmsi pair show --name lab-archive     # prints omsi-pair:...

On the sending (or auditing) machine::

    openmsi pair add omsi-pair:...

The destination's receipts then verify here. The code holds the destination's
public key and the key that opens its sealed receipts, never its signing key.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from openmsi_gui.app import pairing
from openmsi_gui.app.keychain import KeychainError
from openmsi_gui.engine.download.receipting import ReceiptOptions
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.receipt_keys import PairingError
from openmsi_gui.engine.receipt_listener import DeliveryWatch
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger("openmsi")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``pair`` subcommand to the ``openmsi`` parser."""
    parser = sub.add_parser(
        "pair", help="trust a destination's delivery receipts (show or add a pairing code)",
        description="'pair show --name NAME' on the destination's machine prints its pairing "
                    "code (one line); 'pair add CODE' on a sending machine trusts it; "
                    "'pair list' shows the destinations trusted here, 'pair remove' forgets "
                    "one.")
    actions = parser.add_subparsers(dest="pair_action", required=True)
    show = actions.add_parser("show", help="print the pairing code of a destination here")
    show.add_argument("--name", required=True,
                      help="the destination's name, as given to 'openmsi download --name'")
    add = actions.add_parser("add", help="trust the destination a pairing code names")
    add.add_argument("code", help="the line 'openmsi pair show' printed (omsi-pair:...)")
    actions.add_parser("list", help="list the destinations trusted here")
    remove = actions.add_parser("remove", help="stop trusting a destination's receipts")
    remove.add_argument("which", metavar="NAME|KEY_ID",
                        help="the destination's name or key id, as 'pair list' shows them")


def receipt_args(parser: argparse.ArgumentParser) -> None:
    """``--name``, ``--receipts-topic`` and ``--no-receipts`` of the download commands."""
    parser.add_argument("--name", help="this destination's name in its receipts (default: "
                                       "HOSTNAME:FOLDER or HOSTNAME:s3://BUCKET/PREFIX)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--receipts-topic", metavar="TOPIC",
                       help="where receipts go (default: TOPIC.receipts)")
    group.add_argument("--no-receipts", action="store_true",
                       help="send no delivery receipts")


def watch_receipt_args(parser: argparse.ArgumentParser) -> None:
    """``--name``, ``--receipts-topic`` and ``--no-receipts`` of ``openmsi watch``."""
    parser.add_argument("--name", help="this sender's name in the signed 'sent' records it "
                                       "adds to the receipts topic for audits (default: "
                                       "HOSTNAME:FOLDER; 'openmsi pair show --name NAME' "
                                       "prints its pairing code)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--receipts-topic", metavar="TOPIC",
                       help="where the destinations' receipts are, and the sent records go "
                            "(default: TOPIC.receipts)")
    group.add_argument("--no-receipts", action="store_true",
                       help="do not follow the destinations' receipts, add no sent records")


def sender_args(parser: argparse.ArgumentParser) -> None:
    """``--name``, ``--receipts-topic`` and ``--no-receipts`` of ``upload`` and ``send-again``."""
    parser.add_argument("--name", help="this sender's name in the signed 'sent' records it "
                                       "adds for audits (default: HOSTNAME:ROOT, as "
                                       "'openmsi watch ROOT' names itself)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--receipts-topic", metavar="TOPIC",
                       help="where the sent records go (default: TOPIC.receipts)")
    group.add_argument("--no-receipts", action="store_true", help="add no sent records")


def delivery_watch(args: argparse.Namespace, folder: Path) -> DeliveryWatch | None:
    """How ``openmsi watch`` follows receipts (None: not at all)."""
    if args.no_receipts:
        return None
    return pairing.delivery_watch(f"{folder.resolve()}|{args.topic}", args.data_dir,
                                  args.receipts_topic or "")


def receipt_options(args: argparse.Namespace, place: str) -> ReceiptOptions | None:
    """The receipts of a download command, or the sent records of ``openmsi watch``.

    None with ``--no-receipts``, or without a usable keychain (said once).

    Raises:
        PairingError: the name cannot name a destination.
    """
    if args.no_receipts:
        return None
    name = args.name or pairing.default_name(place)
    try:
        identity = pairing.identity(name, args.data_dir)
    except PairingError as exc:
        raise PairingError(f"--name: {exc}") from exc
    except KeychainError as exc:
        log.warning("no delivery receipts: %s (or pass --no-receipts)", exc)
        return None
    assert identity is not None
    return ReceiptOptions(identity, args.receipts_topic or "")


def cmd_pair(args: argparse.Namespace, _bus: EventBus) -> int:
    """``openmsi pair`` (PairingError and KeychainError are the caller's to print)."""
    data_dir: Path | None = args.data_dir
    if args.pair_action == "show":
        identity = pairing.identity(args.name, data_dir)
        assert identity is not None
        print(identity.public.pairing_code())
    elif args.pair_action == "add":
        public = pairing.trust(args.code, data_dir)
        print(f"trusting the receipts of '{escaped(public.name)}' (key {public.key_id})")
    elif args.pair_action == "remove":
        names = pairing.forget(args.which, data_dir)
        if not names:
            raise PairingError(f"no destination '{escaped(args.which)}' is trusted here: "
                               "'openmsi pair list' shows those that are")
        for name in names:
            print(f"no longer trusting the receipts of '{escaped(name)}'")
    else:
        for public in pairing.trusted_identities(data_dir).values():
            print(f"{escaped(public.name)}\t{public.key_id}")
    return 0
