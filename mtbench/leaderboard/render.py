"""Markdown for the leaderboard sections (GitHub tables via ``tabulate``), deterministic.

Example:
    >>> fmt_stat(Stat(2.4512, 0.1234, 3), 2, signed=True)
    '+2.45 ± 0.12'
"""
from collections.abc import Sequence

from tabulate import tabulate

from mtbench.leaderboard.aggregate import Row, Section, Stat
from mtbench.tasks import TASKS

__all__ = ['DASH', 'Footnotes', 'cell', 'fmt_int', 'fmt_num', 'fmt_stat', 'metric_digits',
           'metric_header', 'section_markdown', 'suite_markdown', 'table']

DASH = '—'


def metric_header(task: str) -> str:
    """Column name of a task's primary metric with its direction, e.g. ``normals mean ↓``."""
    spec = TASKS[task]
    return f'{task} {spec.primary_metric} {"↑" if spec.higher_is_better else "↓"}'


def metric_digits(task: str) -> int:
    """Decimals shown for a task's primary metric (depth in metres gets 3, the rest 2)."""
    return 3 if task == 'depth' else 2


def fmt_num(value: float | None, digits: int, signed: bool = False) -> str:
    """``value`` with ``digits`` decimals (``+`` sign when ``signed``); ``—`` for None."""
    if value is None:
        return DASH
    text = f'{value:+.{digits}f}' if signed else f'{value:.{digits}f}'
    if float(text) == 0:  # no '-0.00'
        text = text.replace('-', '+' if signed else '')
    return text


def fmt_stat(value: Stat | None, digits: int, signed: bool = False) -> str:
    """``mean ± std`` (just the mean for one seed); ``—`` for None."""
    if value is None:
        return DASH
    text = fmt_num(value.mean, digits, signed)
    return text if value.std is None else f'{text} ± {value.std:.{digits}f}'


def fmt_int(value: int | None) -> str:
    """Integer with thousands separators; ``—`` for None."""
    return DASH if value is None else f'{value:,}'


def cell(text) -> str:
    """Make a value safe inside a GitHub table cell."""
    return str(text).replace('|', '\\|').replace('\n', ' ')


def table(headers: Sequence[str], rows: Sequence[Sequence], right: Sequence[bool]) -> str:
    """GitHub-markdown table of preformatted cells (``right``: right-align that column)."""
    return tabulate([[cell(c) for c in r] for r in rows], headers=[cell(h) for h in headers],
                    tablefmt='github', disable_numparse=True,
                    colalign=['right' if r else 'left' for r in right])


class Footnotes:
    """Numbered notes below a table; identical texts share one number."""

    def __init__(self):
        self.texts: list[str] = []

    def refs(self, notes: Sequence[str]) -> str:
        """``[1] [3]`` for ``notes`` (registering new ones)."""
        out = []
        for note in notes:
            if note not in self.texts:
                self.texts.append(note)
            out.append(f'[{self.texts.index(note) + 1}]')
        return ' '.join(out)

    def markdown(self) -> str:
        """The numbered list (empty string when there are no notes)."""
        return '\n'.join(f'{i}. {cell(t)}' for i, t in enumerate(self.texts, 1))


def _caption(section: Section) -> list[str]:
    images = ', '.join(f'{n:,}' for n in section.num_images)
    lines = [f'- Dataset: `{section.dataset}`, variant `{section.dataset_variant}`, checksum '
             f'`{section.checksum}`, split `{section.split}` ({images} images)',
             f'- Tasks: {", ".join(section.tasks)}']
    return lines


def _efficiency_caption(section: Section) -> tuple[str, bool]:
    hardware = section.hardware
    if not hardware:
        return '- Efficiency: not reported by these records.', False
    if len(hardware) == 1:
        return f'- Efficiency figures measured on: {hardware[0]}.', False
    return ('- **Efficiency figures come from different hardware** ('
            + '; '.join(hardware) + '): the hardware column says which; compare them only '
            'between rows with the same hardware.', True)


