"""Taking secrets out of what leaves the machine (the diagnostics zip), without Qt.

Two rules, applied together:

* **By name.** A key whose name looks secret (password, passphrase, secret,
  token, credential, JAAS or OAuth config, API or private key, inline PEM) has
  its value replaced by :data:`REMOVED`, in JSON (at any depth) and in text
  (``key = value`` lines of INI and env files, ``key=value`` or ``"key": "value"``
  inside log lines). A ``$VARIABLE`` reference is kept: it names where the
  secret comes from, which a support engineer needs, and is no secret itself.
* **By value.** Every secret known on this machine (what the keychain holds for
  the profiles, destinations and receipt keys, and environment variables whose
  names look secret) is replaced wherever it appears, whatever the key. Values
  shorter than :data:`MIN_SECRET_LENGTH` are not searched for: they would match
  everywhere and reveal next to nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REMOVED = "<removed>"
MIN_SECRET_LENGTH = 4

_SECRET_NAME = re.compile(
    r"pass(?:word|wd|phrase)|(?:^|[._-])pwd$|secret|token|credential|jaas|oauthbearer"
    r"|api[._-]?key|private[._-]?key|(?:^|[._-])pem$|receipt[._-]?keys|pairing[._-]?code"
    r"|authorization|cookie|session[._-]?key",
    re.IGNORECASE)
# Every name _SECRET_NAME matches holds one of these: a quick test before the regex.
_SECRET_WORDS = ("pass", "pwd", "secret", "token", "credential", "jaas", "oauth", "key", "pem",
                 "authorization", "cookie", "pairing")
_ENV_REFERENCE = re.compile(r"^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$")
# A whole line ``key = value`` / ``key: value`` / ``export KEY=value`` (INI, env, YAML).
_LINE = re.compile(r"^(?P<head>\s*(?:export\s+)?(?P<key>[^\s=:#;\[][^=:]*?)\s*[=:]\s*)"
                   r"(?P<value>.*?)(?P<tail>\s*)$")
# ``key=value``, ``key: value`` or ``"key": "value"`` inside a longer line (logs). A value
# never starts with a brace: in ``config: {'sasl.password': 'x'}`` the dict is not the
# value of ``config`` (which would hide the password inside it from the next match).
_INLINE = re.compile(
    r"""(?P<head>(?P<q>["']?)(?P<key>[A-Za-z0-9_.\-]+)(?P=q)\s*[=:]\s*)"""
    r"""(?P<value>"[^"\n]*"|'[^'\n]*'|(?![{\[])[^\s,;)}\]\n]+)""")
# A private key written out (an inline ``ssl.key.pem``, a key pasted in a log), whatever
# names it: its lines carry no secret-looking name of their own.
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?"
                          r"(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL)
# The password of ``scheme://user:password@host``.
_URL_PASSWORD = re.compile(r"(?P<head>://[^/\s:@]+:)[^@\s/]+(?=@)")


def is_secret_name(name: str) -> bool:
    """Whether a setting, config key or variable called ``name`` holds a secret."""
    return bool(_SECRET_NAME.search(name.strip().strip("\"'")))


def _kept(value: str) -> bool:
    """Values that may stay under a secret name: empty, a ``$VAR`` reference, removed."""
    bare = value.strip().strip("\"'")
    return not bare or bare == REMOVED or bool(_ENV_REFERENCE.match(bare))


class Redactor:
    """Removes secrets from JSON values and text (see the module's rules).

    Args:
        known: secret values to remove wherever they appear.
    """

    def __init__(self, known: Iterable[str] = ()) -> None:
        values = {value for value in known if len(value) >= MIN_SECRET_LENGTH}
        # Longest first, so that a secret containing another is removed whole.
        self._known = sorted(values, key=len, reverse=True)
        self._pattern = (re.compile("|".join(re.escape(v) for v in self._known))
                         if self._known else None)

    @property
    def known_count(self) -> int:
        """How many secret values are searched for."""
        return len(self._known)

    def values(self, text: str) -> str:
        """``text`` with every known secret value replaced."""
        return self._pattern.sub(REMOVED, text) if self._pattern is not None else text

    def text(self, text: str) -> str:
        """``text`` (a log, an INI or env file) with secrets by name and by value removed."""
        text = _PRIVATE_KEY.sub(REMOVED, self.values(text)) if "PRIVATE KEY" in text else (
            self.values(text))
        lines = text.splitlines(keepends=True)
        continued = False  # the indented lines after a removed value continue it (INI)
        for index, line in enumerate(lines):
            if continued and line[:1] in (" ", "\t") and line.strip():
                lines[index] = line[: len(line) - len(line.lstrip())] + REMOVED + "\n"
                continue
            lowered = line.lower()
            named = (any(word in lowered for word in _SECRET_WORDS)
                     and _SECRET_NAME.search(line) is not None)
            if named or "://" in line:  # most log lines have neither: left as they are
                lines[index] = self._line(line, named)
            continued = named and _secret_setting(line.rstrip("\r\n")) is not None
        return "".join(lines)

    def _line(self, line: str, named: bool) -> str:
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        whole = _secret_setting(body) if named else None
        if whole is not None:
            body = f"{whole['head']}{REMOVED}{whole['tail']}"
        elif named:
            body = _INLINE.sub(self._inline, body)
        body = _URL_PASSWORD.sub(lambda m: f"{m['head']}{REMOVED}", body)
        return body + ending

    @staticmethod
    def _inline(match: re.Match[str]) -> str:
        if is_secret_name(match["key"]) and not _kept(match["value"]):
            return f"{match['head']}{REMOVED}"
        # ``crypto: rot_password=x``: the value of a plain key may hold a secret one.
        return match["head"] + _INLINE.sub(Redactor._inline, match["value"])

    def json(self, value: Any) -> Any:
        """A copy of a JSON value with secret-named members and known values removed."""
        if isinstance(value, Mapping):
            return {key: (REMOVED if is_secret_name(str(key)) and not _empty(item)
                          and not (isinstance(item, str) and _kept(item))
                          else self.json(item))
                    for key, item in value.items()}
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, str):
            return self.values(value)
        return value


def _secret_setting(body: str) -> re.Match[str] | None:
    """A whole line that sets a secret-named key (INI, env), its value to remove; else None."""
    whole = _LINE.match(body)
    if (whole and is_secret_name(whole["key"]) and " " not in whole["key"].strip()
            and not _kept(whole["value"])):
        return whole
    return None


def _empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def secret_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of environment variables whose names look secret."""
    env = os.environ if environ is None else environ
    return [value for name, value in env.items() if is_secret_name(name) and value]
