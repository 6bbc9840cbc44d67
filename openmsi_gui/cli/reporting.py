"""Heartbeats and log messages of ``watch``, ``download`` and ``download-s3``: their flags.

OpenMSIStream's spellings (``--heartbeat_topic_name``, ...) work too, and its
``[heartbeat]`` and ``[log]`` config sections may name another broker.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from openmsi_gui.app.connection import link_problem
from openmsi_gui.app.lab_reporting import program_id_problem
from openmsi_gui.app.lab_settings import MAX_INTERVAL_SECS, MIN_INTERVAL_SECS
from openmsi_gui.app.validation import topic_problem
from openmsi_gui.cli.arg_types import number_between
from openmsi_gui.engine.heartbeats import (
    DEFAULT_INTERVAL,
    JobReporting,
    ReportTarget,
    config_fingerprint,
    host_name,
    separate_config,
)
from openmsi_gui.engine.kafka_config import KafkaConfig

_interval = number_between(MIN_INTERVAL_SECS, MAX_INTERVAL_SECS, "seconds")


def _topic(text: str) -> str:
    problem = topic_problem(text) if text else None  # "" is the default: none
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _program_id(text: str) -> str:
    problem = program_id_problem(text) if text else None
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def add_args(parser: argparse.ArgumentParser) -> None:
    """The reporting flags of a long-running command."""
    group = parser.add_argument_group(
        "lab overview", "Heartbeats and warnings to Kafka topics, in OpenMSIStream's format "
                        "(the app's Lab view and 'openmsi status' read them). A [heartbeat] "
                        "or [log] section of the config file may name another broker.")
    group.add_argument("--heartbeat-topic", "--heartbeat_topic_name", dest="heartbeat_topic",
                       type=_topic, default="", metavar="TOPIC",
                       help="send a heartbeat to TOPIC every interval (default: none)")
    group.add_argument("--heartbeat-program-id", "--heartbeat_program_id",
                       dest="heartbeat_program_id", type=_program_id, default="",
                       metavar="ID", help="name this program in the heartbeats' keys "
                                          "(default: HOST_COMMAND, e.g. labpc01_watch)")
    group.add_argument("--heartbeat-interval", "--heartbeat_interval_secs",
                       dest="heartbeat_interval", type=_interval, default=DEFAULT_INTERVAL,
                       metavar="SECONDS",
                       help=f"seconds between heartbeats (default {DEFAULT_INTERVAL:g})")
    group.add_argument("--log-topic", "--log_topic_name", dest="log_topic", type=_topic,
                       default="", metavar="TOPIC",
                       help="send warnings and errors (librdkafka's too) to TOPIC "
                            "(default: none)")
    group.add_argument("--log-program-id", "--log_program_id", dest="log_program_id",
                       type=_program_id, default="", metavar="ID",
                       help="name this program in the log messages' keys (default: the "
                            "heartbeat program id)")
    group.add_argument("--log-interval", "--log_interval_secs", dest="log_interval",
                       type=_interval, default=DEFAULT_INTERVAL, metavar="SECONDS",
                       help=f"seconds between log messages, sent only when there are new "
                            f"lines (default {DEFAULT_INTERVAL:g})")


def reporting(args: argparse.Namespace, config: KafkaConfig, job: str,
              settings: Mapping[str, object]) -> JobReporting | None:
    """What the command reports as, or None when neither topic is given.

    Args:
        args: the parsed flags.
        config: the data's broker (its ``[heartbeat]``/``[log]`` sections).
        job: the command ("watch", "download", "download-s3").
        settings: the job's settings without secrets (the fingerprint's).
    """
    if not (args.heartbeat_topic or args.log_topic):
        return None
    host = host_name()
    program = args.heartbeat_program_id or f"{host}_{job}"
    target = ReportTarget(
        heartbeat_topic=args.heartbeat_topic, heartbeat_program_id=program,
        heartbeat_interval=args.heartbeat_interval, log_topic=args.log_topic,
        log_program_id=args.log_program_id or program, log_interval=args.log_interval,
        heartbeat_config=separate_config(config, "heartbeat"),
        log_config=separate_config(config, "log"), host=host)
    return JobReporting(target, job, config_fingerprint(
        {**settings, "command": job, "servers": config.bootstrap_servers}), link_problem)
