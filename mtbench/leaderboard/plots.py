"""PNG plots of a section (matplotlib, Agg backend, fixed size and no metadata: same input gives
the same bytes with the same matplotlib version).

Example:
    >>> pareto_plot(section, 'leaderboard/plots/x_pareto.png')  # doctest: +SKIP
"""
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from mtbench.fileio import atomic_open  # noqa: E402
from mtbench.leaderboard.aggregate import Section  # noqa: E402
from mtbench.tasks import TASKS  # noqa: E402

__all__ = ['pareto_plot', 'tasks_plot']

_STYLE = {'font.size': 8, 'font.family': 'DejaVu Sans', 'svg.hashsalt': 'mtbench',
          'path.simplify': False}
_DPI = 100


def _label(row) -> str:
    return f'{row.method} / {row.variant}'


def _save(fig, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, 'wb') as f:
        fig.savefig(f, dpi=_DPI, format='png', metadata={'Software': None})
    plt.close(fig)


def pareto_plot(section: Section, path) -> bool:
    """Δm against trainable parameters, Pareto front marked.

    Args:
        section: a multi-task section.
        path: output PNG path.

    Returns:
        False (nothing written) when no row has a Δm.
    """
    rows = [r for r in section.rows if r.delta is not None]
    if not rows:
        return False
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.0, 4.5))
        for i, row in enumerate(rows):
            x = row.params['trainable'] / 1e6
            ax.errorbar(x, row.delta.mean, yerr=row.delta.std or 0.0, fmt='o',
                        color=f'C{i % 10}', markersize=7 if row.pareto else 5,
                        markeredgecolor='black' if row.pareto else f'C{i % 10}',
                        capsize=3, label=_label(row) + (' ★' if row.pareto else ''))
        front = sorted((r.params['trainable'] / 1e6, r.delta.mean) for r in rows if r.pareto)
        if len(front) > 1:
            ax.step([p for p, _ in front], [d for _, d in front], where='post', color='black',
                    linestyle='--', linewidth=1, label='Pareto front')
        ax.axhline(0.0, color='grey', linewidth=0.8)
        ax.set_xscale('log')
        plain = FuncFormatter(lambda v, _: f'{v:g}')
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)
        ax.tick_params(axis='x', which='minor', labelsize=6)
        ax.set_xlabel('trainable parameters (M, log scale)')
        ax.set_ylabel('Δm (%) ↑')
        ax.set_title(f'{section.dataset} ({section.dataset_variant}): Δm vs trainable parameters',
                     fontsize=9)
        ax.legend(fontsize=7, loc='best')
        ax.grid(True, which='both', linewidth=0.3)
        fig.tight_layout()
        _save(fig, path)
    return True


def tasks_plot(section: Section, path) -> bool:
    """Per-task primary metric (mean ± std) of every row, one panel per task; reference dashed.

    Args:
        section: a multi-task section.
        path: output PNG path.

    Returns:
        False (nothing written) when the section has no rows.
    """
    if not section.rows:
        return False
    tasks = list(section.tasks)
    labels = [_label(r) for r in section.rows]
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks) + 1.0,
                                                         1.2 + 0.3 * len(labels)), squeeze=False)
        for ax, task in zip(axes[0], tasks, strict=True):
            means = [r.metrics[task].mean for r in section.rows]
            stds = [r.metrics[task].std or 0.0 for r in section.rows]
            ys = list(range(len(labels)))
            for i, (mean, std) in enumerate(zip(means, stds, strict=True)):
                ax.errorbar(mean, i, xerr=std, fmt='o', color=f'C{i % 10}', capsize=3)
            ref = section.reference.values.get(task)
            if ref is not None:
                ax.axvline(ref, color='black', linestyle='--', linewidth=1)
            spec = TASKS[task]
            ax.set_title(f'{task} {spec.primary_metric} {"↑" if spec.higher_is_better else "↓"}',
                         fontsize=9)
            ax.set_ylim(len(ys) - 0.5, -0.5)
            ax.set_yticks(ys)
            ax.set_yticklabels(labels if ax is axes[0][0] else [''] * len(ys), fontsize=7)
            low = min(m - s for m, s in zip(means, stds, strict=True))
            high = max(m + s for m, s in zip(means, stds, strict=True))
            if ref is not None:
                low, high = min(low, ref), max(high, ref)
            pad = 0.1 * (high - low) or 0.05 * abs(high) or 1.0
            ax.set_xlim(low - pad, high + pad)
            ax.grid(True, axis='x', linewidth=0.3)
        fig.tight_layout()
        _save(fig, path)
    return True
