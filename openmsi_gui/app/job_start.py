"""Start the jobs of the :class:`~openmsi_gui.app.controller.AppController`.

A job whose broker does not answer, or that needs KafkaCrypto while it is not
installed, waits (and is tried again later) rather than failing; :class:`JobStarter`
remembers which ones wait so their state can be told when they start or are
no longer wanted, and keeps the one timer that tries them again.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import Any, Protocol

from openmsi_gui.app.bandwidth import item_limit
from openmsi_gui.app.component_wait import RETRY_SECONDS as COMPONENT_RETRY_SECONDS
from openmsi_gui.app.component_wait import WAITING, component_missing
from openmsi_gui.app.job_specs import JobContext, JobSpec, build_job
from openmsi_gui.app.settings import BrokerProfile
from openmsi_gui.engine import admin
from openmsi_gui.engine.bandwidth import Limit
from openmsi_gui.engine.crypto import EncryptionNotInstalled
from openmsi_gui.engine.events import (
    ConnectionState,
    ConnectionStatus,
    EventBus,
    JobId,
    JobState,
    JobStatus,
)
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.link import BrokerUnreachable
from openmsi_gui.engine.registry import Registry

# The controller's logger: these lines read as the controller's, as they always did.
log = logging.getLogger("openmsi_gui.app.controller")

UNREACHABLE_RETRY_SECONDS = 10.0
"""How soon a job that could not start because its broker did not answer is tried again."""


class _Job(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    @property
    def error(self) -> BaseException | None: ...


@dataclasses.dataclass
class Running:
    """A started job, with what it was started from."""

    job: _Job
    signature: tuple[Any, ...]
    limit: Limit  # the item's own bandwidth limit, changed in place
    paused: bool = False
    started: float = dataclasses.field(default_factory=time.monotonic)


class JobStarter:
    """Start jobs, keep track of those that wait instead of failing, and retry them.

    Args:
        bus: where the jobs' states go.
        registry: shared record of transfers.
        bandwidth: the app-wide limit every job shares.
        config: the librdkafka settings of a profile.
        retry: tries the jobs that could not start again (called on a timer thread).
        retry_seconds: the longest wait before such a retry.
    """

    def __init__(self, bus: EventBus, registry: Registry, bandwidth: Limit,
                 config: Callable[[BrokerProfile], KafkaConfig],
                 retry: Callable[[], object], retry_seconds: float) -> None:
        self._bus = bus
        self._registry = registry
        self._bandwidth = bandwidth
        self._config = config
        self._retry = retry
        self._retry_seconds = retry_seconds
        self._retry_timer: threading.Timer | None = None
        self._retry_due = 0.0
        self._away_at_start: dict[JobId, float] = {}  # jobs whose broker did not answer
        self._no_component: set[JobId] = set()  # jobs waiting for KafkaCrypto (logged once)

    def schedule_retry(self, delay: float | None = None) -> None:
        """Try jobs that could not start (broker down at boot, say) again later.

        Args:
            delay: seconds from now (default ``retry_seconds``); a retry already
                due sooner stands, one due later is brought forward.
        """
        delay = self._retry_seconds if delay is None else delay
        due = time.monotonic() + delay
        if self._retry_timer is not None and self._retry_timer.is_alive():
            if self._retry_due <= due:
                return
            self._retry_timer.cancel()
        self._retry_due = due
        self._retry_timer = threading.Timer(delay, self._retry)
        self._retry_timer.name = "openmsi-retry-timer"
        self._retry_timer.daemon = True
        self._retry_timer.start()

    def cancel_retry(self) -> None:
        """No retry happens any more (the application shuts down)."""
        if self._retry_timer is not None:
            self._retry_timer.cancel()

    def forget_unwanted(self, wanted: Collection[JobId]) -> None:
        """Jobs that waited to start and are no longer wanted say they stopped."""
        for ident in [i for i in self._away_at_start if i not in wanted]:
            del self._away_at_start[ident]  # never started: its broker problem is no more
            self._bus.publish(ConnectionState(str(ident), ConnectionStatus.STOPPED))
        for ident in [i for i in self._no_component if i not in wanted]:
            self._no_component.discard(ident)  # never started: no longer waits for anything
            self._bus.publish(JobState(str(ident), JobStatus.STOPPED))

    def start(self, ident: JobId, wanted: JobSpec, jobs: dict[JobId, Running]) -> bool:
        """Start ``wanted`` as ``ident`` into ``jobs``; False when it could not (waits, failed)."""
        name = str(ident)
        limit = Limit(item_limit(wanted.item))
        if component_missing(wanted.profile):
            return self._wait_for_component(ident)
        try:
            config = self._config(wanted.profile)
            if wanted.profile.embedded:  # with the lab overview's, when the jobs report there
                for topic in (wanted.item.topic, *_report_topics(wanted)):
                    admin.create_topic(config, topic)
            # Elsewhere a missing topic is waited for (the job says so) until it is created.
            job: _Job = build_job(wanted, config, JobContext(
                self._bus, self._registry, name, [limit, self._bandwidth]))
            job.start()
        except BrokerUnreachable as exc:  # not a failure of the job: it waits for the broker
            since = self._away_at_start.setdefault(ident, time.time())
            self._bus.publish(ConnectionState(name, ConnectionStatus.UNREACHABLE,
                                              servers=exc.servers, down_since=since))
            self.schedule_retry(min(UNREACHABLE_RETRY_SECONDS, self._retry_seconds))
            return False
        except EncryptionNotInstalled:  # the check above raced with a removal
            return self._wait_for_component(ident)
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            log.error("%s could not start: %s", name, reason)
            self._bus.publish(JobState(name, JobStatus.FAILED, reason))
            return False
        jobs[ident] = Running(job, wanted.signature, limit)
        self._no_component.discard(ident)
        self._bus.publish(JobState(name, JobStatus.RUNNING))
        if ident in self._away_at_start:
            self._bus.publish(ConnectionState(name, ConnectionStatus.CONNECTED,
                                              "reachable again",
                                              servers=config.bootstrap_servers,
                                              down_since=self._away_at_start.pop(ident)))
        return True

    def _wait_for_component(self, ident: JobId) -> bool:
        """``ident`` needs KafkaCrypto, which is not installed: it waits (never fails)."""
        if ident not in self._no_component:
            self._no_component.add(ident)
            log.warning("%s waits: %s", ident, WAITING)
        self._bus.publish(JobState(str(ident), JobStatus.WAITING, WAITING))
        self.schedule_retry(min(COMPONENT_RETRY_SECONDS, self._retry_seconds))
        return False


def _report_topics(wanted: JobSpec) -> list[str]:
    """The heartbeat and log topics ``wanted`` reports to ([] when it does not)."""
    target = wanted.reporting.target if wanted.reporting is not None else None
    return [t for t in (target.heartbeat_topic, target.log_topic) if t] if target else []
