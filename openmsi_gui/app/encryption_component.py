"""Enabling and removing encryption in the installed app, in words (no Qt).

KafkaCrypto is GPL-2.0-only, so the packaged app does not include it: the user
fetches it as a component (:mod:`openmsi_gui.platform.components` installs,
checks and removes it). This module says what the profile editor's encryption
section and its "Enable encryption" dialog show, and runs the component work
(blocking: the GUI calls it on its background executors) so that it never raises
for what the user can fix: an :class:`Outcome` carries one sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openmsi_gui.app.text import error_sentence, sentence
from openmsi_gui.engine import crypto
from openmsi_gui.platform import component_install, components

NOT_INSTALLED_NOTE = ("Encryption needs KafkaCrypto, which this app may not include (it is "
                      "GPL-2.0-only): click Enable encryption… to fetch it.")
"""The encryption section's one sentence while the component is missing."""

DIALOG_INTRO = ("KafkaCrypto encrypts files end to end. Its GPL-2.0-only licence keeps it out "
                "of this app, so it is fetched separately, checked against the release this "
                "app trusts, and kept in your user folder.")
"""What the Enable encryption dialog says first."""

WHEEL_FILTER = "Python wheels (*.whl);;All files (*)"
"""The file dialog's filter for a KafkaCrypto wheel."""

REMOVE_TITLE = "Remove encryption"
REMOVE_QUESTION = ("Remove KafkaCrypto, which this app fetched? Encrypted profiles then stop "
                   "sending and receiving (at the latest when the app quits; their files "
                   "wait) until encryption is enabled again; your encryption nodes and their "
                   "keys are kept.")
"""What "Remove encryption…" asks first: what stops working."""

ProgressReport = Callable[[str], None]
"""Told what the component work is doing, in a few words (from a worker thread)."""


@dataclass(frozen=True)
class ComponentState:
    """Whether encryption can be used, and whether it came as the app's component.

    Attributes:
        usable: KafkaCrypto can be imported (installed as the component, or with pip).
        component: the app's KafkaCrypto component is installed (it can be removed).
        version: the component's version (the pinned one if it is not installed).
        folder: where the component is (or goes).
        lingering: the component was removed but this process imported it before, so
            what runs now keeps it until the app quits.
    """

    usable: bool
    component: bool
    version: str
    folder: Path
    lingering: bool = False

    @property
    def removable(self) -> bool:
        """Whether "Remove encryption…" applies."""
        return self.component


@dataclass(frozen=True)
class Outcome:
    """How installing or removing the component went.

    Attributes:
        ok: it worked.
        sentence: what happened, or what to do (one sentence).
        state: the component's state afterwards.
    """

    ok: bool
    sentence: str
    state: ComponentState


def component_state() -> ComponentState:
    """Look the component up and try importing KafkaCrypto (blocking: a third of a second).

    A component removed while the app runs stays imported until the app quits,
    but counts as gone: new jobs must not rely on it.
    """
    try:
        status = components.status()
    except components.ComponentError:
        return ComponentState(crypto.kafkacrypto_available(), False, "", components_dir())
    removed = status.source is components.Source.COMPONENT and not status.component
    usable = not removed and crypto.kafkacrypto_available()
    return ComponentState(usable, status.component, status.pin.version,
                          components.install_dir(status.pin), removed)


def components_dir() -> Path:
    """Where components go."""
    return components.components_dir()


def _relay(report: ProgressReport) -> component_install.ProgressCallback:
    def progress(step: component_install.InstallProgress) -> None:
        if step.fraction is None or not 0 < step.fraction < 1:
            report(step.step)
        else:
            report(f"{step.step.rstrip('…. ')}… {int(step.fraction * 100)} %")
    return progress


def refused_sentence(error: components.ComponentError, wheel: Path | None) -> str:
    """Why installing failed, and what to do, in the GUI's words (one sentence)."""
    wanted = _pinned_wheel()
    if isinstance(error, component_install.HashMismatch):
        if wheel is not None:
            again = "it again" if wheel.name == wanted else wanted
            return (f"{wheel.name} is not the KafkaCrypto release this app trusts (SHA-256 "
                    f"differs): download {again} from PyPI.")
        return ("The Python Package Index offers another KafkaCrypto file than the one this "
                f"app trusts (SHA-256 differs): install {wanted} from a file instead.")
    if isinstance(error, component_install.IndexUnreachable):
        return ("The Python Package Index could not be reached: check the internet "
                "connection (and HTTPS_PROXY behind a proxy), or copy "
                f"{wanted} from another computer and click Install from a file….")
    return f"Encryption was not enabled: {error_sentence(error)}"


def _pinned_wheel() -> str:
    try:
        return components.pin().wheel
    except components.ComponentError:
        return "the KafkaCrypto wheel"


def install(wheel: Path | None, report: ProgressReport | None = None) -> Outcome:
    """Install KafkaCrypto from ``wheel``, or from the package index if None (blocking).

    Args:
        wheel: a KafkaCrypto wheel file; None downloads the pinned one from PyPI.
        report: told what is being done (from this thread).
    """
    tell = report or (lambda _text: None)
    try:
        if wheel is None:
            tell("Asking the Python Package Index…")
            component_install.install_from_index(_relay(tell))
        else:
            tell(f"Checking {wheel.name}…")
            component_install.install_from_file(wheel, _relay(tell))
    except components.ComponentError as exc:
        return Outcome(False, refused_sentence(exc, wheel), component_state())
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return Outcome(False, f"Encryption was not enabled: {sentence(reason)}",
                       component_state())
    state = component_state()
    if not state.usable:
        return Outcome(False, f"KafkaCrypto {state.version} was installed but cannot be "
                       "loaded: see the log, or remove it and install it again.", state)
    return Outcome(True, f"Encryption is enabled: KafkaCrypto {state.version} is installed "
                   f"in {state.folder}.", state)


def remove() -> Outcome:
    """Remove the component (blocking)."""
    try:
        components.remove()
    except components.ComponentError as exc:
        return Outcome(False, f"Encryption was not removed: {error_sentence(exc)}",
                       component_state())
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return Outcome(False, f"Encryption was not removed: {sentence(reason)}",
                       component_state())
    state = component_state()
    if state.usable:  # a pip-installed kafkacrypto remains
        return Outcome(True, "The KafkaCrypto component was removed; this Python's own "
                       "kafkacrypto package still encrypts.", state)
    if state.lingering:
        return Outcome(True, "KafkaCrypto was removed: encrypted profiles keep working until "
                       "the app quits, then wait until encryption is enabled again.", state)
    return Outcome(True, "KafkaCrypto was removed: encrypted profiles wait until encryption "
                   "is enabled again.", state)


__all__ = ["DIALOG_INTRO", "NOT_INSTALLED_NOTE", "REMOVE_QUESTION", "REMOVE_TITLE", "WHEEL_FILTER",
           "ComponentState", "Outcome", "component_state", "install", "refused_sentence", "remove"]
