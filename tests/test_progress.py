"""mtbench.progress: plain periodic lines off a terminal, a tqdm bar on one."""
import io

import pytest

from mtbench import progress as progress_mod
from mtbench.progress import Progress, format_duration, format_progress_line, progress


class _Clock:
    """A stand-in for ``time.monotonic`` that the test moves forward."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    fake = _Clock()
    monkeypatch.setattr(progress_mod.time, 'monotonic', fake)
    monkeypatch.delenv(progress_mod.ENV_MODE, raising=False)
    return fake


def test_durations_and_line_format():
    assert [format_duration(s) for s in (0, 42.4, 185, 3725)] == ['0s', '42s', '3m05s', '1h02m']
    assert format_progress_line('render', 3, 10, 12.0) == \
        'render: 3/10 (30%), elapsed 12s, ETA 28s'
    assert format_progress_line('render', 0, 10, 1.0) == \
        'render: 0/10 (0%), elapsed 1s, ETA unknown'
    assert format_progress_line('render', 10, 10, 65.0) == \
        'render: 10/10 (100%), elapsed 1m05s, done'
    assert format_progress_line('pretrain', 50, None, 10.0, unit='iter') == \
        'pretrain: 50 iter, elapsed 10s (5.00 iter/s)'


def test_lines_off_a_terminal_every_interval_and_at_the_end(clock):
    out = io.StringIO()
    with Progress(total=10, desc='scenes', file=out, interval=10.0) as bar:
        for _ in range(4):  # one unit every 4 s: a line once 10 s have passed since the last
            clock.now += 4.0
            bar.update()
        clock.now += 4.0
        bar.update(6)
    assert out.getvalue().splitlines() == [
        'scenes: 3/10 (30%), elapsed 12s, ETA 28s',
        'scenes: 10/10 (100%), elapsed 20s, done',
    ]


def test_iterable_wrapper_takes_len_and_closes_once(clock):
    out = io.StringIO()
    items = []
    for item in progress(['a', 'b', 'c'], desc='items', file=out, interval=0):
        clock.now += 1.0
        items.append(item)
    assert items == ['a', 'b', 'c']
    assert out.getvalue().splitlines() == [
        'items: 1/3 (33%), elapsed 1s, ETA 2s',
        'items: 2/3 (67%), elapsed 2s, ETA 1s',
        'items: 3/3 (100%), elapsed 3s, done',
    ]


def test_lines_to_a_log_function_as_the_suite_runner_uses(clock):
    lines = []
    with Progress(total=2, desc='suite mini', unit='run', interval=0, write=lines.append,
                  file=_Terminal()) as bar:  # ``write`` gives lines even on a terminal
        clock.now += 30
        bar.update()
        clock.now += 40
        bar.update()
    assert lines == ['suite mini: 1/2 (50%), elapsed 30s, ETA 30s',
                     'suite mini: 2/2 (100%), elapsed 1m10s, done']


def test_total_known_later(clock):
    out = io.StringIO()
    bar = Progress(desc='pretrain', unit='iter', file=out, interval=0)
    clock.now += 5
    bar.set_total(800)
    bar.update(50)
    bar.close()
    bar.close()  # idempotent
    assert out.getvalue().splitlines() == ['pretrain: 50/800 (6%), elapsed 5s, ETA 1m15s']


def test_a_bar_on_a_terminal(clock):
    term = _Terminal()
    with Progress(total=3, desc='scenes', unit='scene', file=term) as bar:
        bar.update(3)
    text = term.getvalue()
    assert '\r' in text and 'scenes' in text and '3/3' in text and '100%' in text
    assert 'elapsed' not in text  # tqdm's own format, not the plain lines


@pytest.mark.parametrize('mode, expected', [('lines', 'lines'), ('off', 'nothing')])
def test_environment_forces_lines_or_silence(clock, monkeypatch, mode, expected):
    monkeypatch.setenv(progress_mod.ENV_MODE, mode)
    term = _Terminal()
    with Progress(total=2, desc='x', file=term, interval=0) as bar:
        bar.update(2)
    assert term.getvalue() == ('x: 2/2 (100%), elapsed 0s, done\n' if expected == 'lines'
                               else '')


def test_disabled_counts_but_shows_nothing(clock):
    out = io.StringIO()
    with Progress(total=5, file=out, enabled=False) as bar:
        bar.update(5)
    assert bar.done == 5 and out.getvalue() == ''


def test_write_keeps_messages_on_stdout(clock, capsys):
    with Progress(total=1, desc='bench', file=io.StringIO(), interval=0) as bar:
        bar.write('[round 1/1] config.py')
        bar.update()
    assert capsys.readouterr().out == '[round 1/1] config.py\n'
