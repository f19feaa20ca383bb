"""Δm against hand-computed numbers."""
import pytest

from mtbench.leaderboard.delta_m import delta_m, directions, primary_reference

ST = {'semseg': 67.21, 'human_parts': 61.93, 'saliency': 62.35, 'normals': 17.97}
HIB = {'semseg': True, 'human_parts': True, 'saliency': True, 'normals': False}


def test_hand_computed_two_tasks():
    # semseg +10 % of 50, normals 18 vs 20 is 10 % better: (10 + 10) / 2
    assert delta_m({'semseg': 55.0, 'normals': 18.0}, {'semseg': 50.0, 'normals': 20.0},
                   {'semseg': True, 'normals': False}) == pytest.approx(10.0)
    # worse on both: (-20 - 5) / 2
    assert delta_m({'semseg': 40.0, 'normals': 21.0}, {'semseg': 50.0, 'normals': 20.0},
                   {'semseg': True, 'normals': False}) == pytest.approx(-12.5)


def test_published_mtl_full_ft_recomputes_to_2_445():
    # published_results.md §8: 67.56 / 60.24 / 65.21 / 16.64 -> +2.445 (published +2.23)
    value = delta_m({'semseg': 67.56, 'human_parts': 60.24, 'saliency': 65.21,
                     'normals': 16.64}, ST, HIB)
    expected = 100 / 4 * ((67.56 - 67.21) / 67.21 + (60.24 - 61.93) / 61.93
                          + (65.21 - 62.35) / 62.35 - (16.64 - 17.97) / 17.97)
    assert value == pytest.approx(expected)
    assert round(value, 3) == 2.445


def test_published_mtlora_r16():
    value = delta_m({'semseg': 68.19, 'human_parts': 58.99, 'saliency': 64.48,
                     'normals': 17.03}, ST, HIB)
    assert round(value, 3) == 1.339


def test_reference_itself_is_zero_and_extra_reference_tasks_ignored():
    assert delta_m(dict(ST), dict(ST, depth=0.6), HIB) == 0.0


def test_missing_task_named():
    with pytest.raises(ValueError, match="'normals'"):
        delta_m({'semseg': 1.0, 'normals': 2.0}, {'semseg': 1.0}, HIB)
    with pytest.raises(ValueError, match="'depth'"):
        delta_m({'depth': 1.0}, {'depth': 1.0}, HIB)
    with pytest.raises(ValueError):
        delta_m({}, ST, HIB)
    with pytest.raises(ValueError, match='zero'):
        delta_m({'semseg': 1.0}, {'semseg': 0.0}, HIB)


def test_directions_and_primary_reference():
    assert directions(['normals', 'depth', 'edge']) == {'normals': False, 'depth': False,
                                                         'edge': True}
    table = {'metrics': {'semseg': {'mIoU': 67.21, 'aAcc': 90.0}, 'normals': {'mean': 17.97}}}
    assert primary_reference(table, ['semseg', 'normals']) == {'semseg': 67.21, 'normals': 17.97}
    with pytest.raises(ValueError, match="'saliency'"):
        primary_reference(table, ['saliency'])
