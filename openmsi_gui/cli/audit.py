"""``openmsi audit``: whether every file sent on a topic reached every destination.

Runs on any machine that can read the data topic and its receipts topic and is
paired (``openmsi pair add``) with the destinations, and with the senders whose
sent records it should believe. Prints one row per file and a summary line, or
``--json``; exits 0 when every file is confirmed by every expected destination,
1 otherwise (2 for a usage or broker error).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from openmsi_gui.app import audit, pairing
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger("openmsi")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    """Add ``audit`` to the ``openmsi`` parser (the caller adds --config and --topic)."""
    parser = sub.add_parser(
        "audit", help="check that every file sent on a topic reached every expected "
                      "destination",
        description="Reads the topic and its receipts topic (from the beginning, or --since) "
                    "and prints one row per file sent: path, size, SHA-512, when it was sent "
                    "and, per expected destination, 'delivered' with its time, 'failed: "
                    "reason' or 'missing'. Only receipts signed by destinations paired here "
                    "('openmsi pair add CODE') are trusted. Exit code 0 when every file is "
                    "confirmed by every expected destination, 1 otherwise.")
    parser.add_argument("--expect", action="append", default=[], metavar="NAME",
                        help="a destination that must confirm every file (repeatable, or "
                             "comma-separated; default: every destination heard from)")
    parser.add_argument("--since", metavar="ISO_DATE",
                        help="only files sent at or after this date or time (local time "
                             "unless an offset is given), e.g. 2026-12-01 or "
                             "2026-12-01T08:00")
    parser.add_argument("--receipts-topic", metavar="TOPIC",
                        help="where the receipts are (default: TOPIC.receipts)")
    parser.add_argument("--sent-records-only", action="store_true",
                        help="find the files from their senders' sent records only, without "
                             "reading the data topic (fast on a large topic; files sent by "
                             "openmsistream, which adds none, are not found)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--csv", type=Path, metavar="FILE",
                        help="also write the report to FILE as CSV (the app's export)")
    return parser


def expected_names(values: list[str]) -> list[str]:
    """The ``--expect`` names: repeatable and comma-separated, blanks dropped."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def cmd_audit(args: argparse.Namespace, config: KafkaConfig) -> int:
    """``openmsi audit`` (errors are the caller's to print as one sentence).

    Raises:
        SinceError: ``--since`` is not a date.
    """
    since = audit.parse_since(args.since) if args.since else None
    data_dir: Path | None = args.data_dir
    trust = {**pairing.own_identities(data_dir), **pairing.trusted_identities(data_dir)}
    expected = expected_names(args.expect)
    if not trust:
        log.warning("no destination is paired here, so no receipt can be trusted: pair "
                    "each destination first (openmsi pair add CODE)")
    known = {public.name for public in trust.values()}
    for name in expected:
        if trust and name not in known:
            log.warning("'%s' is expected but not paired here, so its receipts are not "
                        "believed: run 'openmsi pair show --name %s' on its machine and "
                        "'openmsi pair add CODE' here", escaped(name), escaped(name))
    report = audit.run_audit(config, args.topic, trust, expected, since,
                             args.receipts_topic or "", read_data=not args.sent_records_only)
    if args.csv is not None:
        audit.export_csv(args.csv, report)
    if args.json:
        print(audit.json_text(report))
    else:
        print("\n".join(audit.text_lines(report)))
    sys.stdout.flush()
    return report.exit_code
