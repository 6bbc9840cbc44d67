"""Secrets in the OS keychain (keyring), never in files or logs.

Every secret belongs to a profile (or destination) id and a name, e.g.
``("profile:3f2a9c1d", "sasl.password")``. Keychain access can block (it may
ask the OS for permission), so callers run it off the GUI thread.
"""

from __future__ import annotations

import logging

import keyring
from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

log = logging.getLogger(__name__)

SERVICE = "openmsi-gui"


class KeychainError(RuntimeError):
    """The OS keychain cannot be used; the message says what to do."""


NOT_AVAILABLE = ("the system keychain is not available: on Linux install and unlock "
                 "gnome-keyring or KWallet")


def _no_keychain(exc: NoKeyringError) -> KeychainError:
    """One sentence for no keychain at all (keyring's own advice, about pip, goes to debug)."""
    log.debug("no keychain: %s", exc)
    return KeychainError(NOT_AVAILABLE)


def _account(owner: str, name: str) -> str:
    return f"{owner}/{name}"


def get_secret(owner: str, name: str) -> str | None:
    """The secret ``name`` of ``owner``, or None if none is stored.

    Raises:
        KeychainError: if no usable keychain exists.
    """
    try:
        return keyring.get_password(SERVICE, _account(owner, name))
    except NoKeyringError as exc:
        raise _no_keychain(exc) from exc
    except KeyringError as exc:
        raise KeychainError(f"the system keychain is not available ({exc}); on Linux "
                            "install and unlock gnome-keyring or KWallet") from exc


def has_secret(owner: str, name: str) -> bool:
    """Whether a secret ``name`` of ``owner`` is stored (blocking, like every call here).

    Raises:
        KeychainError: if no usable keychain exists.
    """
    return get_secret(owner, name) is not None


def set_secret(owner: str, name: str, value: str) -> None:
    """Store (or, with an empty ``value``, delete) a secret.

    Raises:
        KeychainError: if no usable keychain exists.
    """
    if not value:
        delete_secret(owner, name)
        return
    try:
        keyring.set_password(SERVICE, _account(owner, name), value)
    except NoKeyringError as exc:
        raise _no_keychain(exc) from exc
    except KeyringError as exc:
        raise KeychainError(f"could not save the secret in the system keychain ({exc})") from exc
    log.info("stored %s for %s in the keychain", name, owner)


def delete_secret(owner: str, name: str) -> None:
    """Remove a secret if it exists."""
    try:
        keyring.delete_password(SERVICE, _account(owner, name))
    except PasswordDeleteError:
        pass
    except NoKeyringError as exc:
        raise _no_keychain(exc) from exc
    except KeyringError as exc:
        raise KeychainError(f"could not delete the secret from the keychain ({exc})") from exc
