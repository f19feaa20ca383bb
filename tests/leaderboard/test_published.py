"""Audit of the published reference rows carried in leaderboard/published/."""
import csv

import pytest

from mtbench.leaderboard.published import audit_published, load_param_counts, load_published



@pytest.fixture
def pascal(repo_root):
    pub = repo_root / 'leaderboard' / 'published'
    return audit_published(load_published(pub / 'pascal-mt.csv'),
                           load_param_counts(pub / 'param_counts.json'))


def _key(row):
    return row.raw['paper'], row.method, row.raw['variant']


def test_expected_flags(pascal):
    flagged = {_key(r) for r in pascal if r.flagged}
    assert flagged == {
        ('MTLoRA', 'MTL full fine-tuning', 'shared encoder + 4 HRNet decoders'),
        ('TADFormer', 'MTL full fine-tuning', ''),
        ('FAAR', 'MTL full fine-tuning', ''),
        ('FAAR', 'FAAR', 'ablation: + PDRS w/ DoRA'),
        ('FAAR', 'FAAR', 'ablation: + TS-PD only'),
    }


def test_mtl_full_ft_recomputes_to_2_45(pascal):
    row = next(r for r in pascal if r.method == 'MTL full fine-tuning')
    assert row.published == 2.23
    assert row.recomputed == pytest.approx(2.445, abs=5e-4)
    assert row.difference == pytest.approx(0.215, abs=5e-4)
    assert row.params_mtbench == 29464442
    assert any('mtbench counts 29,464,442' in n for n in row.notes)


def test_mtlora_rows_not_flagged_and_counts_match(pascal):
    mtlora = [r for r in pascal if r.method == 'MTLoRA' and r.raw['paper'] == 'MTLoRA']
    assert len(mtlora) == 3
    assert not any(r.flagged for r in mtlora)
    assert [r.params_mtbench for r in mtlora] == [4953146, 6083642, 8344634]
    assert not any(n.startswith('params') for r in mtlora for n in r.notes)
    recomputed = [round(r.recomputed, 3) for r in mtlora]
    assert recomputed == [1.339, 2.142, 2.542]


def test_tadformer_counts_and_ditask_param_note(pascal):
    tad = [r for r in pascal if r.method == 'TADFormer' and r.raw['paper'] == 'TADFormer']
    assert [r.params_mtbench for r in tad] == [3557502, 4776126, 7379262]
    assert not any(r.flagged for r in tad)
    ditask = next(r for r in pascal if r.raw['paper'] == 'DiTASK' and r.method == 'MTLoRA')
    assert any('paper 6.40M' in n for n in ditask.notes)


def test_rows_without_per_task_numbers(pascal):
    lora = next(r for r in pascal if r.method == 'LoRA')
    assert lora.recomputed is None and not lora.flagged
    assert lora.notes[0] == 'no per-task numbers: Δm not recomputed'
    # mtbench's attention-only LoRA config counts the table's decoders differently
    assert lora.params_mtbench == 2229248 and 'mtbench counts 2,229,248' in lora.notes[1]


def test_nyud_recomputes_without_flags(repo_root):
    rows = audit_published(load_published(repo_root / 'leaderboard/published/nyud-mt.csv'))
    assert not any(r.flagged for r in rows)
    faar = next(r for r in rows if r.method == 'FAAR')
    assert faar.recomputed == pytest.approx(-7.885, abs=5e-4)


def test_carried_rows_are_the_swin_t_rows_with_sources(repo_root):
    source_csv = repo_root.parent / 'shared' / 'reference' / 'published_results.csv'
    if not source_csv.is_file():
        pytest.skip('../shared/reference/published_results.csv not available')
    with source_csv.open(newline='', encoding='utf-8') as handle:
        source = list(csv.DictReader(handle))
    mapping = {'PASCAL-Context': 'pascal-mt', 'NYUD-v2': 'nyud-mt'}
    for dataset, name in mapping.items():
        expected = [r for r in source if r['dataset'] == dataset
                    and r['backbone'].startswith('Swin-T')]
        carried = load_published(repo_root / f'leaderboard/published/{name}.csv')
        assert len(carried) == len(expected)
        for mine, theirs in zip(carried, expected, strict=True):
            assert {k: mine[k] for k in theirs} == theirs  # every source column kept verbatim
            assert mine['mtbench_dataset'] == name and mine['audit']
