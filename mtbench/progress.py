"""Progress of long work outside the Runner: a bar on a terminal, plain lines in logs.

mtbench shows progress with one library, tqdm (a declared dependency). On a terminal the work
gets a tqdm bar; when the stream is not a terminal (CI logs, ``> file``) it gets a plain line
``<desc>: <done>/<total> (<pct>%), elapsed <t>, ETA <t>`` at most every ``interval`` seconds,
and one when the work ends, so a log shows that a long step is alive and how long it has left.
``MTBENCH_PROGRESS=lines`` forces the lines on a terminal, ``MTBENCH_PROGRESS=off`` silences both.

Example:
    >>> for scene in progress(range(1000), desc='render'):  # doctest: +SKIP
    ...     render(scene)
    >>> with Progress(total=30, desc='suite', interval=0, write=print) as bar:  # doctest: +SKIP
    ...     bar.update()   # a line per finished entry
"""
import os
import sys
import time
from typing import Callable, IO, Iterable, Iterator, Optional, TypeVar

__all__ = ['Progress', 'progress', 'format_duration', 'format_progress_line', 'ENV_MODE']

#: environment variable: ``lines`` (no bar even on a terminal) or ``off`` (no progress output)
ENV_MODE = 'MTBENCH_PROGRESS'

T = TypeVar('T')


def format_duration(seconds: float) -> str:
    """``'42s'``, ``'3m05s'`` or ``'1h02m'``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f'{seconds}s'
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f'{minutes}m{secs:02d}s'
    hours, minutes = divmod(minutes, 60)
    return f'{hours}h{minutes:02d}m'


def format_progress_line(desc: str, done: int, total: Optional[int], elapsed: float,
                         unit: str = 'it') -> str:
    """One progress line: ``desc: 3/10 (30%), elapsed 12s, ETA 28s``.

    Without ``total`` the line gives the count and the rate instead of a share and an ETA.
    """
    prefix = f'{desc}: ' if desc else ''
    if not total:
        rate = done / elapsed if elapsed > 0 else 0.0
        return f'{prefix}{done} {unit}, elapsed {format_duration(elapsed)} ({rate:.2f} {unit}/s)'
    line = f'{prefix}{done}/{total} ({100.0 * done / total:.0f}%), ' \
           f'elapsed {format_duration(elapsed)}'
    if done >= total:
        return line + ', done'
    if done == 0:
        return line + ', ETA unknown'
    return line + f', ETA {format_duration(elapsed / done * (total - done))}'


class Progress:
    """Counts work done and shows it (see the module docstring); a context manager.

    Args:
        total: units of work expected (``None``: unknown).
        desc: what is being done, the prefix of every line.
        unit: the unit's name (bar and rate).
        file: the stream shown on (default ``sys.stderr``); a bar only if it is a terminal.
        interval: seconds between two lines (0: a line at every :meth:`update`).
        write: where lines go instead of ``file`` (e.g. a logger's method); never a bar then.
        enabled: ``False`` shows nothing (the counting still works).
    """

    def __init__(self, total: Optional[int] = None, desc: str = '', unit: str = 'it',
                 file: Optional[IO] = None, interval: float = 10.0,
                 write: Optional[Callable[[str], None]] = None, enabled: bool = True):
        self.total = total
        self.desc = desc
        self.unit = unit
        self.interval = interval
        self.done = 0
        self.start = time.monotonic()
        self._file = file if file is not None else sys.stderr
        self._write = write
        self._last_line = self.start
        self._shown = None  # the count of the last line shown
        self._closed = False
        mode = os.environ.get(ENV_MODE, '').strip().lower()
        self._silent = not enabled or mode == 'off'
        self._bar = None
        if not self._silent and write is None and mode != 'lines' and _is_tty(self._file):
            from tqdm import tqdm
            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self._file,
                             dynamic_ncols=True)

    @property
    def elapsed(self) -> float:
        """Seconds since the work started."""
        return time.monotonic() - self.start

    def set_total(self, total: Optional[int]) -> None:
        """Set the expected units of work (when known only once the work has started)."""
        self.total = total
        if self._bar is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()

    def line(self) -> str:
        """The progress line for the current count."""
        return format_progress_line(self.desc, self.done, self.total, self.elapsed, self.unit)

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done; show a line if ``interval`` seconds have passed."""
        self.done += n
        if self._silent:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        finished = self.total is not None and self.done >= self.total
        if now - self._last_line >= self.interval and not finished:
            self._emit(self.line())
            self._last_line = now
            self._shown = self.done

    def write(self, text: str) -> None:
        """Print a message on stdout without breaking the bar (above it, on a terminal)."""
        if self._bar is not None:
            from tqdm import tqdm
            tqdm.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def close(self) -> None:
        """End the display: close the bar, or print the final line (unless already shown)."""
        if self._closed:
            return
        self._closed = True
        if self._silent:
            return
        if self._bar is not None:
            self._bar.close()
        elif self._shown != self.done:
            self._emit(self.line())

    def _emit(self, text: str) -> None:
        if self._write is not None:
            self._write(text)
        else:
            print(text, file=self._file, flush=True)

    def __enter__(self) -> 'Progress':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(iterable: Iterable[T], total: Optional[int] = None, desc: str = '',
             **kwargs) -> Iterator[T]:
    """Iterate ``iterable`` while showing a :class:`Progress` (``total`` from ``len`` if any).

    Args:
        iterable: the work items.
        total: how many there are (default: ``len(iterable)`` when it has one).
        desc: what is being done.
        **kwargs: the other arguments of :class:`Progress`.
    """
    if total is None and hasattr(iterable, '__len__'):
        total = len(iterable)
    with Progress(total=total, desc=desc, **kwargs) as bar:
        for item in iterable:
            yield item
            bar.update()


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
