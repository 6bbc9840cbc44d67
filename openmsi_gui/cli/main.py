"""``openmsi``: upload, watch, download and try the engine without a GUI.

Errors are reported as one sentence with the fix and exit code 2; a run in
which some files failed exits with 1. SIGINT and SIGTERM stop long-running
commands gracefully: in-flight chunks are flushed, received data is stored
and offsets are committed before the process exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from openmsi_gui import __version__
from openmsi_gui.cli.progress import ConsoleReporter
from openmsi_gui.cli.provision import add_parser as add_provision_parser
from openmsi_gui.cli.provision import cmd_provision
from openmsi_gui.cli.service import add_parser as add_service_parser
from openmsi_gui.cli.service import cmd_service
from openmsi_gui.cli.signals import STOP, wait_for_signal
from openmsi_gui.engine import admin, wire
from openmsi_gui.engine.crypto import CryptoSetupError, cipher_for
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.jobs import DownloadJob, WatchJob, WatchOptions
from openmsi_gui.engine.kafka_config import ConfigError, KafkaConfig, load_config
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.s3 import S3Error, S3Location, check_bucket_name, staging_dir
from openmsi_gui.engine.uploader import Uploader, UploadError, UploadOutcome
from openmsi_gui.engine.watcher import DEFAULT_EXCLUDE, FileFilter

log = logging.getLogger("openmsi")


class UsageError(Exception):
    """A problem the user fixes by changing the command or the environment."""


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="openmsi", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--data-dir", type=Path,
                        help="folder for the registry (default: the per-user data folder)")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("upload", help="send files and exit once every chunk is acknowledged")
    up.add_argument("files", nargs="+", type=Path)
    _broker_args(up)
    up.add_argument("--chunk-size", "--chunk_size", type=_chunk_size,
                    default=wire.DEFAULT_CHUNK_SIZE)
    up.add_argument("--workers", type=int, default=2)

    watch = sub.add_parser("watch", help="send every file that lands in a folder (until Ctrl-C)")
    watch.add_argument("folder", type=Path)
    _broker_args(watch)
    watch.add_argument("--upload-existing", "--upload_existing", action="store_true",
                       help="also send files already in the folder")
    watch.add_argument("--include", default="", help="send only paths matching this regex")
    watch.add_argument("--exclude", default=DEFAULT_EXCLUDE,
                       help="skip paths matching this regex (default: temporary files)")
    watch.add_argument("--include-hidden", action="store_true",
                       help="also send names starting with '.'")
    watch.add_argument("--stable-seconds", type=float, default=3.0,
                       help="wait until a file is unchanged this long (default 3)")
    watch.add_argument("--polling", "--use_polling_observer", action="store_true",
                       help="poll the folder (for network drives)")
    watch.add_argument("--chunk-size", "--chunk_size", type=_chunk_size,
                       default=wire.DEFAULT_CHUNK_SIZE)
    watch.add_argument("--workers", type=int, default=2)

    down = sub.add_parser("download", help="rebuild files from a topic (until Ctrl-C)")
    down.add_argument("folder", type=Path)
    _broker_args(down)
    down.add_argument("--group", "--consumer_group_id", dest="group",
                      help="consumer group id (default: [consumer] group.id, else a new one)")

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
    s3.add_argument("--group", "--consumer_group_id", dest="group",
                    help="consumer group id (default: [consumer] group.id, else a new one)")

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
                      help="where to create outbox/ and inbox/ (default: a temporary folder)")
    demo.add_argument("--duration", type=float, default=0.0,
                      help="stop by itself after this many seconds (default: run until Ctrl-C)")
    add_service_parser(sub)
    add_provision_parser(sub)
    return parser


def _config(args: argparse.Namespace) -> KafkaConfig:
    if args.config:
        return load_config(args.config)
    return KafkaConfig.for_bootstrap(args.bootstrap_servers)


def _registry(args: argparse.Namespace) -> Registry:
    data_dir: Path | None = args.data_dir
    try:
        return Registry(data_dir / "registry.sqlite3" if data_dir else None)
    except OSError as exc:
        raise UsageError(f"cannot open the registry: {exc.strerror or exc}: pass a writable "
                         "--data-dir") from exc


def cmd_upload(args: argparse.Namespace, bus: EventBus) -> int:
    """``openmsi upload``."""
    files: list[Path] = []
    for path in args.files:
        if not path.is_file():
            raise UsageError(f"{path} is not a file: check the path")
        if not os.access(path, os.R_OK):
            raise UsageError(f"cannot read {path}: permission denied")
        files.append(path.resolve())
    config = _config(args)
    cipher = cipher_for(config)
    if cipher is not None:
        log.warning("the topic is encrypted: receivers get the keys while a producer with node "
                    "%s is running; keep one running (openmsi watch) until they have them",
                    cipher.node_id)
    registry = _registry(args)
    uploader = Uploader(config, args.topic, bus, registry, job="upload",
                        chunk_size=args.chunk_size, workers=args.workers, cipher=cipher)
    try:
        uploader.start()
    except Exception:
        registry.close()
        if cipher is not None:
            cipher.close()
        raise
    stop = threading.Event()
    try:
        for path in files:
            uploader.submit(path.parent, path)
        def wait_then_stop() -> None:
            uploader.wait_idle()
            stop.set()

        threading.Thread(target=wait_then_stop, name="upload-wait", daemon=True).start()
        wait_for_signal(stop)
    finally:
        uploader.stop()
        registry.close()
        if cipher is not None:
            cipher.close()
    results = uploader.results()
    failed = [r for r in results if r.outcome is UploadOutcome.FAILED]
    if len(results) < len(files) or failed:
        return 1
    return 0


def cmd_watch(args: argparse.Namespace, bus: EventBus) -> int:
    """``openmsi watch``."""
    folder: Path = args.folder
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: check the path")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise UsageError(f"cannot read {folder}: permission denied")
    try:
        file_filter = FileFilter(args.include, args.exclude, args.include_hidden)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    options = WatchOptions(topic=args.topic, upload_existing=args.upload_existing,
                           file_filter=file_filter, stable_seconds=args.stable_seconds,
                           polling=args.polling, chunk_size=args.chunk_size,
                           workers=args.workers)
    registry = _registry(args)
    job = WatchJob(_config(args), folder, options, bus, registry, name="watch")
    job.start()
    log.info("watching %s → topic %s (Ctrl-C to stop)", folder, args.topic)
    try:
        wait_for_signal(threading.Event())
    finally:
        job.stop()
        registry.close()
    return 0


def cmd_download(args: argparse.Namespace, bus: EventBus) -> int:
    """``openmsi download``."""
    folder: Path = args.folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {folder}: {exc.strerror}") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to {folder}: permission denied")
    config = _config(args)
    admin.require_topic(config, args.topic)
    registry = _registry(args)
    job = DownloadJob(config, args.topic, folder, bus, registry, group_id=args.group,
                      name="download")
    return _run_download(job, registry, str(folder))


def _run_download(job: DownloadJob, registry: Registry, where: str) -> int:
    """Start ``job`` and run it until SIGINT/SIGTERM; exit 1 if it died on an error."""
    try:
        job.start()
    except Exception:
        registry.close()
        raise
    log.info("downloading topic %s → %s as group %s (Ctrl-C to stop)", job.downloader.topic,
             where, job.downloader.group_id)
    try:
        wait_for_signal(threading.Event())
    finally:
        job.stop()
        registry.close()
    return 0 if job.downloader.error is None else 1


def s3_location(args: argparse.Namespace, config: KafkaConfig) -> S3Location:
    """The bucket location from the flags, the config's ``[s3]`` section and the env."""
    section = config.sections.get("s3", {})
    try:
        bucket = check_bucket_name(args.bucket)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    secret = (os.environ.get("OPENMSI_S3_SECRET_ACCESS_KEY") or
              section.get("secret_key_id", ""))
    access_key = args.access_key_id or section.get("access_key_id", "")
    if access_key and not secret:
        raise UsageError("no S3 secret key: set $OPENMSI_S3_SECRET_ACCESS_KEY or [s3] "
                         "secret_key_id in the config file")
    return S3Location(bucket=bucket, prefix=args.prefix,
                      endpoint_url=args.endpoint_url or section.get("endpoint_url", ""),
                      region=args.region or section.get("region", ""),
                      access_key_id=access_key, secret_access_key=secret)


