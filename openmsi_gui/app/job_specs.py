"""Which jobs the settings ask for, and how each one is built (Qt-free, no threads).

The :class:`~openmsi_gui.app.controller.AppController` compares what
:func:`wanted_jobs` returns with what runs, and starts the difference with
:func:`build_job`. A job's *signature* is what it depends on: when it changes,
the job is restarted; pausing and bandwidth limits are applied in place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openmsi_gui.app import destinations, job_names, keychain, lab_reporting, pairing, profiles
from openmsi_gui.app.after_delivery import folder_policy
from openmsi_gui.app.bandwidth import item_limit
from openmsi_gui.app.confirming import folder_expectation
from openmsi_gui.app.file_information import destination_wanted, folder_metadata
from openmsi_gui.app.folders import file_filter
from openmsi_gui.app.processing import process_area, processing_of
from openmsi_gui.app.settings import (
    BrokerProfile,
    Destination,
    DestinationKind,
    Settings,
    WatchedFolder,
)
from openmsi_gui.engine.bandwidth import Limit, Pacer
from openmsi_gui.engine.events import Direction, EventBus, JobId, JobKind
from openmsi_gui.engine.heartbeats import JobReporting
from openmsi_gui.engine.jobs import DownloadJob, WatchJob, WatchOptions
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.s3 import S3Location, staging_dir

log = logging.getLogger("openmsi_gui.app.controller")

Signature = tuple[Any, ...]


@dataclasses.dataclass
class JobSpec:
    """A job the settings ask for, with what it needs to start."""

    signature: Signature
    item: WatchedFolder | Destination
    profile: BrokerProfile
    s3: S3Location | None = None
    reporting: JobReporting | None = None


@dataclasses.dataclass(frozen=True)
class JobContext:
    """What every job is built with besides its own settings."""

    bus: EventBus
    registry: Registry
    name: str
    limits: list[Limit]  # the item's own limit, then the app-wide one


def job_id(item: WatchedFolder | Destination) -> JobId:
    """The identity of the job that runs ``item`` (``str()`` of it names its events)."""
    kind = JobKind.FOLDER if isinstance(item, WatchedFolder) else JobKind.DESTINATION
    return JobId(kind, item.id)


def signature(item: WatchedFolder | Destination, profile: BrokerProfile,
              reporting: JobReporting | None = None) -> Signature:
    """What a running job depends on; pausing and limits are applied in place, not by a restart.

    A destination's highest limit sizes its consumer's prefetch: a new one restarts it; so
    does a change of what it reports to the lab overview, and as what.
    """
    ceiling = (item_limit(item).ceiling(Direction.DOWNLOAD)
               if isinstance(item, Destination) else None)
    return (dataclasses.astuple(_steady(item)), dataclasses.astuple(profile), ceiling,
            reporting.target if reporting is not None else None)


def _steady(item: WatchedFolder | Destination) -> WatchedFolder | Destination:
    """``item`` without what is applied in place (pausing, limits, the current sample)."""
    if isinstance(item, WatchedFolder):
        return dataclasses.replace(item, paused=False, bwlimit="", current_sample="")
    return dataclasses.replace(item, paused=False, bwlimit="")


def _reporting(settings: Settings, item: WatchedFolder | Destination, profile: BrokerProfile,
               names: dict[str, str]) -> JobReporting | None:
    """What the job of ``item`` reports to the lab overview as (None: nothing)."""
    ident = str(job_id(item))
    return lab_reporting.app_job_reporting(
        settings.lab, names.get(ident, item.id), item.id,
        {"item": dataclasses.asdict(_steady(item)), "profile": dataclasses.asdict(profile)})


def wanted_jobs(settings: Settings, secret: profiles.SecretLookup,
                running: Callable[[JobId], Signature | None],
                ) -> tuple[dict[JobId, JobSpec], dict[JobId, str]]:
    """The jobs ``settings`` ask for, and why some of them cannot start.

    Args:
        settings: the settings to follow.
        secret: keychain lookup (an S3 destination's secret key is read here).
        running: the signature of a job that runs now, or None.
    """
    wanted: dict[JobId, JobSpec] = {}
    problems: dict[JobId, str] = {}
    names = job_names.names(settings) if settings.lab.report else {}
    for folder in settings.folders:
        profile = settings.profile(folder.profile_id)
        if folder.enabled and profile and folder.path and folder.topic:
            report = _reporting(settings, folder, profile, names)
            wanted[job_id(folder)] = JobSpec(signature(folder, profile, report), folder,
                                             profile, reporting=report)
    for dest in settings.destinations:
        profile = settings.profile(dest.profile_id)
        if not (dest.enabled and profile and dest.topic):
            continue
        ident = job_id(dest)
        report = _reporting(settings, dest, profile, names)
        if (dest.kind is DestinationKind.FOLDER and dest.path) or (
                dest.kind is DestinationKind.PROCESS and processing_of(dest) is not None):
            wanted[ident] = JobSpec(signature(dest, profile, report), dest, profile,
                                    reporting=report)
        elif dest.kind is DestinationKind.S3 and dest.bucket:
            outcome = _wanted_s3(ident, dest, profile, secret, running(ident), report)
            if isinstance(outcome, str):
                problems[ident] = outcome
            else:
                wanted[ident] = outcome
    return wanted, problems


def _wanted_s3(ident: JobId, dest: Destination, profile: BrokerProfile,
               secret: profiles.SecretLookup, running: Signature | None,
               report: JobReporting | None) -> JobSpec | str:
    """The S3 job for ``dest``; its secret (read here) is part of the signature.

    A new secret in the keychain thus restarts the job at the next apply.
    If the keychain cannot be read, a running job whose settings did not
    change keeps going; otherwise the reason it cannot start is returned.
    """
    base = signature(dest, profile, report)
    try:
        location = destinations.load_s3_location(dest, secret)
    except keychain.KeychainError as exc:
        if running is not None and running[:-1] == base:
            return JobSpec(running, dest, profile, reporting=report)
        log.error("%s could not start: %s", ident, exc)
        return str(exc)
    secret_id = hashlib.sha256(location.secret_access_key.encode()).hexdigest()
    return JobSpec((*base, secret_id), dest, profile, location, report)


def build_job(spec: JobSpec, config: KafkaConfig, context: JobContext) -> WatchJob | DownloadJob:
    """The job that runs ``spec`` (not started)."""
    item = spec.item
    data_dir = context.registry.path.parent
    if isinstance(item, WatchedFolder):
        options = WatchOptions(
            topic=item.topic, upload_existing=item.upload_existing,
            since=item.added_at or None,
            file_filter=file_filter(item),
            stable_seconds=item.stable_seconds, polling=item.polling,
            chunk_size=item.chunk_size,
            pacer=Pacer(Direction.UPLOAD, context.limits),
            delivery=pairing.delivery_watch(item.id, data_dir),
            expect=folder_expectation(item),
            after_delivery=folder_policy(item), watch_began=item.added_at,
            sent_records=pairing.sender_records(item, data_dir), reporting=spec.reporting,
            metadata=folder_metadata(item))
        return WatchJob(config, Path(item.path), options, context.bus, context.registry,
                        name=context.name)
    pacer = Pacer(Direction.DOWNLOAD, context.limits)
    processing = processing_of(item)
    receipts = pairing.destination_receipts(item, data_dir)
    if spec.s3 is not None:
        # Files are rebuilt and verified in a local staging folder, then uploaded.
        staging = staging_dir(spec.s3, item.topic, data_dir)
        return DownloadJob(config, item.topic, staging, context.bus, context.registry,
                           group_id=item.group_id or None, name=context.name, s3=spec.s3,
                           pacer=pacer, receipts=receipts, reporting=spec.reporting,
                           processing=processing, wanted=destination_wanted(item))
    if item.kind is DestinationKind.PROCESS:  # rebuilt privately, processed, removed
        return DownloadJob(config, item.topic, process_area(data_dir, item), context.bus,
                           context.registry, group_id=item.group_id or None,
                           name=context.name, pacer=pacer, reporting=spec.reporting,
                           processing=processing, wanted=destination_wanted(item))
    # A missing folder is a drive or share not connected: never create it.
    return DownloadJob(config, item.topic, Path(item.path), context.bus, context.registry,
                       group_id=item.group_id or None, name=context.name,
                       create_dest=False, pacer=pacer, receipts=receipts,
                       reporting=spec.reporting, processing=processing,
                       wanted=destination_wanted(item), sidecar=item.sidecar)
