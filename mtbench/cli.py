"""The one error path of mtbench's command-line tools.

Every tool's ``__main__`` calls :func:`run_cli`. A :class:`~mtbench.errors.UserError`, or an
``OSError`` about a path the user gave (missing, not readable, a folder instead of a file), ends
the tool with one line ``error: ...`` on stderr and exit status 2; ``MTBENCH_DEBUG=1`` re-raises
it with its traceback. Any other exception is a bug and is not caught.

Example:
    >>> if __name__ == '__main__':  # doctest: +SKIP
    ...     run_cli(main)
"""
import errno
import os
import sys
from typing import Callable, NoReturn, Optional

from mtbench.errors import UserError

__all__ = ['USER_ERROR_STATUS', 'run_cli', 'one_line']

USER_ERROR_STATUS = 2
_PATH_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EISDIR, errno.ENOTDIR, errno.EPERM,
                errno.ENOSPC, errno.EROFS}


def one_line(message: str) -> str:
    """The message as one line. An error re-raised from a DataLoader worker carries the
    worker's traceback in its text; its last line is the original message."""
    lines = [line.strip() for line in str(message).strip().splitlines() if line.strip()]
    if any(line.startswith('Traceback') or line.startswith('Original Traceback')
           for line in lines):
        last = lines[-1]
        name, sep, rest = last.partition(': ')
        return rest if sep and name.replace('.', '').isidentifier() else last
    return ' '.join(lines)


def _os_error_message(err: OSError) -> str:
    where = f': {err.filename}' if err.filename else ''
    what = err.strerror or str(err)
    return f'{what}{where}; check the path (and its permissions / free space)'


def run_cli(main: Callable[[], Optional[int]]) -> NoReturn:
    """Run ``main`` and exit with its return value (0 for None); user errors end in one line."""
    debug = os.environ.get('MTBENCH_DEBUG') == '1'
    try:
        status = main()
    except UserError as err:
        if debug:
            raise
        _fail(one_line(str(err)))
    except OSError as err:
        if debug or err.errno not in _PATH_ERRNOS:
            raise
        _fail(one_line(_os_error_message(err)))
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        sys.exit(130)
    sys.exit(status or 0)


def _fail(message: str) -> NoReturn:
    print(f'error: {message}', file=sys.stderr)
    sys.exit(USER_ERROR_STATUS)
