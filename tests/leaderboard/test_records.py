"""Record schema validation."""
import json

from lb_factory import make_record

from mtbench.leaderboard.records import (load_record, primary_values, record_filename,
                                         record_warnings, validate_record)


def test_valid_record(record):
    assert validate_record(record) == []
    assert record_warnings(record) == []


def test_valid_record_with_efficiency_and_nulls(record):
    record['efficiency'] = {'flops_per_image': 1e11, 'train_throughput': None,
                            'peak_memory_mb': 10.0, 'inference_latency_ms': 3.0,
                            'hardware': 'NVIDIA H100'}
    record['git_commit'] = None
    record['peak_memory_mb'] = None
    record['delta_m'] = None
    assert validate_record(record) == []


def test_missing_top_level_key(record):
    del record['params']
    assert validate_record(record) == ['missing key "params"']


def test_missing_nested_keys(record):
    del record['dataset']['checksum']
    del record['params']['decoders']
    problems = validate_record(record)
    assert 'missing key "dataset.checksum"' in problems
    assert 'missing key "params.decoders"' in problems


def test_missing_task_metrics(record):
    del record['metrics']['saliency']
    assert validate_record(record) == ['"metrics.saliency" missing']


def test_missing_primary_metric(record):
    del record['metrics']['normals']['mean']
    problems = validate_record(record)
    assert '"metrics.normals.mean" (primary metric) missing' in problems


def test_wrong_types(record):
    record['seed'] = '0'
    record['params']['trainable'] = 4.5
    record['metrics']['semseg']['mIoU'] = 'high'
    record['tasks'] = 'semseg'
    problems = validate_record(record)
    assert any(p.startswith('"seed" must be an integer') for p in problems)
    assert any(p.startswith('"params.trainable" must be a non-negative integer') for p in problems)
    assert any(p.startswith('"tasks" must be a list') for p in problems)


def test_bool_is_not_a_number(record):
    record['params']['total'] = True
    record['metrics']['semseg']['aAcc'] = '90.0'
    problems = validate_record(record)
    assert any(p.startswith('"params.total"') for p in problems)
    assert any(p.startswith('"metrics.semseg.aAcc" must be a number') for p in problems)


def test_non_finite_primary_is_a_problem_auxiliary_a_warning(record):
    record['metrics']['semseg']['aAcc'] = float('nan')
    assert validate_record(record) == []
    assert record_warnings(record) == ['"metrics.semseg.aAcc" is not finite (nan)']
    record['metrics']['normals']['mean'] = float('inf')
    record['primary']['normals']['value'] = float('inf')
    problems = validate_record(record)
    assert '"metrics.normals.mean" must be a finite number, got inf' in problems


def test_delta_m_reference_null_accepted_with_warning(record):
    record['delta_m'] = {'value': 1.2, 'reference': None}
    assert validate_record(record) == []
    assert any('"delta_m.reference" is null' in w for w in record_warnings(record))
    record['delta_m'] = {'value': 1.2, 'reference': ''}
    assert validate_record(record) == ['"delta_m.reference" must be a non-empty string or null']
    record['delta_m'] = {'value': 1.2}
    assert validate_record(record)[0].startswith('missing key "delta_m.reference"')


def test_schema_version(record):
    record['schema_version'] = 2
    assert validate_record(record) == ['unsupported schema_version 2 (expected 1)']
    assert validate_record([1, 2]) == ['record must be a JSON object, got list']


def test_tasks_checked_against_table_and_dataset(record):
    nyud = make_record(dataset='nyud-mt', values={'semseg': 40.0, 'human_parts': 50.0})
    assert "task 'human_parts' is not available on dataset 'nyud-mt'" in validate_record(nyud)
    record['tasks'].append('sal')
    assert any(p.startswith("unknown task 'sal'") for p in validate_record(record))


def test_primary_block_must_agree(record):
    record['primary']['normals']['higher_is_better'] = True
    record['primary']['semseg']['value'] = 1.0
    problems = validate_record(record)
    assert '"primary.normals.higher_is_better" must be False' in problems
    assert any(p.startswith('"primary.semseg.value" 1.0 differs') for p in problems)


def test_efficiency_types(record):
    record['efficiency'] = {'train_throughput': 'fast', 'hardware': 3}
    problems = validate_record(record)
    assert any(p.startswith('"efficiency.train_throughput"') for p in problems)
    assert '"efficiency.hardware" must be a string or null' in problems


def test_warnings_do_not_invalidate(record):
    record['params']['decoders'] = 1
    record['metrics']['edge'] = {'odsF': 70.0}
    assert validate_record(record) == []
    warnings = record_warnings(record)
    assert any('!= trainable' in w for w in warnings)
    assert any('"metrics.edge"' in w for w in warnings)


def test_load_record(tmp_path, record):
    good = tmp_path / 'result.json'
    good.write_text(json.dumps(record))
    loaded, problems = load_record(good)
    assert problems == [] and loaded == record
    bad = tmp_path / 'bad.json'
    bad.write_text('{"schema_version": 1,')
    loaded, problems = load_record(bad)
    assert loaded is None and problems[0].startswith('invalid JSON')
    loaded, problems = load_record(tmp_path / 'absent.json')
    assert loaded is None and problems[0].startswith('cannot read')


def test_filename_and_primary_values(record):
    record['variant'] = 'a/b c'
    assert record_filename(record) == 'full_ft--a_b_c--seed0.json'
    assert primary_values(record) == {'semseg': 67.56, 'human_parts': 60.24, 'saliency': 65.21,
                                      'normals': 16.64}


def test_record_shaped_like_the_engine_hook(record):
    """Keys as mtbench/engine/hooks/result_record_hook.py writes them."""
    record.update({'test_wall_time_s': 1.5, 'train_wall_time_s': None, 'git_commit': 'unknown',
                   'delta_m': {'value': 2.1, 'reference': None}})
    record['dataset'].update({'variant': 'unknown', 'checksum': 'sha256:' + '0' * 64})
    record['backbone']['pretrained'] = None
    record['versions'] = {'python': '3.11.7', 'torch': '2.4.0', 'mmengine': '0.10.4',
                          'timm': '1.0.9', 'numpy': '1.26.4'}
    assert validate_record(record) == []
