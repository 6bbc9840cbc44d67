"""The ``openmsi`` command line's arguments, apart from the commands that run them.

:mod:`openmsi_gui.cli.main` runs what is parsed here, and
:mod:`openmsi_gui.cli.service` checks a service's command with it before
installing it, so neither imports the other.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from openmsi_gui import __version__
from openmsi_gui.app.settings import MAX_STALL_MINUTES, MIN_STALL_MINUTES
from openmsi_gui.app.stalls import DEFAULT_STALL_MINUTES
from openmsi_gui.cli import after, reporting
from openmsi_gui.cli.arg_types import number_between
from openmsi_gui.cli.audit import add_parser as add_audit_parser
from openmsi_gui.cli.diagnostics import add_parser as add_diagnostics_parser
from openmsi_gui.cli.encryption import add_parser as add_encryption_parser
from openmsi_gui.cli.pair import add_parser as add_pair_parser
from openmsi_gui.cli.pair import receipt_args, sender_args, watch_receipt_args
from openmsi_gui.cli.plugins import add_parser as add_plugins_parser
from openmsi_gui.cli.processing import add_parsers as add_processing_parsers
from openmsi_gui.cli.processing import add_then_args
from openmsi_gui.cli.provision import add_parser as add_provision_parser
from openmsi_gui.cli.status import add_parser as add_status_parser
from openmsi_gui.engine import wire
from openmsi_gui.engine.bandwidth import BandwidthError, Timetable
from openmsi_gui.engine.confirmation import DEFAULT_DEADLINE, MAX_AUTO_RESENDS
from openmsi_gui.engine.durations import DurationError, parse_duration

DESCRIPTION = "``openmsi``: upload, watch, download and try the engine without a GUI."


def _broker_args(parser: argparse.ArgumentParser, topic: bool = True) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--config", help="OpenMSIStream INI config file (path or bare name)")
    group.add_argument("--bootstrap-servers", metavar="HOST:PORT",
                       help="plaintext broker address, instead of a config file")
    if topic:
        parser.add_argument("--topic", "--topic_name", dest="topic", required=True,
                            help="Kafka topic")


def _chunk_size(text: str) -> int:
    try:
        return wire.check_chunk_size(int(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _bwlimit(text: str) -> Timetable:
    try:
        return Timetable.parse(text)
    except BandwidthError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _bwlimit_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bwlimit", type=_bwlimit, default=Timetable(), metavar="LIMIT",
        help="bandwidth limit, as rclone's: 8M (MiB/s; K, M, G are binary multiples), "
             "10M:1M (upload:download), off, or a timetable such as \"08:00,4M 18:00,off\" "
             "or \"Mon-08:00,4M Sat-00:00,off\" (local time; default: off)")


def duration(text: str) -> float:
    """A duration flag (``90s``, ``20m``, ``1h``, ``7d``) in seconds."""
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _expect_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "delivery", "Destinations that must confirm each file by a receipt (pair them first: "
                    "openmsi pair add CODE). A file they have not confirmed by the deadline "
                    "is reported as not confirmed.")
    group.add_argument("--expect", metavar="NAME[,NAME...]", type=_names, action="extend",
                       default=[], help="a destination's name (repeatable, or comma-separated)")
    group.add_argument("--deadline", type=duration, default=DEFAULT_DEADLINE,
                       metavar="DURATION", help="how long after sending a file the expected "
                       "destinations have to confirm it: 90s, 20m, 1h, 7d (default 1h)")
    group.add_argument("--resend", action="store_true",
                       help=f"send a file that is not confirmed again by itself (at most "
                            f"{MAX_AUTO_RESENDS} times for the same content)")


def _sending_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chunk-size", "--chunk_size", type=_chunk_size,
                        default=wire.DEFAULT_CHUNK_SIZE)
    parser.add_argument("--workers", type=int, default=2)
    _bwlimit_arg(parser)


def _upload_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--root", type=Path,
                        help="name each file by its path relative to ROOT, as `openmsi watch "
                             "ROOT` does (default: by its name alone)")
    _broker_args(parser)
    sender_args(parser)
    _sending_args(parser)
    _stall_arg(parser)


_stall_minutes = number_between(MIN_STALL_MINUTES, MAX_STALL_MINUTES, "minutes")


def _stall_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stall-minutes", type=_stall_minutes, default=DEFAULT_STALL_MINUTES,
                        metavar="MINUTES",
                        help="warn about a file without progress this long while the broker "
                             f"answers (default {DEFAULT_STALL_MINUTES:g})")


def _filter_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "which files are sent",
        "GLOB patterns: * within a name, ** across folders, ? one character, [abc] one of; "
        "without / they match a name in any folder (*.tmp), with / they start at the watched "
        "folder (raw/*.tif); a folder matches everything inside it (**/scratch/**). "
        "Comma-separated lists work too.")
    group.add_argument("--include", action="append", default=[], metavar="GLOB",
                       help="send only files matching GLOB (repeatable; default: every file)")
    group.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                       help="skip files matching GLOB (repeatable)")
    group.add_argument("--include-temporary", action="store_true",
                       help="also send temporary and lock files (~$*, *.tmp, *.part, "
                            "Thumbs.db, ...), skipped by default")
    group.add_argument("--include-hidden", action="store_true",
                       help="also send names starting with '.'")
    group.add_argument("--include-regex", default="", metavar="REGEX",
                       help="send only paths (relative, with /) in which REGEX is found")
    group.add_argument("--exclude-regex", default="", metavar="REGEX",
                       help="skip paths (relative, with /) in which REGEX is found")


def _metadata_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "information sent with each file",
        "Fields that travel with every file as a Kafka message header (OpenMSIStream "
        "consumers ignore it and still rebuild the files); destinations keep them.")
    group.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                       help="a fixed field, e.g. --meta instrument=SEM-2 (repeatable)")
    group.add_argument("--meta-from-path", default="", metavar="REGEX",
                       help="named groups of REGEX found in each file's relative path become "
                            "fields, e.g. '(?P<sample>[^/]+)/'")
    group.add_argument("--sample", default="", metavar="S",
                       help="the current sample or run, sent as the field 'sample'")
    group.add_argument("--require-sample", action="store_true",
                       help="refuse to send files without a current sample (needs --sample)")


def download_regex_arg(parser: argparse.ArgumentParser) -> None:
    """``--download-regex`` (OpenMSIStream's ``--download_regex``): take only some files."""
    parser.add_argument("--download-regex", "--download_regex", dest="download_regex",
                        default="", metavar="REGEX",
                        help="take only files whose relative path (with /) matches REGEX from "
                             "its start, as OpenMSIStream does; the others are skipped, "
                             "counted and read past")


def _sidecar_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sidecar", action="store_true",
                        help="write each file's information as <name>.metadata.json beside it")


