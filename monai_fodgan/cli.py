"""What the command lines share: a help formatter that shows every option's default and keeps examples as written.

Each command parses its arguments before importing torch, MONAI or DIPY (see :mod:`monai_fodgan._lazy`), so
``--help`` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Sequence

__all__ = ["HelpFormatter", "shell_line"]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks (examples render as written) and appends ``(default: X)`` to every
    option that has a default; options without one (``None``) and on/off flags are left as they are."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or default is None or default is False or default == argparse.SUPPRESS or not action.option_strings:
            return text
        if isinstance(default, (list, tuple)):
            return f"{text} (default: {' '.join(str(v) for v in default)})".strip()
        return f"{text} (default: %(default)s)".strip()


def shell_line(args: Sequence[object]) -> str:
    """``args`` as one would type them in a POSIX shell: ``shlex.join``, except that an argument holding single
    quotes but no shell-special characters (a config list such as ``['a.json','b.json']``) is put in double quotes
    instead of shlex's ``'['"'"'a.json...`` form, and paths under the working directory are shown relative to it.

    Example::

        shell_line(["python", "-m", "monai.bundle", "--config_file", "['a.json','b.json']"])
        # python -m monai.bundle --config_file "['a.json','b.json']"
    """
    cwd = os.getcwd() + os.sep
    words = []
    for arg in map(str, args):
        arg = arg.replace(cwd, "") if cwd != os.sep else arg
        if "'" in arg and not any(c in arg for c in '"$`\\!'):
            words.append(f'"{arg}"')
        else:
            words.append(shlex.quote(arg))
    return " ".join(words)
