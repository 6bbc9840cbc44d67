"""The app runs a destination's processor: retry from the transfers view, Reprocess, processing
only (real broker)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from helpers import Recorder, chunks_of, produce_chunks, wait_until
from processing_helpers import marker_command

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.job_specs import job_id
from openmsi_gui.app.processing import process_area, reprocess_job_name
from openmsi_gui.app.settings import BrokerProfile, Destination, DestinationKind, SettingsStore
from openmsi_gui.engine.events import FileProcessed
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.processing.api import ProcessingState, ProcessorKind
from openmsi_gui.engine.registry import Registry

FILES = {"ok.txt": b"fine", "sub/bad.txt": b"refused at first"}


def add_destination(store: SettingsStore, profile: BrokerProfile, dest: Destination) -> None:
    settings = store.settings
    settings.profiles.append(profile)
    settings.destinations.append(dest)
    store.update(settings)


def outcomes(recorder: Recorder, job: str) -> dict[str, ProcessingState]:
    found = {}
    for event in recorder.of(FileProcessed):
        assert isinstance(event, FileProcessed)
        if event.job == job and event.state is not ProcessingState.RUNNING:
            found[event.relpath] = event.state
    return found


def test_retry_processing_and_reprocess(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], kafka_config: KafkaConfig, tmp_path: Path,
        recorder: Recorder) -> None:
    topic = make_topic(1)
    markers = tmp_path / "markers"
    (tmp_path / "in").mkdir()
    dest = Destination(path=str(tmp_path / "in"), profile_id=broker_profile.id, topic=topic,
                       group_id=f"proc-{topic}", processor=ProcessorKind.COMMAND,
                       processor_command=marker_command(markers), processor_timeout=30)
    add_destination(store, broker_profile, dest)
    produce_chunks(kafka_config, topic, [c for r, d in FILES.items() for c in chunks_of(d, r)])
    controller.start().result(30)
    job = str(job_id(dest))
    wait_until(lambda: len(outcomes(recorder, job)) == len(FILES), timeout=60,
               message="both files processed")
    assert outcomes(recorder, job)["sub/bad.txt"] is ProcessingState.FAILED
    (markers / "allow-bad").touch()
    said = controller.retry_processing(job, "sub/bad.txt").result(30)
    assert said == "sub/bad.txt is being processed again."
    wait_until(lambda: outcomes(recorder, job)["sub/bad.txt"] is ProcessingState.OK,
               message="the retry")
    assert controller.retry_processing("dest:nothing", "x").result(30) == (
        "The destination is not running: start it, then retry.")

    said = controller.reprocess(dest).result(30)
    assert said.startswith(f"Every file on the topic {topic} goes through")
    again = reprocess_job_name(dest)
    wait_until(lambda: outcomes(recorder, again) == dict.fromkeys(FILES, ProcessingState.OK),
               timeout=60, message="the reprocessing")
    assert sorted(p.relative_to(tmp_path / "in").as_posix()
                  for p in (tmp_path / "in").rglob("*") if p.is_file()) == sorted(FILES)


def test_a_processing_only_destination_keeps_nothing(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], kafka_config: KafkaConfig, tmp_path: Path,
        registry: Registry, recorder: Recorder) -> None:
    topic = make_topic(1)
    dest = Destination(kind=DestinationKind.PROCESS, profile_id=broker_profile.id, topic=topic,
                       group_id=f"only-{topic}", processor=ProcessorKind.COMMAND,
                       processor_command=marker_command(tmp_path / "markers"))
    add_destination(store, broker_profile, dest)
    produce_chunks(kafka_config, topic, [c for r, d in FILES.items() for c in chunks_of(d, r)])
    controller.start().result(30)
    job = str(job_id(dest))
    wait_until(lambda: len(outcomes(recorder, job)) == len(FILES), timeout=60,
               message="both files processed")
    assert (tmp_path / "markers" / "ok.txt").read_bytes() == b"fine"
    area = process_area(registry.path.parent, dest)
    wait_until(lambda: list(area.rglob("*")) == [], message="an empty private area")
    said = controller.retry_processing(job, "ok.txt").result(30)
    assert said.startswith("ok.txt is no longer at")
    assert said.endswith("use Reprocess to run the processor over the topic again.")