class _VersionAction(argparse.Action):
    """``--version``: ours, then the native libraries' (loaded only when asked)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from openmsi_gui.platform.bundle import native_versions

        print("\n".join((f"{parser.prog} {__version__}", *native_versions())))
        parser.exit()


def _receiving_args(parser: argparse.ArgumentParser) -> None:
    """The options ``download`` and ``download-s3`` share."""
    parser.add_argument("--group", "--consumer_group_id", dest="group",
                        help="consumer group id (default: [consumer] group.id, else a new one)")
    receipt_args(parser)
    add_then_args(parser)
    download_regex_arg(parser)
    _bwlimit_arg(parser)
    _running_args(parser)


def _process_running_args(parser: argparse.ArgumentParser) -> None:
    """The options ``openmsi process`` shares with the download commands besides its own."""
    download_regex_arg(parser)
    _bwlimit_arg(parser)
    _running_args(parser)


def _running_args(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that run until stopped: stalls, the lab overview."""
    _stall_arg(parser)
    reporting.add_args(parser)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="openmsi", description=DESCRIPTION)
    parser.add_argument("--version", action=_VersionAction, nargs=0,
                        help="show the version, and those of librdkafka and libsodium")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-file", "--logger_file_path", type=Path, dest="log_file",
                        help="also write the log to this file (rotated at 5 MB, 5 kept), "
                             "e.g. for a service; OpenMSIStream's --logger_file_path")
    parser.add_argument("--data-dir", type=Path,
                        help="folder for the registry (default: the per-user data folder)")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("upload", help="send files and exit once every chunk is acknowledged")
    _upload_args(up)
    up.add_argument("--again", action="store_true",
                    help="send every chunk even if the same content was sent already")
    again = sub.add_parser(
        "send-again", help="send files again, every chunk, even if the same content was sent "
                           "(a file that stalled: the receivers never got it whole)")
    _upload_args(again)

    _add_watch_parser(sub)

    down = sub.add_parser("download", help="rebuild files from a topic (until Ctrl-C)")
    down.add_argument("folder", type=Path)
    _broker_args(down)
    _sidecar_arg(down)
    _receiving_args(down)

    s3 = sub.add_parser("download-s3", help="rebuild files from a topic into an S3 bucket "
                                             "(until Ctrl-C)",
                        description="Objects go to PREFIX/TOPIC/SUBFOLDERS/NAME (OpenMSIStream's "
                                    "layout when PREFIX is empty), with sha512 metadata. The "
                                    "secret key is read from $OPENMSI_S3_SECRET_ACCESS_KEY, "
                                    "else the config file's [s3] secret_key_id, else the AWS "
                                    "SDK's usual sources.")
    _broker_args(s3)
    s3.add_argument("--bucket", "--bucket_name", dest="bucket", required=True)
    s3.add_argument("--prefix", default="", help="key prefix (default: none)")
    s3.add_argument("--endpoint-url", help="S3-compatible endpoint (default: [s3] endpoint_url, "
                                           "else AWS)")
    s3.add_argument("--region", help="region (default: [s3] region)")
    s3.add_argument("--access-key-id", help="access key (default: [s3] access_key_id)")
    _receiving_args(s3)

    topic = sub.add_parser("topic", help="list or create topics")
    topic.add_argument("action", choices=["create", "list"])
    topic.add_argument("name", nargs="?")
    _broker_args(topic, topic=False)
    topic.add_argument("--partitions", type=int, default=3)

    hist = sub.add_parser("history", help="print every file sent or received, as CSV")
    hist.add_argument("--limit", type=int, default=1000)

    demo = sub.add_parser("demo", help="try it: a local broker, a watched folder and a "
                                        "destination folder")
    demo.add_argument("--folder", type=Path,
                      help="where to create outbox/ and inbox/ (default: demo/ in the user data "
                           "folder, reused from one run to the next)")
    demo.add_argument("--duration", type=float, default=0.0,
                      help="stop by itself after this many seconds (default: run until Ctrl-C)")
    _add_job_parsers(sub)
    add_provision_parser(sub)
    add_encryption_parser(sub)
    add_pair_parser(sub)
    _add_reading_parsers(sub)
    _add_local_parsers(sub)
    return parser