def _efficiency_cells(row: Row) -> list[str]:
    eff = row.efficiency
    gflops = [DASH if eff[k] is None else f'{eff[k].mean / 1e9:.2f}'
              for k in ('flops_per_image', 'train_flops_per_image')]
    return [*gflops,
            fmt_num(eff['train_throughput'].mean if eff['train_throughput'] else None, 1),
            fmt_num(eff['peak_memory_mb'].mean if eff['peak_memory_mb'] else None, 0),
            fmt_num(eff['inference_latency_ms'].mean if eff['inference_latency_ms'] else None, 2)]


def _param_cells(row: Row) -> list[str]:
    p = row.params
    return [fmt_int(p['trainable']), fmt_int(p['backbone_added']),
            fmt_int(p['backbone_original']), fmt_int(p['decoders']), fmt_int(p['total'])]


_PARAM_HEADERS = ['trainable params', 'backbone added', 'backbone original', 'decoders',
                  'total params']
_EFF_HEADERS = ['fwd GFLOPs/img', 'train GFLOPs/img', 'train img/s', 'peak mem (MB)',
                'latency (ms)']


def section_markdown(section: Section, title: str, plots: Sequence[tuple] = ()) -> str:
    """Markdown of one multi-task section.

    Args:
        section: the section.
        title: its heading text.
        plots: ``(alt text, relative path)`` of images to link below the caption.

    Returns:
        Heading, caption bullets, the table and its footnotes.
    """
    eff_line, mixed = _efficiency_caption(section)
    lines = [f'### {title}', '', *_caption(section),
             f'- Δm reference: {section.reference.label}']
    if section.reference.problem:
        lines.append(f'- **Δm not computed**: {section.reference.problem}.')
    lines.append(eff_line)
    lines.append('- Δm and metrics: mean ± sample std over seeds; ★ = on the Pareto front '
                 '(fewest trainable parameters for its Δm).')
    lines.extend(['', *(f'![{alt}]({path})' for alt, path in plots)] if plots else [])
    headers = ['method', 'variant', *(metric_header(t) for t in section.tasks), 'Δm (%) ↑',
               'seeds', 'Pareto', *_PARAM_HEADERS, *_EFF_HEADERS,
               *(['hardware'] if mixed else []), 'backbone', 'pretrained', 'notes']
    right = [False, False, *[True] * (len(section.tasks) + 3 + 5 + 4),
             *([False] if mixed else []), False, False, False]
    notes = Footnotes()
    body = []
    for row in section.rows:
        body.append([row.method, row.variant,
                     *(fmt_stat(row.metrics[t], metric_digits(t)) for t in section.tasks),
                     fmt_stat(row.delta, 2, signed=True), str(len(row.seeds)),
                     '★' if row.pareto else '', *_param_cells(row), *_efficiency_cells(row),
                     *([row.hardware or DASH] if mixed else []), row.backbone,
                     row.pretrained or 'random init', notes.refs(row.notes)])
    lines.extend(['', table(headers, body, right)])
    if notes.texts:
        lines.extend(['', 'Notes:', '', notes.markdown()])
    return '\n'.join(lines) + '\n'


def suite_markdown(section: Section, title: str) -> str:
    """Markdown of the suite's single-task runs of one dataset variant."""
    eff_line, mixed = _efficiency_caption(section)
    lines = [f'### {title}', '', *_caption(section), eff_line,
             '- These runs are the suite\'s own single-task reference: a multi-task row is '
             'compared with them when they cover all its tasks (same backbone and weights).']
    headers = ['task', 'metric', 'value', 'seeds', 'method', 'variant', *_PARAM_HEADERS,
               *_EFF_HEADERS, *(['hardware'] if mixed else []), 'backbone', 'pretrained',
               'notes']
    right = [False, False, True, True, False, False, *[True] * 9, *([False] if mixed else []),
             False, False, False]
    notes = Footnotes()
    body = []
    for row in section.rows:
        task = next(iter(row.metrics))
        body.append([task, metric_header(task).split(' ', 1)[1],
                     fmt_stat(row.metrics[task], metric_digits(task)), str(len(row.seeds)),
                     row.method, row.variant, *_param_cells(row), *_efficiency_cells(row),
                     *([row.hardware or DASH] if mixed else []), row.backbone,
                     row.pretrained or 'random init', notes.refs(row.notes)])
    lines.extend(['', table(headers, body, right)])
    if notes.texts:
        lines.extend(['', 'Notes:', '', notes.markdown()])
    return '\n'.join(lines) + '\n'
