"""``openmsi``: upload, watch, download and try the engine without a GUI.

Errors are reported as one sentence with the fix and exit code 2; a run in
which some files failed exits with 1, as does a watch or download whose job
kept dying (it is restarted with back-off first, see :mod:`.supervise`).
SIGINT and SIGTERM stop long-running commands gracefully: in-flight chunks
are flushed, received data is stored and offsets are committed before the
process exits.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from openmsi_gui.app import folder_ini
from openmsi_gui.app.bandwidth import describe_limit
from openmsi_gui.app.confirming import warn_unpaired
from openmsi_gui.app.file_information import DownloadRegexError, compile_download_regex
from openmsi_gui.app.keychain import KeychainError
from openmsi_gui.app.logfiles import setup_file_logging
from openmsi_gui.app.stalls import StallWatch
from openmsi_gui.app.validation import topic_problem
from openmsi_gui.cli import after
from openmsi_gui.cli.audit import cmd_audit as run_audit
from openmsi_gui.cli.diagnostics import cmd_diagnostics
from openmsi_gui.cli.encryption import cmd_encryption, wait_for_encryption
from openmsi_gui.cli.pair import cmd_pair, delivery_watch, receipt_options
from openmsi_gui.cli.parser import build_parser
from openmsi_gui.cli.plugins import cmd_plugins
from openmsi_gui.cli.processing import ProcessingArgsError, processing_options, run_reprocess
from openmsi_gui.cli.progress import ConsoleReporter
from openmsi_gui.cli.provision import cmd_provision
from openmsi_gui.cli.reporting import reporting
from openmsi_gui.cli.service import cmd_service
from openmsi_gui.cli.signals import STOP, wait_for_signal
from openmsi_gui.cli.status import cmd_status as run_status
from openmsi_gui.cli.supervise import run_supervised
from openmsi_gui.engine import admin
from openmsi_gui.engine.bandwidth import Limit, Pacer, Timetable
from openmsi_gui.engine.confirmation import Expectation
from openmsi_gui.engine.crypto import CryptoSetupError, cipher_for
from openmsi_gui.engine.events import Direction, EventBus
from openmsi_gui.engine.file_filter import FileFilter
from openmsi_gui.engine.globs import looks_like_regex, split_patterns
from openmsi_gui.engine.jobs import DownloadJob, WatchJob, WatchOptions
from openmsi_gui.engine.kafka_config import ConfigError, KafkaConfig, find_config, load_config
from openmsi_gui.engine.kafka_log import install_ring
from openmsi_gui.engine.link import BrokerUnreachable
from openmsi_gui.engine.metadata import (
    FolderMetadata,
    MetadataError,
    compile_path_regex,
    parse_fields,
    value_problem,
)
from openmsi_gui.engine.processing.plugins import HOST_COMMAND
from openmsi_gui.engine.processing.reprocess import private_area
from openmsi_gui.engine.receipt_keys import PairingError
from openmsi_gui.engine.registry import Registry, RegistryError
from openmsi_gui.engine.s3 import S3Error, S3Location, check_bucket_name, staging_dir
from openmsi_gui.engine.sent_records import SentRecords
from openmsi_gui.engine.upload_types import UploadError, UploadOutcome
from openmsi_gui.engine.uploader import Uploader
from openmsi_gui.platform.startup import prepare_process

log = logging.getLogger("openmsi")


class UsageError(Exception):
    """A problem the user fixes by changing the command or the environment."""


def _config(args: argparse.Namespace) -> KafkaConfig:
    if args.config:
        return load_config(args.config)
    return KafkaConfig.for_bootstrap(args.bootstrap_servers)


def _registry_dir(args: argparse.Namespace) -> Path:
    """The folder of the registry (and of processing's private areas)."""
    registry = _registry(args)
    registry.close()
    return registry.path.parent


def _registry(args: argparse.Namespace) -> Registry:
    data_dir: Path | None = args.data_dir
    try:
        return Registry(data_dir / "registry.sqlite3" if data_dir else None)
    except OSError as exc:
        raise UsageError(f"cannot open the registry: {exc.strerror or exc}: pass a writable "
                         "--data-dir") from exc


def _pacer(args: argparse.Namespace, direction: Direction) -> Pacer | None:
    """The ``--bwlimit`` pace for one direction, or None without a limit."""
    timetable: Timetable = args.bwlimit
    if timetable.is_off:
        return None
    log.info("bandwidth limit: %s", describe_limit(timetable, direction))
    return Pacer(direction, [Limit(timetable)])


def _upload_files(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """The files of ``openmsi upload``, each with the folder it is named relative to."""
    files: list[tuple[Path, Path]] = []  # (root, file)
    root: Path | None = args.root.resolve() if args.root else None
    for path in args.files:
        if not path.is_file():
            raise UsageError(f"{path} is not a file: check the path")
        if not os.access(path, os.R_OK):
            raise UsageError(f"cannot read {path}: permission denied")
        resolved = path.resolve()
        if root is not None and not resolved.is_relative_to(root):
            raise UsageError(f"{path} is not inside --root {args.root}: check both paths")
        files.append((root or resolved.parent, resolved))
    return files


def _sent_records(args: argparse.Namespace, config: KafkaConfig, sealed: bool,
                  uploader: Uploader, root: Path) -> SentRecords | None:
    """The signed sent records of ``openmsi upload`` (named as ``watch ROOT`` names itself)."""
    sent = receipt_options(args, str(root))
    if sent is None:
        return None
    records = SentRecords(config, args.topic, sent, sealed, uploader.job)
    uploader.add_result_listener(records.on_result)
    return records


def cmd_upload(args: argparse.Namespace, bus: EventBus) -> int:
    """``openmsi upload``."""
    files = _upload_files(args)
    again = args.command == "send-again" or args.again
    config = _config(args)
    cipher = cipher_for(config)
    if cipher is not None:
        log.warning("the topic is encrypted: receivers get the keys while a producer with node "
                    "%s is running; keep one running (openmsi watch) until they have them",
                    cipher.node_id)
    registry = _registry(args)
    uploader = Uploader(config, args.topic, bus, registry, job="upload",
                        chunk_size=args.chunk_size, workers=args.workers, cipher=cipher,
                        pacer=_pacer(args, Direction.UPLOAD))
    records = _sent_records(args, config, cipher is not None, uploader, files[0][0])
    try:
        uploader.start()
    except Exception:
        registry.close()
        if cipher is not None:
            cipher.close()
        raise
    stop = threading.Event()
    try:
        if records is not None:
            records.start()
        for folder, path in files:
            uploader.submit(folder, path, again=again)
        def wait_then_stop() -> None:
            uploader.wait_idle()
            stop.set()

        threading.Thread(target=wait_then_stop, name="upload-wait", daemon=True).start()
        wait_for_signal(stop)
    finally:
        uploader.stop()
        if records is not None:
            records.stop()
        registry.close()
        if cipher is not None:
            cipher.close()
    results = uploader.results()
    failed = [r for r in results if r.outcome is UploadOutcome.FAILED]
    if len(results) < len(files) or failed:
        return 1
    return 0


def _file_filter(args: argparse.Namespace) -> FileFilter:
    """The filter of ``openmsi watch``: its flags, else the config file's ``[watch]`` section."""
    flags = (args.include, args.exclude, args.include_regex, args.exclude_regex,
             args.include_temporary, args.include_hidden)
    try:
        if args.config and not any(flags):
            path = find_config(args.config)
            section = folder_ini.read_filter_section(path)
            if section is not None:
                log.info("sending the files that [watch] in %s chooses", path.name)
                fields = folder_ini.filter_fields(section)
                return FileFilter(include=tuple(fields["include_globs"]),
                                  exclude=tuple(fields["exclude_globs"]),
                                  skip_temporary=fields["skip_temporary"],
                                  skip_hidden=fields["skip_hidden"],
                                  include_regex=fields["include_regex"],
                                  exclude_regex=fields["exclude_regex"])
        for flag in ("include", "exclude"):
            for pattern in split_patterns(getattr(args, flag)):
                if looks_like_regex(pattern):
                    log.warning("--%s %r looks like a regular expression, but --%s takes glob "
                                "patterns (e.g. *.tmp); use --%s-regex for a regular "
                                "expression", flag, pattern, flag, flag)
        return FileFilter(include=tuple(split_patterns(args.include)),
                          exclude=tuple(split_patterns(args.exclude)),
                          skip_temporary=not args.include_temporary,
                          skip_hidden=not args.include_hidden,
                          include_regex=args.include_regex, exclude_regex=args.exclude_regex)
    except ValueError as exc:  # also ConfigError and FilterIniError
        raise UsageError(str(exc)) from exc


def _metadata(args: argparse.Namespace) -> FolderMetadata | None:
    """The fields ``openmsi watch`` sends with each file (None: none)."""
    try:
        fields = parse_fields(args.meta)
        pattern = compile_path_regex(args.meta_from_path)
    except MetadataError as exc:
        raise UsageError(str(exc)) from exc
    if (problem := value_problem("--sample", args.sample)) is not None:
        raise UsageError(f"{problem}: change it")
    if args.require_sample and not args.sample:
        raise UsageError("--require-sample holds every file until a sample is set: give it "
                         "with --sample S")
    metadata = FolderMetadata(fields, pattern, args.sample, args.require_sample)
    return metadata if metadata.sends_anything else None


def download_filter(args: argparse.Namespace) -> re.Pattern[str] | None:
    """The ``--download-regex`` of a receiving command (None: every file)."""
    try:
        return compile_download_regex(args.download_regex)
    except DownloadRegexError as exc:
        raise UsageError(str(exc)) from exc


def _topic_ready(config: KafkaConfig, topic: str, *, or_missing: bool = False) -> bool:
    """Whether the broker has ``topic``; False if a stop signal came meanwhile.

    ``or_missing``: a topic not made yet will do (a download waits for it, saying so).

    Raises:
        BrokerError: the broker cannot be reached, or has no such topic (a sentence).
    """
    stopped = lambda: STOP.received is not None  # noqa: E731
    if or_missing:
        return admin.wait_for_topics(config, stopped=stopped) is not None
    return admin.require_topic(config, topic, stopped=stopped) is not None


def cmd_watch(args: argparse.Namespace, bus: EventBus) -> int:
    """``openmsi watch``."""
    folder: Path = args.folder
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: check the path")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise UsageError(f"cannot read {folder}: permission denied")
    file_filter = _file_filter(args)
    metadata = _metadata(args)
    try:
        after_delivery = after.policy_of(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if args.preview:
        registry = _registry(args)
        try:
            return after.print_preview(registry, args.topic, folder, after_delivery)
        finally:
            registry.close()
    expect = None
    if args.expect and args.no_receipts:
        raise UsageError("--expect needs the destinations' receipts: drop --no-receipts")
    if args.expect:
        expect = Expectation(tuple(dict.fromkeys(args.expect)), args.deadline, args.resend)
        warn_unpaired(expect.destinations, args.data_dir)
    options = WatchOptions(topic=args.topic, upload_existing=args.upload_existing,
                           file_filter=file_filter, stable_seconds=args.stable_seconds,
                           polling=args.polling, chunk_size=args.chunk_size,
                           workers=args.workers, pacer=_pacer(args, Direction.UPLOAD),
                           delivery=delivery_watch(args, folder), expect=expect,
                           after_delivery=after_delivery, watch_began=time.time(),
                           sent_records=receipt_options(args, str(folder.resolve())),
                           metadata=metadata)
    config = _config(args)
    options.reporting = reporting(args, config, "watch", vars(args))
    if not wait_for_encryption(config) or not _topic_ready(config, args.topic):
        return 0
    registry = _registry(args)
    # A restart also sends what changed since the first start (the registry skips
    # what was sent already), so nothing written while the job was down is missed.
    restart = dataclasses.replace(options, since=time.time())
    made: list[WatchJob] = []

    def make_job() -> WatchJob:
        made[:] = [WatchJob(config, folder, restart if made else options, bus, registry,
                            name="watch")]
        return made[0]

    try:
        return run_supervised(make_job, bus, lambda: f"watching {folder} → topic "
                              f"{args.topic} (Ctrl-C to stop)")
    finally:
        registry.close()


def cmd_download(args: argparse.Namespace, bus: EventBus) -> int:
    """``openmsi download``."""
    processing = processing_options(args)
    folder: Path = args.folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {folder}: {exc.strerror}") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to {folder}: permission denied")
    wanted = download_filter(args)
    config = _config(args)
    if not wait_for_encryption(config) or not _topic_ready(config, args.topic,
                                                           or_missing=True):
        return 0
    receipts = receipt_options(args, str(folder.resolve()))
    registry = _registry(args)
    pacer = _pacer(args, Direction.DOWNLOAD)
    report = reporting(args, config, "download", vars(args))
    return _run_download(lambda group: DownloadJob(config, args.topic, folder, bus, registry,
                                                   group_id=group, name="download",
                                                   pacer=pacer, receipts=receipts,
                                                   reporting=report, processing=processing,
                                                   wanted=wanted, sidecar=args.sidecar),
                         args.group, registry, bus, str(folder))


def cmd_process(args: argparse.Namespace, bus: EventBus) -> int:
    """``openmsi process``: a processing-only destination (nothing kept but results)."""
    processing = processing_options(args, private=True, destination=f"process:{args.group}")
    wanted = download_filter(args)
    config = _config(args)
    if not wait_for_encryption(config) or not _topic_ready(config, args.topic,
                                                           or_missing=True):
        return 0
    registry = _registry(args)
    area = private_area(registry.path.parent, "process", config.bootstrap_servers, args.topic,
                        args.group)
    pacer = _pacer(args, Direction.DOWNLOAD)
    report = reporting(args, config, "process", vars(args))
    return _run_download(lambda group: DownloadJob(config, args.topic, area, bus, registry,
                                                   group_id=group, name="process",
                                                   pacer=pacer, reporting=report,
                                                   processing=processing, wanted=wanted),
                         args.group, registry, bus, f"processing in {area}")


def cmd_reprocess(args: argparse.Namespace, bus: EventBus) -> int:
    """``openmsi reprocess``: a processor over everything on a topic, then exit."""
    processing_options(args)  # checks the flags before connecting
    wanted = download_filter(args)
    config = _config(args)
    if not _topic_ready(config, args.topic):
        return 0
    return run_reprocess(config, args, bus, _registry_dir(args), wanted)


def _run_download(make_job: Callable[[str | None], DownloadJob], group: str | None,
                  registry: Registry, bus: EventBus, where: str) -> int:
    """Run a download job until SIGINT/SIGTERM, restarting it when it dies.

    ``make_job(group)`` makes the job; restarts reuse the first job's group
    (which may have been made up), so they read on from its offsets.
    """
    made: list[DownloadJob] = []

    def make() -> DownloadJob:
        made[:] = [make_job(made[0].downloader.group_id if made else group)]
        return made[0]

    def started() -> str:
        downloader = made[0].downloader
        return (f"downloading topic {downloader.topic} → {where} as group "
                f"{downloader.group_id} (Ctrl-C to stop)")

    try:
        return run_supervised(make, bus, started)
    finally:
        registry.close()


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
    processing = processing_options(args)
    wanted = download_filter(args)
    config = _config(args)
    location = s3_location(args, config)
    if not wait_for_encryption(config) or not _topic_ready(config, args.topic,
                                                           or_missing=True):
        return 0
    receipts = receipt_options(args, location.url)
    registry = _registry(args)
    staging = staging_dir(location, args.topic, registry.path.parent)
    pacer = _pacer(args, Direction.DOWNLOAD)
    report = reporting(args, config, "download-s3", vars(args))
    return _run_download(lambda group: DownloadJob(config, args.topic, staging, bus, registry,
                                                   group_id=group, name="download",
                                                   s3=location, pacer=pacer,
                                                   receipts=receipts, reporting=report,
                                                   processing=processing, wanted=wanted),
                         args.group, registry, bus, location.url)


def cmd_topic(args: argparse.Namespace, _bus: EventBus) -> int:
    """``openmsi topic``."""
    config = _config(args)
    if args.action == "list":
        for name, partitions in sorted((admin.wait_for_topics(config) or {}).items()):
            print(f"{name}\t{partitions}")
        return 0
    if not args.name:
        raise UsageError("give the topic name: openmsi topic create NAME")
    if (problem := topic_problem(args.name)) is not None:
        raise UsageError(problem)
    created = admin.create_topic(config, args.name, args.partitions)
    print(f"created {args.name}" if created else f"{args.name} already exists")
    return 0


def cmd_history(args: argparse.Namespace, _bus: EventBus) -> int:
    """``openmsi history``: CSV on stdout (the GUI's export format)."""
    from openmsi_gui.app.history_export import write_history

    registry = _registry(args)
    try:
        write_history(sys.stdout, registry.history(args.limit),
                      for_terminal=sys.stdout.isatty())
    finally:
        registry.close()
    return 0


def cmd_demo(args: argparse.Namespace, bus: EventBus) -> int:
    """``openmsi demo``."""
    from openmsi_gui.cli.demo import run_demo

    return run_demo(args.folder, args.duration, bus, wait_for_signal)


def cmd_audit(args: argparse.Namespace, _bus: EventBus) -> int:
    """``openmsi audit``."""
    from openmsi_gui.app.audit import SinceError

    config = _config(args)
    try:
        return run_audit(args, config)
    except SinceError as exc:
        raise UsageError(str(exc)) from exc


def cmd_status(args: argparse.Namespace, _bus: EventBus) -> int:
    """``openmsi status``."""
    return run_status(args, _config(args))


COMMANDS: dict[str, Callable[[argparse.Namespace, EventBus], int]] = {
    "upload": cmd_upload, "watch": cmd_watch, "download": cmd_download, "topic": cmd_topic,
    "history": cmd_history, "demo": cmd_demo, "service": cmd_service,
    "download-s3": cmd_download_s3, "provision": cmd_provision, "send-again": cmd_upload,
    "pair": cmd_pair, "audit": cmd_audit,
    "diagnostics": lambda args, _bus: cmd_diagnostics(args),
    "status": cmd_status, "process": cmd_process, "reprocess": cmd_reprocess,
    "plugins": lambda args, _bus: cmd_plugins(args),
    "encryption": lambda args, _bus: cmd_encryption(args),
}
# These stop gracefully on SIGINT/SIGTERM, even one that arrives while they start.
# The others keep Python's defaults, so Ctrl-C still interrupts a password prompt.
LONG_RUNNING = frozenset({"upload", "send-again", "watch", "download", "download-s3", "demo",
                          "process", "reprocess"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``openmsi`` command line; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [HOST_COMMAND]:  # hidden: the installed app runs a plugin in a child
        from openmsi_gui.engine.processing.plugin_host import main as host_plugin

        return host_plugin()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    if args.log_file:
        setup_file_logging(logging.getLevelName(args.log_level), args.log_file)
    if getattr(args, "log_topic", ""):
        install_ring()  # from the start: warnings logged while starting go there too
    prepare_process()
    if args.data_dir:
        os.environ["OPENMSI_GUI_DATA_DIR"] = str(args.data_dir)
    bus = EventBus()
    reporter = ConsoleReporter()
    bus.subscribe(reporter)
    if args.command in LONG_RUNNING:
        STOP.install()
    stalls = (StallWatch(bus, args.stall_minutes * 60).start()
              if getattr(args, "stall_minutes", None) else None)
    try:
        return COMMANDS[args.command](args, bus)
    except (UsageError, ConfigError, UploadError, BrokerUnreachable, admin.BrokerError,
            S3Error, CryptoSetupError, RegistryError, PairingError, KeychainError,
            ProcessingArgsError) as exc:
        reporter.close()
        print(f"openmsi: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if stalls is not None:
            stalls.stop()
        STOP.restore()
        reporter.close()


if __name__ == "__main__":
    sys.exit(main())
