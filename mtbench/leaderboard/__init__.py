"""Leaderboard: ``result.json`` records → Δm / parameter / efficiency tables and plots.

``tools/leaderboard.py collect`` validates records and copies them to ``leaderboard/results``;
``tools/leaderboard.py build`` writes ``leaderboard/README.md``, ``leaderboard/<dataset>.csv`` and
``leaderboard/plots/``. See ``docs/leaderboard.md``.

Example:
    >>> from mtbench.leaderboard import delta_m
    >>> round(delta_m({'semseg': 68.0}, {'semseg': 68.0}, {'semseg': True}), 2)
    0.0
"""
from mtbench.leaderboard.aggregate import Row, Section, Stat, build_sections, pareto_front
from mtbench.leaderboard.build import BuildReport, build, load_results
from mtbench.leaderboard.collect import CollectReport, collect, find_results
from mtbench.leaderboard.delta_m import delta_m, directions, primary_reference
from mtbench.leaderboard.published import AuditedRow, audit_published, load_param_counts, \
    load_published
from mtbench.leaderboard.records import SCHEMA_VERSION, load_record, validate_record
from mtbench.leaderboard.references import Reference, load_baselines

__all__ = ['SCHEMA_VERSION', 'AuditedRow', 'BuildReport', 'CollectReport', 'Reference', 'Row',
           'Section', 'Stat', 'audit_published', 'build', 'build_sections', 'collect', 'delta_m',
           'directions', 'find_results', 'load_baselines', 'load_param_counts', 'load_published',
           'load_record', 'load_results', 'pareto_front', 'primary_reference', 'validate_record']
