"""Validation of ``result.json`` records (schema_version 1, ``docs/conventions.md``).

Example:
    >>> problems = validate_record({'schema_version': 1})
    >>> problems[0]
    'missing key "method"'
"""
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mtbench.tasks import TASKS

__all__ = [
    'EFFICIENCY_FIELDS',
    'SCHEMA_VERSION', 'require_readable_records',
    'is_number',
    'load_record',
    'primary_values',
    'record_filename',
    'record_warnings',
    'validate_record',
]

SCHEMA_VERSION = 1
# Optional ``efficiency`` object: numeric fields (or null) and the hardware they were measured on.
EFFICIENCY_FIELDS = ('flops_per_image', 'train_flops_per_image', 'train_throughput',
                     'peak_memory_mb', 'inference_latency_ms')
_PARAM_FIELDS = ('total', 'trainable', 'backbone_added', 'backbone_original', 'decoders',
                 'shared')
# key: (allowed types, nullable). Every key listed must be present.
_TOP = {
    'schema_version': (int, False), 'method': (str, False), 'variant': (str, False),
    'config_name': (str, False), 'config': (dict, False), 'dataset': (dict, False),
    'backbone': (dict, False), 'tasks': (list, False), 'metrics': (dict, False),
    'primary': (dict, False), 'delta_m': (dict, True), 'params': (dict, False),
    'seed': (int, False), 'git_commit': (str, True), 'versions': (dict, False),
    'wall_time_s': ('number', True), 'peak_memory_mb': ('number', True), 'created': (str, False),
}
_DATASET = {'name': (str, False), 'variant': (str, False), 'checksum': (str, False),
            'split': (str, False), 'num_images': (int, False)}