def cmd_download_s3(args: argparse.Namespace, bus: EventBus) -> int:
    """``openmsi download-s3``."""
    config = _config(args)
    location = s3_location(args, config)
    admin.require_topic(config, args.topic)
    registry = _registry(args)
    staging = staging_dir(location, args.topic, registry.path.parent)
    job = DownloadJob(config, args.topic, staging, bus, registry, group_id=args.group,
                      name="download", s3=location)
    return _run_download(job, registry, location.url)


def cmd_topic(args: argparse.Namespace, _bus: EventBus) -> int:
    """``openmsi topic``."""
    config = _config(args)
    if args.action == "list":
        for name, partitions in sorted(admin.list_topics(config).items()):
            print(f"{name}\t{partitions}")
        return 0
    if not args.name:
        raise UsageError("give the topic name: openmsi topic create NAME")
    created = admin.create_topic(config, args.name, args.partitions)
    print(f"created {args.name}" if created else f"{args.name} already exists")
    return 0


def cmd_history(args: argparse.Namespace, _bus: EventBus) -> int:
    """``openmsi history``: CSV on stdout."""
    import csv
    import datetime

    registry = _registry(args)
    writer = csv.writer(sys.stdout)
    writer.writerow(["direction", "topic", "path", "size", "status", "error", "started",
                     "completed", "sha512"])

    def stamp(t: float | None) -> str:
        return datetime.datetime.fromtimestamp(t).isoformat(timespec="seconds") if t else ""

    for row in registry.history(args.limit):
        writer.writerow([row.direction, row.topic, row.relpath, row.size, row.status, row.error,
                         stamp(row.started), stamp(row.completed), row.sha512_hex])
    registry.close()
    return 0


