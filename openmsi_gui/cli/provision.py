r"""``openmsi provision``: create a KafkaCrypto node for end-to-end encryption.

Examples::

    openmsi provision --node-id lab_uploader --role producer --topic lab-data
    OPENMSI_ROT_PASSWORD=... OPENMSI_PROVISIONING_PASSWORD=... \
        openmsi provision --node-id lab_archive --role consumer --topic lab-data \
        --create-key-topics --config lab.config

The passwords are asked for (or read from ``$OPENMSI_ROT_PASSWORD`` and
``$OPENMSI_PROVISIONING_PASSWORD`` in scripts) and never stored. Every node of
one deployment must be provisioned with the same two passwords.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from openmsi_gui.app.validation import topic_problem
from openmsi_gui.engine.crypto import CryptoSetupError, key_topics
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import (
    ConfigError,
    KafkaConfig,
    default_nodes_dir,
    load_config,
    node_search_dirs,
)
from openmsi_gui.engine.provision import (
    KEY_TYPES,
    MIN_PROVISIONING_PASSWORD,
    MIN_ROT_PASSWORD,
    ProvisionError,
    create_key_topics,
    provision_node,
    topic_roots,
)

ROT_ENV = "OPENMSI_ROT_PASSWORD"
PROVISIONING_ENV = "OPENMSI_PROVISIONING_PASSWORD"


class _Refused(Exception):
    """A problem the user fixes by changing the command or the environment."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``provision`` subcommand to the ``openmsi`` parser."""
    parser = sub.add_parser(
        "provision", help="create an encryption node (KafkaCrypto) for encrypted topics",
        description="Create the key files of a KafkaCrypto node, as OpenMSIStream's "
                    "ProvisionNode does, without questions. Passwords are asked for, or read "
                    f"from ${ROT_ENV} and ${PROVISIONING_ENV}.",
        epilog="then add '[kafkacrypto] node_id = NODE' to the config file")
    parser.add_argument("--node-id", required=True, help="the node's name")
    parser.add_argument("--role", required=True, choices=["producer", "consumer", "both"],
                        help="producer: encrypts uploads; consumer: decrypts downloads")
    topics = parser.add_mutually_exclusive_group(required=True)
    topics.add_argument("--topic", action="append", dest="topics", metavar="TOPIC",
                        help="a topic the node may use (repeatable; the part before the "
                             "first '.' counts)")
    topics.add_argument("--all-topics", action="store_true",
                        help="allow every topic (not recommended)")
    parser.add_argument("--dest", type=Path,
                        help=f"folder for the node's folder (default: {default_nodes_dir()})")
    parser.add_argument("--key-type", type=int, choices=sorted(KEY_TYPES), default=1,
                        help="1: Ed25519 (default); 4: adds post-quantum SLH-DSA")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing node of that name (its keys are lost)")
    parser.add_argument("--create-key-topics", action="store_true",
                        help="also create TOPIC.keys, .reqs and .subs (needs --config or "
                             "--bootstrap-servers)")
    broker = parser.add_mutually_exclusive_group()
    broker.add_argument("--config", help="OpenMSIStream INI config file (for the broker)")
    broker.add_argument("--bootstrap-servers", metavar="HOST:PORT",
                        help="plaintext broker address, instead of a config file")


def _password(env: str, prompt: str, minimum: int) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise _Refused(f"no terminal to ask for the {prompt}: set ${env}")
    for _ in range(3):
        first = getpass.getpass(f"{prompt} ({minimum}+ characters): ")
        if len(first) < minimum:
            print(f"too short: at least {minimum} characters", file=sys.stderr)
            continue
        if getpass.getpass("again, to check: ") == first:
            return first
        print("the two entries differ", file=sys.stderr)
    raise _Refused(f"no usable {prompt} was entered")


def _broker_config(args: argparse.Namespace) -> KafkaConfig:
    if args.config:
        return load_config(args.config)
    if args.bootstrap_servers:
        return KafkaConfig.for_bootstrap(args.bootstrap_servers)
    raise _Refused("--create-key-topics needs --config or --bootstrap-servers")


def cmd_provision(args: argparse.Namespace, _bus: EventBus | None = None) -> int:
    """``openmsi provision``: 0 on success, 1 if the key topics could not all be made.

    Errors are one sentence on stderr and exit code 2.
    """
    try:
        return _run(args)
    except (_Refused, ProvisionError, CryptoSetupError, ConfigError) as exc:
        print(f"openmsi: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"openmsi: error: cannot write the node: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    topics: list[str] = [] if args.all_topics else list(args.topics or [])
    for topic in topics:  # the GUI's rule (app.validation), checked before passwords
        if (problem := topic_problem(topic)) is not None:
            raise _Refused(problem)
    config = None
    if args.create_key_topics:
        if not topics:
            raise _Refused("--create-key-topics needs --topic (not --all-topics)")
        config = _broker_config(args)  # a bad config fails before the passwords are asked
    elif args.config or args.bootstrap_servers:
        raise _Refused("--config and --bootstrap-servers are only for --create-key-topics")
    rot = _password(ROT_ENV, "root-of-trust password", MIN_ROT_PASSWORD)
    provisioning = _password(PROVISIONING_ENV, "provisioning password",
                             MIN_PROVISIONING_PASSWORD)
    dest: Path = args.dest or default_nodes_dir()
    folder = provision_node(args.node_id, args.role, topics, rot, provisioning, dest,
                            key_type=args.key_type, overwrite=args.force)
    roots = ", ".join(topic_roots(topics))
    print(f"Provisioned encryption node {args.node_id!r} ({args.role}, topics {roots}) "
          f"in {folder}")
    ini = Path(args.config).resolve() if args.config else None
    searched = [d.resolve() for d in node_search_dirs(ini)]
    print("Add to the config file:\n  [kafkacrypto]")
    if folder.parent.resolve() in searched:
        print(f"  node_id = {args.node_id}")
    else:
        print(f"  config_file = {folder / (args.node_id + '.config')}")
    if config is None:
        names = ", ".join(key_topics(topics[0])) if topics else "TOPIC.keys, .reqs, .subs"
        print(f"Encrypted topics also need {names} (1 partition each): "
              "rerun with --create-key-topics, or ask the broker's administrator.")
        return 0
    result = create_key_topics(config, topics)
    print(result.message)
    return 0 if result.ok else 1