def _add_local_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands about this computer only: ``diagnostics`` and ``plugins``."""
    add_diagnostics_parser(sub)
    add_plugins_parser(sub)


def _add_watch_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    watch = sub.add_parser("watch", help="send every file that lands in a folder (until Ctrl-C)")
    watch.add_argument("folder", type=Path)
    _broker_args(watch)
    watch.add_argument("--upload-existing", "--upload_existing", action="store_true",
                       help="also send files already in the folder")
    _filter_args(watch)
    watch.add_argument("--stable-seconds", type=float, default=3.0,
                       help="wait until a file is unchanged this long (default 3)")
    watch.add_argument("--polling", "--use_polling_observer", action="store_true",
                       help="poll the folder (for network drives)")
    _metadata_args(watch)
    watch_receipt_args(watch)
    _expect_args(watch)
    after.add_args(watch, duration)
    _sending_args(watch)
    _running_args(watch)


def _add_reading_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands that read a broker once and report: ``audit`` and ``status``."""
    _broker_args(add_audit_parser(sub))
    _broker_args(add_status_parser(sub, duration), topic=False)


def add_service_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``openmsi service`` (also accepted after its NAME)."""
    parser.add_argument("--system", action="store_true",
                        help="a system service started at boot (needs sudo; runs as you)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="a secret for the config's $KEY, kept in an owner-only file "
                             "(repeatable)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be installed, change nothing")


def _add_job_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``process`` and ``reprocess`` (processing only), and ``service`` that runs such jobs."""
    add_processing_parsers(sub, _broker_args, _process_running_args, download_regex_arg)
    _add_service_parser(sub)


def _add_service_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "service", help="run watch or download as a service (systemd, launchd, Task Scheduler)",
        description="Install, remove or check a service running 'openmsi watch' or "
                    "'openmsi download'. Put the command after '--'.",
        epilog="example: openmsi service install lab -- watch /data --config lab.config "
               "--topic lab-data")
    parser.add_argument("action", choices=["install", "remove", "status"])
    parser.add_argument("name", help="the service's name (openmsi-NAME)")
    add_service_options(parser)
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                        help="watch|download FOLDER ... or download-s3 --bucket B ... "
                             "(install only)")
