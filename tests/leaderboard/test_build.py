"""tools/leaderboard.py build: byte-identical README/CSV/plots from the fixture records."""
import io

import pandas as pd
import pytest

from mtbench.leaderboard.build import build

LABELS = {'results_label': 'tests/leaderboard/fixtures/results',
          'published_label': 'tests/leaderboard/fixtures/published'}


def _build(fixtures, out, **kw):
    return build(fixtures / 'results', out, fixtures / 'baselines', fixtures / 'published',
                 **LABELS, **kw)


@pytest.fixture(scope='module')
def built(tmp_path_factory, fixtures):
    out = tmp_path_factory.mktemp('board')
    report = _build(fixtures, out)
    return out, report


def test_readme_matches_expected(built, fixtures):
    out, _ = built
    expected = (fixtures / 'expected_README.md').read_bytes()
    assert (out / 'README.md').read_bytes() == expected


def test_rebuild_is_byte_identical(built, fixtures, tmp_path):
    out, _ = built
    _build(fixtures, tmp_path)
    files = sorted(p.relative_to(out) for p in out.rglob('*') if p.is_file())
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*') if p.is_file()) == files
    assert any(f.suffix == '.png' for f in files) and any(f.suffix == '.csv' for f in files)
    for rel in files:
        assert (out / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_report_lists_skipped(built):
    _, report = built
    assert report.records == 12 and report.single_task == 5
    assert [p for p, _ in report.skipped] == [
        'pascal-mt/broken--broken--seed0.json',
        'pascal-mt/partial--partial_swin-t_pascal-mt-448--seed0.json']
    assert report.skipped[1][1] == '"metrics.normals" missing'


def _table_rows(text, heading):
    """Rows (lists of stripped cells) of the first table after ``heading``."""
    part = text.split(heading, 1)[1]
    lines = [ln for ln in part.split('\n|', 1)[1].split('\n\n')[0].split('\n')]
    rows = [[c.strip() for c in ('|' + ln).strip().strip('|').split('|')] for ln in lines]
    return rows[0], rows[2:]


def test_cells_independently(built):
    text = (built[0] / 'README.md').read_text(encoding='utf-8')
    heading = ('### pascal-mt · jpg-npy · 1a1a1a1a · val · 4 tasks (semseg, human_parts, '
               'saliency, normals) · Δm vs `pascal-mt_swin-t_published`')
    header, rows = _table_rows(text, heading)
    full = dict(zip(header, rows[0], strict=True))
    assert full['method'] == 'full_ft' and full['seeds'] == '3'
    assert full['semseg mIoU ↑'] == '67.52 ± 0.30'  # (67.56 + 67.80 + 67.20) / 3
    assert full['normals mean ↓'] == '16.65 ± 0.05'
    assert full['Δm (%) ↑'] == '+2.43 ± 0.04'  # seeds +2.445, +2.472, +2.386
    assert full['trainable params'] == '29,464,442'
    assert full['hardware'] == 'NVIDIA H100 80GB HBM3' and full['train img/s'] == '53.0'
    mtlora = dict(zip(header, rows[1], strict=True))
    assert mtlora['Δm (%) ↑'] == '+1.34' and mtlora['Pareto'] == '★'
    assert mtlora['backbone added'] == '1,406,976' and mtlora['hardware'] == 'CPU 2 cores'
    assert '**Efficiency figures come from different hardware**' in text
    assert '1. seed 1: record stores Δm +3.00, recomputed +2.47' in text
    # the png variant is its own section with its own row
    _, png_rows = _table_rows(text, '### pascal-mt · png · 2b2b2b2b')
    assert len(png_rows) == 1 and png_rows[0][6] == '+1.83'
    # published audit: MTL full FT flagged, MTLoRA r=16 not
    pub_header, pub = _table_rows(text, '### Published (not reproduced here) — pascal-mt')
    by_method = {r[2]: dict(zip(pub_header, r, strict=True)) for r in pub}
    ft = by_method['MTL full fine-tuning']
    assert [ft['Δm published'], ft['Δm recomputed'], ft['audit']] == ['+2.23', '+2.445',
                                                                       '⚠ +0.215']
    assert ft['params paper (M)'] == '30.06' and ft['params mtbench'] == '29,464,442 (differs)'
    assert by_method['MTLoRA']['audit'] == 'ok'
    assert by_method['MTLoRA']['params mtbench'] == '4,953,146'
    assert 'Audit: 2 of 7 rows flagged: MTLoRA: MTL full fine-tuning' in text
    assert '`nyud-mt_swin-t_published` (not found among the baseline tables)' in text


def test_csv(built):
    frame = pd.read_csv(io.StringIO((built[0] / 'pascal-mt.csv').read_text(encoding='utf-8')))
    multi = frame[frame['kind'] == 'multi-task']
    assert sorted(multi['dataset variant'].unique()) == ['jpg-npy', 'png']
    full = multi[(multi['method'] == 'full_ft') & (multi['dataset variant'] == 'jpg-npy')
                 & (multi['reference'] == 'baseline:pascal-mt_swin-t_published')]
    assert len(full) == 1
    assert full['delta_m'].iloc[0] == pytest.approx(2.4343, abs=1e-4)
    assert full['n seeds'].iloc[0] == 3
    assert (frame['kind'] == 'single-task run').sum() == 4