_BACKBONE = {'name': (str, False), 'pretrained': (str, True)}


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for a finite int or float (bool excluded)."""
    return _is_real(value) and math.isfinite(value)


def _type_ok(value: Any, kind) -> bool:
    if kind == 'number':
        return is_number(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _type_name(kind) -> str:
    return {'number': 'a finite number', int: 'an integer', str: 'a string', dict: 'an object',
            list: 'a list'}[kind]


def _check_fields(obj: Mapping, spec: Mapping, where: str, problems: list[str]) -> None:
    for key, (kind, nullable) in spec.items():
        if key not in obj:
            problems.append(f'missing key "{where}{key}"')
        elif obj[key] is None:
            if not nullable:
                problems.append(f'"{where}{key}" is null')
        elif not _type_ok(obj[key], kind):
            problems.append(f'"{where}{key}" must be {_type_name(kind)}, '
                            f'got {type(obj[key]).__name__} {obj[key]!r:.40}')


def _check_tasks(record: Mapping, problems: list[str]) -> list[str]:
    tasks = record['tasks']
    if not tasks:
        problems.append('"tasks" is empty')
    good = []
    for task in tasks:
        if not isinstance(task, str) or task not in TASKS:
            problems.append(f'unknown task {task!r} in "tasks" (known: {", ".join(TASKS)})')
        elif task in good:
            problems.append(f'task {task!r} listed twice in "tasks"')
        else:
            good.append(task)
    dataset = record['dataset'].get('name')
    if dataset in {d for spec in TASKS.values() for d in spec.outputs}:
        for task in good:
            if dataset not in TASKS[task].outputs:
                problems.append(f'task {task!r} is not available on dataset {dataset!r}')
    return good


def _check_metrics(record: Mapping, tasks: list[str], problems: list[str]) -> None:
    metrics, primary = record['metrics'], record['primary']
    for task in tasks:
        spec = TASKS[task]
        entry = metrics.get(task)
        if not isinstance(entry, dict):
            problems.append(f'"metrics.{task}" missing' if entry is None
                            else f'"metrics.{task}" must be an object')
            continue
        for key, value in sorted(entry.items()):  # non-finite non-primary values: a warning
            finite_needed = key == spec.primary_metric
            if not finite_needed and isinstance(value, list):  # e.g. IoU_per_class
                if not all(_is_real(v) for v in value):
                    problems.append(f'"metrics.{task}.{key}" must be a list of numbers')
                continue
            if not (is_number(value) or (not finite_needed and _is_real(value))):
                problems.append(f'"metrics.{task}.{key}" must be a '
                                f'{"finite " if finite_needed else ""}number, got {value!r}')
        if spec.primary_metric not in entry:
            problems.append(f'"metrics.{task}.{spec.primary_metric}" (primary metric) missing')
        prim = primary.get(task)
        if not isinstance(prim, dict):
            problems.append(f'"primary.{task}" missing or not an object')
            continue
        if prim.get('metric') != spec.primary_metric:
            problems.append(f'"primary.{task}.metric" is {prim.get("metric")!r}, '
                            f'expected {spec.primary_metric!r}')
        if prim.get('higher_is_better') is not spec.higher_is_better:
            problems.append(f'"primary.{task}.higher_is_better" must be {spec.higher_is_better}')
        value = prim.get('value')
        if not is_number(value):
            problems.append(f'"primary.{task}.value" must be a finite number, got {value!r}')
        elif is_number(entry.get(spec.primary_metric)) and not math.isclose(
                value, entry[spec.primary_metric], rel_tol=1e-9, abs_tol=1e-12):
            problems.append(f'"primary.{task}.value" {value} differs from '
                            f'"metrics.{task}.{spec.primary_metric}" {entry[spec.primary_metric]}')


def _check_params(params: Mapping, tasks: list[str], problems: list[str]) -> None:
    for key in _PARAM_FIELDS:
        value = params.get(key)
        if key not in params:
            problems.append(f'missing key "params.{key}"')
        elif not _type_ok(value, int) or value < 0:
            problems.append(f'"params.{key}" must be a non-negative integer, got {value!r}')
    per_task = params.get('per_task')
    if not isinstance(per_task, dict):
        problems.append('"params.per_task" must be an object {task: integer}')
        return
    for task, value in sorted(per_task.items()):
        if task not in tasks:
            problems.append(f'"params.per_task.{task}" given but {task!r} is not in "tasks"')
        elif not _type_ok(value, int) or value < 0:
            problems.append(f'"params.per_task.{task}" must be a non-negative integer')


def _check_optional(record: Mapping, problems: list[str]) -> None:
    dm = record.get('delta_m')
    if isinstance(dm, dict):
        if 'reference' not in dm:
            problems.append('missing key "delta_m.reference" (string, or null when unknown)')
        elif dm['reference'] is not None and (not isinstance(dm['reference'], str)
                                              or not dm['reference'].strip()):
            problems.append('"delta_m.reference" must be a non-empty string or null')
        if dm.get('value') is not None and not is_number(dm.get('value')):
            problems.append(f'"delta_m.value" must be a finite number or null, '
                            f'got {dm.get("value")!r}')
    if 'efficiency' in record and record['efficiency'] is not None:
        eff = record['efficiency']
        if not isinstance(eff, dict):
            problems.append('"efficiency" must be an object or null')
            return
        for key in EFFICIENCY_FIELDS:
            if eff.get(key) is not None and not is_number(eff[key]):
                problems.append(f'"efficiency.{key}" must be a finite number or null, '
                                f'got {eff[key]!r}')
        if eff.get('hardware') is not None and not isinstance(eff['hardware'], str):
            problems.append('"efficiency.hardware" must be a string or null')


def validate_record(record: Any) -> list[str]:
    """Check one record against schema_version 1.

    Args:
        record: the parsed ``result.json``.

    Returns:
        The problems found, one human-readable line each; empty when the record is valid.
    """
    if not isinstance(record, dict):
        return [f'record must be a JSON object, got {type(record).__name__}']
    version = record.get('schema_version')
    if 'schema_version' in record and version != SCHEMA_VERSION:
        return [f'unsupported schema_version {version!r} (expected {SCHEMA_VERSION})']
    problems: list[str] = []
    _check_fields(record, _TOP, '', problems)
    for key in ('method', 'variant'):
        if isinstance(record.get(key), str) and not record[key].strip():
            problems.append(f'"{key}" is empty')
    if isinstance(record.get('dataset'), dict):
        _check_fields(record['dataset'], _DATASET, 'dataset.', problems)
        for key in ('name', 'variant', 'checksum'):
            if isinstance(record['dataset'].get(key), str) and not record['dataset'][key].strip():
                problems.append(f'"dataset.{key}" is empty')
    if isinstance(record.get('backbone'), dict):
        _check_fields(record['backbone'], _BACKBONE, 'backbone.', problems)
    tasks: list[str] = []
    if isinstance(record.get('tasks'), list) and isinstance(record.get('dataset'), dict):
        tasks = _check_tasks(record, problems)
    if isinstance(record.get('metrics'), dict) and isinstance(record.get('primary'), dict):
        _check_metrics(record, tasks, problems)
    if isinstance(record.get('params'), dict):
        _check_params(record['params'], tasks, problems)
    _check_optional(record, problems)
    return problems


def record_warnings(record: Mapping) -> list[str]:
    """Consistency remarks on a valid record that do not make it unusable."""
    warnings = [f'"metrics.{task}" given but {task!r} is not in "tasks" (not used)'
                for task in sorted(set(record['metrics']) - set(record['tasks']))]
    warnings += [f'"metrics.{task}.{key}" is not finite ({value!r})'
                 for task in record['tasks']
                 for key, value in sorted(record['metrics'][task].items())
                 if not is_number(value) and not isinstance(value, list)]
    dm = record.get('delta_m')
    if isinstance(dm, dict) and dm.get('reference') is None:
        warnings.append('"delta_m.reference" is null: the stored Δm names no reference and is '
                        'not used')
    params = record['params']
    split = params['backbone_added'] + params['backbone_original'] + params['decoders']
    if split != params['trainable']:
        warnings.append(f'params: backbone_added + backbone_original + decoders = {split:,} '
                        f'!= trainable {params["trainable"]:,}')
    if params['trainable'] > params['total']:
        warnings.append(f'params: trainable {params["trainable"]:,} > total {params["total"]:,}')
    return warnings


def load_record(path) -> tuple[dict | None, list[str]]:
    """Read and validate one record file.

    Args:
        path: path of a ``result.json``.

    Returns:
        ``(record, problems)``; ``record`` is None when the file cannot be read or parsed.
    """
    try:
        text = Path(path).read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f'cannot read: {exc}']
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [f'invalid JSON: {exc}']
    return record, validate_record(record)


def require_readable_records(paths) -> None:
    """Raise :class:`~mtbench.errors.RecordError` for the first file that is not a readable
    record of a known schema (unreadable, invalid JSON such as a file cut short, or a
    ``schema_version`` this mtbench does not know). Records with other problems pass: the
    collector and the builder report and skip them."""
    from mtbench.errors import RecordError
    for path in paths:
        record, problems = load_record(path)
        fatal = [p for p in problems if p.startswith(('cannot read', 'invalid JSON',
                                                      'unsupported schema_version'))]
        if fatal:
            what = ('was written by a newer mtbench: update mtbench to read it'
                    if fatal[0].startswith('unsupported') else
                    'is damaged (cut short?): re-run tools/test.py for its work dir, or delete it')
            raise RecordError(f'{path}: {fatal[0]}; the record {what}')


def _safe(text: str) -> str:
    return re.sub(r'[^A-Za-z0-9._=+-]+', '_', text).strip('_') or '_'


def record_filename(record: Mapping) -> str:
    """``<method>--<variant>--seed<k>.json`` for a valid record (unsafe characters become ``_``)."""
    return f'{_safe(record["method"])}--{_safe(record["variant"])}--seed{record["seed"]}.json'


def primary_values(record: Mapping) -> dict:
    """``{task: primary metric value}`` of a valid record, in the record's task order."""
    return {task: float(record['metrics'][task][TASKS[task].primary_metric])
            for task in record['tasks']}
