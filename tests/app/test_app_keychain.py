"""A keychain that cannot be used is one plain sentence, without keyring's own advice."""

from __future__ import annotations

import keyring
import pytest
from keyring.errors import NoKeyringError

from openmsi_gui.app import keychain

KEYRING_WORDS = ("No recommended backend was available. Install a recommended 3rd party backend "
                 "package; or, install the keyrings.alt package if you want to use the "
                 "non-recommended backends. See https://pypi.org/project/keyring for details.")


@pytest.mark.parametrize("call", [lambda: keychain.get_secret("profile:p", "sasl.password"),
                                  lambda: keychain.set_secret("profile:p", "sasl.password", "x"),
                                  lambda: keychain.delete_secret("profile:p", "sasl.password")])
def test_no_keychain_at_all_says_what_to_do_in_one_sentence(
        call: object, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise NoKeyringError(KEYRING_WORDS)

    for name in ("get_password", "set_password", "delete_password"):
        monkeypatch.setattr(keyring, name, refuse)
    with pytest.raises(keychain.KeychainError) as raised:
        call()  # type: ignore[operator]
    assert str(raised.value) == ("the system keychain is not available: on Linux install and "
                                 "unlock gnome-keyring or KWallet")
