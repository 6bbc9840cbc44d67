r"""``openmsi service install|remove|status``: run watch or download as a service.

Examples::

    openmsi service install lab -- watch /data --config lab.config --topic lab-data
    sudo openmsi service install lab --system --env BROKER_PASSWORD=... -- download /srv/in \
        --config lab.config --topic lab-data
    openmsi service status lab
    openmsi service remove lab
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from openmsi_gui.app.settings import default_config_dir
from openmsi_gui.cli.parser import add_service_options, build_parser
from openmsi_gui.engine.events import EventBus
from openmsi_gui.platform import service
from openmsi_gui.platform.service import ServiceError, ServiceSpec

SYSTEM_CONFIG_DIR = Path("/etc/openmsi-gui")
EXIT_NOT_RUNNING = 3  # as systemctl status and LSB init scripts


def _split_args(args: argparse.Namespace) -> None:
    """Options after NAME land in ``args.args`` (argparse REMAINDER): parse them."""
    rest: list[str] = list(args.args)
    if "--" in rest:
        cut = rest.index("--")
        options, command = rest[:cut], rest[cut + 1:]
    elif rest and rest[0].startswith("-"):
        options, command = rest, []
    else:
        options, command = [], rest
    if options:
        extra = argparse.ArgumentParser(prog=f"openmsi service {args.action}")
        add_service_options(extra)
        parsed = extra.parse_args(options)
        args.system = args.system or parsed.system
        args.env = [*args.env, *parsed.env]
        args.dry_run = args.dry_run or parsed.dry_run
    args.args = command


def cmd_service(args: argparse.Namespace, _bus: EventBus) -> int:
    """``openmsi service``; errors are one sentence and exit code 2."""
    _split_args(args)
    try:
        return _run(args)
    except ServiceError as exc:
        print(f"openmsi: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    name = service.check_name(args.name)
    system = bool(args.system)
    config_dir = SYSTEM_CONFIG_DIR if system and sys.platform != "win32" else default_config_dir()
    manager = service.for_this_platform(config_dir)
    if args.action != "install":
        if args.args or args.env:
            raise ServiceError(f"'{args.action}' takes only the service's name (and --system)")
        if args.action == "remove":
            if args.dry_run:
                print(f"would remove openmsi-{name}")
            else:
                print(manager.remove(name, system))
            return 0
        status = manager.status(name, system)
        print(status.details or f"openmsi-{name}: {status.state}")
        return 0 if status.active else EXIT_NOT_RUNNING
    command = service.check_args(args.args)
    build_parser().parse_args(command)  # a mistake exits 2 now, not at every restart
    spec = ServiceSpec(name=name, args=command, system=system)
    env = service.parse_env(args.env)
    if args.dry_run:
        sys.stdout.write(manager.render(spec))
        if env:
            print(f"# would store {', '.join(env)} in {manager.env_file(name)} (mode 600)",
                  file=sys.stderr)
        return 0
    print(manager.install(spec, env))
    return 0
