"""Grouping into sections, mean ± std over seeds, Pareto front, references."""
import pytest
from lb_factory import CHECKSUM_B, make_record

from mtbench.leaderboard.aggregate import build_sections, pareto_front, stat

BASELINES = {'pascal-mt_swin-t_published': {
    'name': 'pascal-mt_swin-t_published', 'source': 'test', 'dataset': 'pascal-mt',
    'metrics': {'semseg': {'mIoU': 67.21}, 'human_parts': {'mIoU': 61.93},
                'saliency': {'mIoU': 62.35}, 'normals': {'mean': 17.97}}}}


def _values(s, p, sal, n):
    return {'semseg': s, 'human_parts': p, 'saliency': sal, 'normals': n}


def test_stat_mean_and_sample_std():
    s = stat([1.0, 2.0, 3.0])
    assert (s.mean, s.std, s.n) == (2.0, 1.0, 3)
    assert stat([5.0]).std is None
    assert stat([]) is None


def test_mean_std_over_seeds():
    recs = [make_record(seed=0, values=_values(67.0, 60.0, 65.0, 16.0)),
            make_record(seed=1, values=_values(68.0, 61.0, 64.0, 17.0))]
    sections, suite = build_sections(recs, BASELINES)
    assert suite == [] and len(sections) == 1
    (row,) = sections[0].rows
    assert row.seeds == [0, 1]
    assert row.metrics['semseg'].mean == pytest.approx(67.5)
    assert row.metrics['semseg'].std == pytest.approx(0.7071068)
    ref = BASELINES['pascal-mt_swin-t_published']['metrics']

    def dm(s, p, sal, n):
        return 25 * ((s - ref['semseg']['mIoU']) / 67.21 + (p - 61.93) / 61.93
                     + (sal - 62.35) / 62.35 - (n - 17.97) / 17.97)
    per_seed = [dm(67.0, 60.0, 65.0, 16.0), dm(68.0, 61.0, 64.0, 17.0)]
    assert row.delta.mean == pytest.approx(sum(per_seed) / 2)
    assert row.delta.std == pytest.approx(abs(per_seed[0] - per_seed[1]) / 2 ** 0.5)


def test_dataset_variants_never_mixed():
    recs = [make_record(seed=0), make_record(seed=1),
            make_record(seed=0, dataset_variant='png', checksum=CHECKSUM_B),
            make_record(seed=1, checksum=CHECKSUM_B)]  # same variant name, other checksum
    sections, _ = build_sections(recs, BASELINES)
    keys = [(s.dataset_variant, s.checksum) for s in sections]
    assert len(sections) == 3 and len(set(keys)) == 3
    assert sorted(len(s.rows[0].seeds) for s in sections) == [1, 1, 2]


def test_task_sets_and_task_order():
    a = make_record(values=_values(67.0, 60.0, 65.0, 16.0))
    b = make_record(seed=1, values={'normals': 16.0, 'saliency': 65.0, 'human_parts': 60.0,
                                    'semseg': 67.0})
    c = make_record(method='x', values={'semseg': 67.0, 'normals': 16.0})
    sections, _ = build_sections([a, b, c], BASELINES)
    assert [s.tasks for s in sections] == [('semseg', 'human_parts', 'saliency', 'normals'),
                                           ('semseg', 'normals')]
    assert sections[0].rows[0].seeds == [0, 1]


def test_suite_reference_section_and_missing_reference():
    st = [make_record('single_task', f'st-{t}', 0, {t: v}) for t, v in
          (('semseg', 70.0), ('human_parts', 60.0), ('saliency', 60.0), ('normals', 20.0))]
    mt = make_record(values=_values(70.0, 60.0, 66.0, 18.0), reference='nowhere')
    sections, suite = build_sections([*st, mt], BASELINES)
    assert [s.reference.key.split(':')[0] for s in sections] == ['baseline', 'suite']
    missing, own = sections
    assert missing.reference.problem and missing.rows[0].delta is None
    # (0 + 0 + 10 % + 10 %) / 4
    assert own.rows[0].delta.mean == pytest.approx(5.0)
    assert len(suite) == 1 and len(suite[0].rows) == 4
    assert all('gives the suite single-task reference value' in r.notes for r in suite[0].rows)


def test_stored_delta_m_mismatch_noted():
    rec = make_record(dm_value=5.0)
    sections, _ = build_sections([rec], BASELINES)
    assert sections[0].rows[0].notes == ['seed 0: record stores Δm +5.00, recomputed +2.45']


def test_peak_memory_of_different_kinds_is_noted():
    """Records measured before the live-tensor count hold the CPU's peak RSS: a row mixing the
    two says so instead of averaging them silently."""
    cpu = {'hardware': 'cpu', 'peak_memory_mb': 900.0}
    recs = [make_record(seed=0, efficiency={**cpu, 'peak_memory_kind': 'cpu_peak_rss'}),
            make_record(seed=1, efficiency={**cpu, 'peak_memory_kind': 'cpu_live_tensors'})]
    (row,) = build_sections(recs, BASELINES)[0][0].rows
    assert row.notes == ['peak memory of different seeds measures different quantities '
                         '(cpu_live_tensors, cpu_peak_rss): re-measure them together']
    same = [make_record(seed=s, efficiency={**cpu, 'peak_memory_kind': 'cpu_live_tensors'})
            for s in (0, 1)]
    assert build_sections(same, BASELINES)[0][0].rows[0].notes == []


def test_pareto_front():
    points = [(10, 1.0), (5, 2.0), (20, 3.0), (30, 2.5), (5, 2.0), (None, 9.0), (1, None)]
    assert pareto_front(points) == [False, True, True, False, True, False, False]