def cmd_demo(args: argparse.Namespace, bus: EventBus) -> int:
    """``openmsi demo``."""
    from openmsi_gui.cli.demo import run_demo

    return run_demo(args.folder, args.duration, bus, wait_for_signal)


COMMANDS: dict[str, Callable[[argparse.Namespace, EventBus], int]] = {
    "upload": cmd_upload, "watch": cmd_watch, "download": cmd_download, "topic": cmd_topic,
    "history": cmd_history, "demo": cmd_demo, "service": cmd_service,
    "download-s3": cmd_download_s3, "provision": cmd_provision,
}
# These stop gracefully on SIGINT/SIGTERM, even one that arrives while they start.
# The others keep Python's defaults, so Ctrl-C still interrupts a password prompt.
LONG_RUNNING = frozenset({"upload", "watch", "download", "download-s3", "demo"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``openmsi`` command line; return the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    if args.data_dir:
        os.environ["OPENMSI_GUI_DATA_DIR"] = str(args.data_dir)
    bus = EventBus()
    reporter = ConsoleReporter()
    bus.subscribe(reporter)
    if args.command in LONG_RUNNING:
        STOP.install()
    try:
        return COMMANDS[args.command](args, bus)
    except (UsageError, ConfigError, UploadError, admin.BrokerError, S3Error,
            CryptoSetupError) as exc:
        reporter.close()
        print(f"openmsi: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        STOP.restore()
        reporter.close()


if __name__ == "__main__":
    sys.exit(main())
