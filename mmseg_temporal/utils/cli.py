"""One line for user errors in every command-line tool.

Every ``tools/*.py`` ends with ``run_tool(main)``: a user error (a config
value, a data file, a checkpoint; see :mod:`.errors`) ends the process with
one line ``error: <message>`` on stderr and exit status 1, not a traceback.
``--debug`` on the command line (removed before the tool parses its
arguments) or ``MMSEG_TEMPORAL_DEBUG=1`` in the environment re-raises it
with its traceback. Anything else (a bug) keeps its traceback.
"""
import os
import re
import sys
from typing import Callable, List, Optional, Tuple, Type

from .checkpoint import CheckpointError
from .errors import ConfigError, DataError

__all__ = ['USER_ERRORS', 'DEBUG_ENV', 'run_tool', 'error_line', 'debug_requested']

DEBUG_ENV = 'MMSEG_TEMPORAL_DEBUG'

#: What a tool reports in one line: the project's own types, missing or
#: unwritable files, and the ValueError/KeyError/TypeError that config
#: checks (MMEngine's registry included) raise.
USER_ERRORS: Tuple[Type[BaseException], ...] = (
    ConfigError, DataError, CheckpointError, FileNotFoundError,
    PermissionError, IsADirectoryError, NotADirectoryError, ValueError,
    KeyError, TypeError)

_HINT = ' (rerun with --debug for the traceback)'
_TYPED_LINE = re.compile(r'^[A-Za-z_][\w.]*: (.*)$')


def _original_message(msg: str) -> str:
    """The error a DataLoader worker raised, from the message PyTorch
    re-raises it with (``Caught X in DataLoader worker process 0.`` and the
    worker's traceback): the traceback's last line, without its type."""
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    if len(lines) < 2 or not lines[0].startswith('Caught '):
        return msg
    m = _TYPED_LINE.match(lines[-1])
    return m.group(1) if m else lines[-1]


def error_line(exc: BaseException) -> str:
    """``error: <message>`` on one line (a KeyError's message without the
    quotes ``str()`` adds; line breaks folded)."""
    msg = exc.args[0] if (isinstance(exc, KeyError) and len(exc.args) == 1
                          and isinstance(exc.args[0], str)) else str(exc)
    msg = _original_message(msg)
    msg = ' '.join(part.strip() for part in msg.splitlines() if part.strip())
    return f'error: {msg or type(exc).__name__}'


def debug_requested(argv: Optional[List[str]] = None) -> bool:
    """``--debug`` in ``argv`` (default ``sys.argv``; removed from it) or
    ``MMSEG_TEMPORAL_DEBUG`` set to anything but ``''``/``0``."""
    argv = sys.argv if argv is None else argv
    found = '--debug' in argv[1:]
    while '--debug' in argv[1:]:
        argv.remove('--debug')
    return found or os.environ.get(DEBUG_ENV, '') not in ('', '0')


def run_tool(main: Callable[[], object],
             user_errors: Tuple[Type[BaseException], ...] = USER_ERRORS
             ) -> object:
    """Runs a tool's ``main()``; a user error ends the process with one
    ``error: ...`` line and exit status 1 (re-raised under ``--debug``).

    Returns what ``main`` returns (``SystemExit`` passes through)."""
    debug = debug_requested()
    try:
        return main()
    except user_errors as e:
        if debug:
            raise
        print(error_line(e) + _HINT, file=sys.stderr)
        sys.exit(1)
