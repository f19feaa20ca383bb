"""Leaderboard: ``result.json`` records → Δm / parameter / efficiency tables and plots.

``tools/leaderboard.py collect`` validates records and copies them to ``leaderboard/results``;
``tools/leaderboard.py build`` writes ``leaderboard/README.md``, ``leaderboard/<dataset>.csv`` and
``leaderboard/plots/``. See ``docs/leaderboard.md``. Submodules that need pandas, tabulate or
matplotlib are imported only when one of their names is first used, so
``mtbench.leaderboard.delta_m`` and ``.records`` stay light.

Example:
    >>> from mtbench.leaderboard import delta_m
    >>> round(delta_m({'semseg': 68.0}, {'semseg': 68.0}, {'semseg': True}), 2)
    0.0
"""
import importlib

from mtbench.leaderboard.delta_m import delta_m, directions, primary_reference
from mtbench.leaderboard.records import SCHEMA_VERSION, load_record, validate_record

__all__ = ['SCHEMA_VERSION', 'AuditedRow', 'BuildReport', 'CollectReport', 'Reference', 'Row',
           'Section', 'Stat', 'audit_published', 'build', 'build_sections', 'collect', 'delta_m',
           'directions', 'find_results', 'load_baselines', 'load_param_counts', 'load_published',
           'load_record', 'load_results', 'pareto_front', 'primary_reference', 'validate_record']

_LAZY = {
    'aggregate': ('Row', 'Section', 'Stat', 'build_sections', 'pareto_front'),
    'build': ('BuildReport', 'build', 'load_results'),
    'collect': ('CollectReport', 'collect', 'find_results'),
    'published': ('AuditedRow', 'audit_published', 'load_param_counts', 'load_published'),
    'references': ('Reference', 'load_baselines'),
}


def __getattr__(name: str):
    for module, names in _LAZY.items():
        if name in names:
            return getattr(importlib.import_module(f'mtbench.leaderboard.{module}'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
