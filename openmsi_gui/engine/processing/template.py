r"""Command templates: split like a shell would, placeholders filled per argument, no shell.

``convert {path} --out "/data/out dir/{relpath}.png"`` is first split into
arguments (:func:`shlex.split`, POSIX rules: quotes group words, backslashes
escape), and only then are the placeholders replaced in each argument, in one
pass, by exact token. So a file name with spaces, quotes, ``;``, ``$(...)`` or
even ``{path}`` in it reaches the program as one argument, unchanged: there is
no shell to interpret it and the substituted text is never scanned again.
Braces that are not one of the five placeholders are left as they are
(``awk '{ print $1 }'``); a lone word in braces such as ``{foo}`` is refused, as
a misspelt placeholder. The program itself is never a placeholder: a file
received from the topic is not what runs.

On Windows the same POSIX rules apply: a backslash escapes the next character,
so write paths with forward slashes or inside single quotes
(``'C:\Tools\convert.exe' {path}``).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping

from openmsi_gui.engine.processing.api import FileToProcess

PLACEHOLDERS = ("path", "relpath", "topic", "sha512", "metadata_json")
"""The placeholders of a command template, without their braces."""
PLACEHOLDER_LIST = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
_TOKEN = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_WORD_IN_BRACES = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TemplateError(ValueError):
    """A command template that cannot be run; the message says what to change."""


def split_template(template: str) -> list[str]:
    """The arguments of ``template``, placeholders still in them.

    Raises:
        TemplateError: it is empty, its quotes are unbalanced, or it has an unknown
            placeholder.
    """
    if not template.strip():
        raise TemplateError("The command is empty: write the program to run and its "
                            f"arguments, e.g. convert {{path}} (placeholders: {PLACEHOLDER_LIST}).")
    try:
        args = shlex.split(template, posix=True)
    except ValueError as exc:
        raise TemplateError(f"The command cannot be split into arguments ({exc}): close "
                            "its quotes, or escape a lone quote with a backslash.") from exc
    if not args:
        raise TemplateError("The command is empty: write the program to run and its arguments.")
    for arg in args:
        for match in _WORD_IN_BRACES.finditer(arg):
            if match.group(1) not in PLACEHOLDERS:
                raise TemplateError(f"{match.group(0)} is not a placeholder: use "
                                    f"{PLACEHOLDER_LIST}.")
    if _TOKEN.search(args[0]):  # a file received from the topic must never be what runs
        raise TemplateError("The command must start with the program to run, not a "
                            "placeholder: e.g. python3 /opt/lab/index.py {path}.")
    return args


def template_problem(template: str) -> str | None:
    """Why ``template`` cannot be run, in one sentence, or None when it can."""
    try:
        split_template(template)
    except TemplateError as exc:
        return str(exc)
    return None


def placeholder_values(file: FileToProcess) -> dict[str, str]:
    """What each placeholder stands for, for ``file``."""
    return {
        "path": str(file.path),
        "relpath": file.relpath,
        "topic": file.topic,
        "sha512": file.sha512,
        "metadata_json": json.dumps(dict(file.metadata), sort_keys=True),
    }


def fill(args: list[str], values: Mapping[str, str]) -> list[str]:
    """``args`` with each placeholder replaced by its value, in one pass per argument."""
    return [_TOKEN.sub(lambda match: values[match.group(1)], arg) for arg in args]


def command_args(template: str, file: FileToProcess) -> list[str]:
    """The arguments to run for ``file``.

    Raises:
        TemplateError: the template cannot be run (see :func:`split_template`).
    """
    return fill(split_template(template), placeholder_values(file))
