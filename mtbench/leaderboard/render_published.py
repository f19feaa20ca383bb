"""Markdown of the "Published (not reproduced here)" sections and their audit.

Example:
    >>> text = published_markdown('pascal-mt', audited, counts)  # doctest: +SKIP
"""
from collections.abc import Mapping, Sequence

from mtbench.leaderboard.published import AuditedRow, task_columns
from mtbench.leaderboard.render import (DASH, Footnotes, fmt_int, fmt_num, metric_digits,
                                        metric_header, table)

__all__ = ['param_counts_markdown', 'published_markdown']


def _audit_cell(row: AuditedRow) -> str:
    if row.difference is None:
        return DASH
    return f'⚠ {row.difference:+.3f}' if row.flagged else 'ok'


def _mtbench_params(row: AuditedRow) -> str:
    if row.params_mtbench is None:
        return DASH
    text = fmt_int(row.params_mtbench)
    if row.params_paper_m is not None and round(row.params_mtbench / 1e6, 2) != round(
            row.params_paper_m, 2):
        text += ' (differs)'
    return text


def published_markdown(dataset: str, audited: Sequence[AuditedRow], csv_name: str,
                       tolerance: float = 0.05) -> str:
    """The published section of one dataset.

    Args:
        dataset: mtbench dataset name.
        audited: rows from :func:`mtbench.leaderboard.published.audit_published`.
        csv_name: the published CSV's path as the README should cite it.
        tolerance: the audit tolerance (for the explanation).

    Returns:
        Markdown: explanation, table (rows copied verbatim from an earlier paper's table are
        left out and counted), footnotes.
    """
    shown = [r for r in audited if not r.raw['duplicate_of']]
    hidden = [r for r in audited if r.raw['duplicate_of']]
    tasks = task_columns(audited)
    flagged = [r for r in audited if r.flagged]
    lines = [f'### Published (not reproduced here) — {dataset}', '',
             f'Numbers as published, from `{csv_name}` (each row\'s source and confidence are in '
             'its `table_ref`, `notes` and `audit` columns); **mtbench did not produce them**. '
             '"Δm recomputed" applies the Δm formula to the row\'s per-task numbers against '
             'the single-task row of the same paper\'s table; ⚠ marks a difference larger than '
             f'{tolerance:.2f} points. "params mtbench" is mtbench\'s own trainable-parameter '
             'count for the configuration where known (`param_counts.json`).', '']
    if hidden:
        hidden_flags = sum(r.flagged for r in hidden)
        lines.extend([f'{len(hidden)} row(s) that repeat an earlier paper\'s row verbatim are '
                      f'listed only in the CSV ({hidden_flags} of them flagged, with the same '
                      'numbers as the row they copy).', ''])
    names = [f'{r.raw["paper"]}: {r.method}' + (f' ({r.raw["variant"]})' if r.raw['variant']
                                                 else '')
             + (' [copy]' if r.raw['duplicate_of'] else '') for r in flagged]
    lines.extend([f'Audit: {len(flagged)} of {len(audited)} rows flagged'
                  + (': ' + '; '.join(names) + '.' if names else '.'), ''])
    headers = ['paper', 'table', 'method', 'variant', *(metric_header(t) for t in tasks),
               'Δm published', 'Δm recomputed', 'audit', 'params paper (M)', 'params mtbench',
               'notes']
    right = [False] * 4 + [True] * (len(tasks) + 5) + [False]
    notes = Footnotes()
    body = []
    for row in shown:
        raw = row.raw
        body.append([raw['paper'], raw['table_ref'], raw['method'], raw['variant'] or DASH,
                     *(fmt_num(row.metrics.get(t), metric_digits(t)) for t in tasks),
                     fmt_num(row.published, 2, signed=True),
                     fmt_num(row.recomputed, 3, signed=True), _audit_cell(row),
                     fmt_num(row.params_paper_m, 2), _mtbench_params(row),
                     notes.refs([*row.notes, raw['audit']] if raw['audit'] else row.notes)])
    lines.append(table(headers, body, right))
    if notes.texts:
        lines.extend(['', 'Notes:', '', notes.markdown()])
    return '\n'.join(lines) + '\n'


def param_counts_markdown(dataset: str, counts: Sequence[Mapping],
                          audited: Sequence[AuditedRow]) -> str:
    """Table of mtbench's parameter counts for published configurations of ``dataset``.

    Args:
        dataset: mtbench dataset name.
        counts: entries of ``param_counts.json``.
        audited: the dataset's audited published rows (to show the papers' counts).

    Returns:
        Markdown (empty string when no entry is for ``dataset``).
    """
    entries = [c for c in counts if c['dataset'] == dataset]
    if not entries:
        return ''
    body = []
    for entry in entries:
        papers = sorted({f'{r.params_paper_m:.2f}M ({r.raw["paper"]})' for r in audited
                         if r.params_mtbench == entry['trainable'] and r.params_paper_m is not None
                         and r.raw['method'] == entry['method']})
        paper_m = {round(r.params_paper_m, 2) for r in audited
                   if r.params_mtbench == entry['trainable'] and r.params_paper_m is not None
                   and r.raw['method'] == entry['method']}
        ours = round(entry['trainable'] / 1e6, 2)
        if not paper_m:
            note = 'no published row gives this configuration\'s count'
        elif paper_m == {ours}:
            note = 'same at the papers\' precision'
        else:
            note = f'differs: mtbench {ours:.2f}M'
        config = f"`{entry['config']}`" if entry.get('config') else DASH
        body.append([entry['configuration'], config, fmt_int(entry['trainable']),
                     '; '.join(papers) or DASH, note, entry['source']])
    return '\n'.join([f'#### mtbench parameter counts for published configurations — {dataset}',
                      '', table(['configuration', 'mtbench config', 'mtbench trainable',
                                 'published', 'note', 'source'], body,
                                [False, False, True, False, False, False])]) + '\n'
