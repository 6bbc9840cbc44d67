"""The "After each file" rules and words, without Qt."""

from __future__ import annotations

import dataclasses

import pytest

from openmsi_gui.app.destinations import KINDS, location_text, validate_destination
from openmsi_gui.app.processing_form import (
    PLACEHOLDER_NAMES,
    installed_plugins,
    memory_problem,
    plugin_choices,
    processor_problems,
    reprocess_question,
    timeout_problem,
)
from openmsi_gui.app.settings import BrokerProfile, Destination, DestinationKind, Settings
from openmsi_gui.engine.processing.api import ProcessorKind
from openmsi_gui.engine.processing.limits import memory_limit_text, parse_memory_limit
from openmsi_gui.engine.processing.template import PLACEHOLDERS, template_problem


def test_the_placeholders_are_those_of_the_engine() -> None:
    assert PLACEHOLDER_NAMES == PLACEHOLDERS


@pytest.mark.parametrize("command", [
    "python3 /opt/lab/index.py {path}",
    "index --file={path} --meta {metadata_json} --topic {topic} {relpath} {sha512}",
    "'/opt/my tools/index' \"{path}\"",
    "true",
])
def test_good_templates(command: str) -> None:
    assert template_problem(command) is None


@pytest.mark.parametrize(("command", "said"), [
    ("  ", "The command is empty: write the program to run and its arguments"),
    ("python3 x.py {file}", "{file} is not a placeholder: use {path}, {relpath}, {topic}, "
                            "{sha512}, {metadata_json}."),
    ("{path}", "The command must start with the program to run, not a placeholder"),
    ("python3 'x.py {path}", "The command cannot be split into arguments"),
])
def test_bad_templates_say_what_to_do(command: str, said: str) -> None:
    problem = template_problem(command)
    assert problem is not None
    assert problem.startswith(said)
    assert problem.endswith(".")


@pytest.mark.parametrize(("text", "said"), [
    ("", "Give the time after which processing is stopped"),
    ("soon", "'soon' is not a duration"),
    ("2d", "Give a time between 1 s and 1 day."),
])
def test_timeouts(text: str, said: str) -> None:
    problem = timeout_problem(text)
    assert problem is not None
    assert problem.startswith(said)
    assert timeout_problem("90s") is None


def _dest(**changes: object) -> Destination:
    base = Destination(path="/srv/inbox", topic="lab-data", group_id="g",
                       processor=ProcessorKind.COMMAND, processor_command="index {path}")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_processor_problems() -> None:
    assert processor_problems(_dest()) == []
    assert processor_problems(_dest(processor=ProcessorKind.NONE,
                                    processor_command="{bad")) == []
    assert processor_problems(_dest(processor=ProcessorKind.PLUGIN)) == [
        "Choose the plugin to run after each file."]
    assert processor_problems(_dest(processor_timeout=0.0)) == [
        "Give a time between 1 s and 1 day to stop processing after."]
    assert processor_problems(_dest(results_topic="lab data")) == [
        "Results topic: “lab data” is not a valid topic name: it has characters Kafka does "
        "not allow; use letters, digits, '.', '_' and '-'."]
    assert processor_problems(_dest(results_topic="lab-data")) == [
        "Send the results to another topic than the one downloaded: they would come back "
        "as files."]
    assert processor_problems(_dest(kind=DestinationKind.PROCESS,
                                    processor=ProcessorKind.NONE)) == [
        "A processing-only destination keeps nothing: choose a command or a plugin to run "
        "after each file."]


def test_a_processing_only_destination_needs_no_folder() -> None:
    profile = BrokerProfile(name="b", bootstrap_servers="h:9092")
    settings = Settings(profiles=[profile])
    dest = _dest(kind=DestinationKind.PROCESS, path="", profile_id=profile.id)
    assert validate_destination(dest, settings, lambda _path: "no such folder") == []
    assert location_text(dest) == "processing only: index"
    assert (DestinationKind.PROCESS, "Processing only (keep nothing but results)") in KINDS
    folder = dataclasses.replace(dest, kind=DestinationKind.FOLDER, path="/x")
    assert validate_destination(folder, settings, lambda _path: "no such folder") == [
        "no such folder"]


def test_plugin_choices_keep_a_plugin_not_installed() -> None:
    listed = [("count-lines", "1.0", "my-lab-plugins"), ("thumbs", "2", "thumbs")]
    assert plugin_choices(listed) == [("count-lines 1.0 (my-lab-plugins)", "count-lines"),
                                      ("thumbs 2", "thumbs")]
    assert plugin_choices([], "gone") == [("gone (not installed here)", "gone")]


def test_installed_plugins_reads_the_entry_points() -> None:
    found = installed_plugins()
    assert all(isinstance(name, str) for name, _, _ in found)


def test_reprocess_question_says_what_it_does() -> None:
    text = reprocess_question(_dest(results_topic="lab-results"), "/srv/inbox")
    assert text.startswith("Run “index {path}” again over every file still on the topic "
                           "lab-data?")
    assert "fresh consumer group" in text
    assert "Files already delivered to /srv/inbox are not touched." in text
    assert "Results go to the topic lab-results." in text
    full = reprocess_question(_dest(processor_command="/opt/venv/bin/python3 index.py {path}"),
                              "x")
    assert full.startswith("Run “/opt/venv/bin/python3 index.py {path}” again")  # all of it
    assert "Only files matching S0/ are taken." in reprocess_question(
        _dest(download_regex="S0/"), "x")
    only = reprocess_question(_dest(kind=DestinationKind.PROCESS), "x")
    assert "Nothing else is kept." in only


@pytest.mark.parametrize(("text", "limit"), [
    ("", None), ("default", None), ("none", 0), ("OFF", 0), ("0", 0),
    ("2G", 2 << 30), ("512M", 512 << 20), ("1.5GiB", 3 << 29),
])
def test_a_memory_limit_as_written(text: str, limit: int | None) -> None:
    assert memory_problem(text) is None
    spec = _dest(processor_memory=text).processor_spec()
    assert spec.memory_limit == limit
    assert parse_memory_limit(memory_limit_text(limit) if limit is not None else "") == limit


@pytest.mark.parametrize(("text", "said"), [
    ("lots", "Cannot read the memory limit 'lots': write a size with its unit such as 2G"),
    ("2048", "Cannot read the memory limit '2048'"),  # a unit is required
    ("2GB", "Cannot read the memory limit '2GB'"),  # 10^9 or 2^30? refused, as rclone
    ("1M", "A memory limit of 1M is too small for a program to start: give at least 64M"),
])
def test_a_bad_memory_limit_is_one_sentence_and_blocks_apply(text: str, said: str) -> None:
    problem = memory_problem(text)
    assert problem is not None
    assert problem.startswith(said)
    assert problem.endswith(".")
    assert problem in processor_problems(_dest(processor_memory=text))
    assert _dest(processor_memory=text).processor_spec().memory_limit is None  # the default
    assert processor_problems(_dest(processor=ProcessorKind.NONE, processor_memory=text)) == []
