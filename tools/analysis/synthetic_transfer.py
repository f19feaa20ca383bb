"""Is the synthetic benchmark honest? Pre-trained vs random-init full FT, and ranking stability.

Reads the synthetic suite's records (``leaderboard/synthetic/results`` by default, as written by
``tools/run_suite.py configs/suites/synthetic.py``), computes each run's Δm against the suite's
own single-task runs, and prints
1. pre-trained vs random-init multi-task full fine-tuning at matched steps (mean ± std over seeds,
   the gap, and whether it exceeds the seed noise);
2. the method ranking for each seed and Kendall's tau between the seeds' rankings;
3. with ``--against DIR`` (another protocol's records, e.g. ``leaderboard/synthetic-full``), each
   config's mean Δm under both protocols and Kendall's tau between the two rankings.
"""
import argparse
import glob
import json
import os.path as osp
import statistics as st
import sys

from scipy.stats import kendalltau

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mtbench.cli import run_cli  # noqa: E402
from mtbench.errors import RecordError  # noqa: E402
from mtbench.leaderboard import delta_m  # noqa: E402

PRETRAINED = 'full-ft_swin-nano_synthetic-pascal-64'
SCRATCH = 'full-ft-scratch_swin-nano_synthetic-pascal-64'


def load_runs(results: str):
    """``(single-task reference, {variant: {seed: Δm}})`` of the records in ``results``."""
    records = [json.load(open(p)) for p in sorted(glob.glob(osp.join(results, '*.json')))]
    singles = {}
    for r in records:
        if r['method'] == 'single_task':
            task = r['tasks'][0]
            singles.setdefault(task, []).append(r['primary'][task]['value'])
    if not singles:
        raise RecordError(f'no single-task records in {results}: run the synthetic suite '
                          'first (tools/run_suite.py configs/suites/synthetic.py)')
    reference = {t: st.mean(v) for t, v in singles.items()}
    runs = {}
    for r in records:
        if r['method'] == 'single_task':
            continue
        metrics = {t: r['primary'][t]['value'] for t in r['tasks']}
        hib = {t: r['primary'][t]['higher_is_better'] for t in r['tasks']}
        runs.setdefault(r['variant'], {})[r['seed']] = delta_m(metrics, reference, hib)
    return reference, runs


def compare(runs: dict, other: dict, name: str) -> None:
    """Print each config's mean Δm here and in ``other`` and Kendall's tau of the rankings."""
    common = sorted(set(runs) & set(other), key=lambda m: -st.mean(runs[m].values()))
    if len(common) < 2:
        raise RecordError(f'fewer than two configs in common with {name}')
    here = [st.mean(runs[m].values()) for m in common]
    there = [st.mean(other[m].values()) for m in common]
    print(f'\nmean Δm here vs {name} ({len(common)} configs, best here first):')
    for m, a, b in zip(common, here, there):
        spread = max(st.pstdev(runs[m].values()), st.pstdev(other[m].values()))
        print(f'  {m:58s} {a:+7.2f} {b:+7.2f}   seed spread {spread:.2f}')
    print(f"Kendall's tau of the mean-Δm rankings: {kendalltau(here, there).statistic:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--results', default='leaderboard/synthetic/results/pascal-mt')
    parser.add_argument('--against', metavar='DIR',
                        help="another protocol's records to compare the ranking with")
    args = parser.parse_args()
    reference, runs = load_runs(args.results)
    print('single-task reference (mean over seeds): '
          + ', '.join(f'{t} {v:.2f}' for t, v in reference.items()))
    if PRETRAINED in runs and SCRATCH in runs:
        pre, scr = list(runs[PRETRAINED].values()), list(runs[SCRATCH].values())
        noise = max(st.stdev(pre) if len(pre) > 1 else 0, st.stdev(scr) if len(scr) > 1 else 0)
        pooled = ((st.variance(pre) + st.variance(scr)) / 2) ** 0.5 if len(pre) > 1 else 0
        gap = st.mean(pre) - st.mean(scr)
        print(f'\npre-trained full FT: Δm {st.mean(pre):+.2f} ± {st.stdev(pre):.2f} (seeds '
              f'{", ".join(f"{x:+.2f}" for x in pre)})')
        print(f'random-init full FT: Δm {st.mean(scr):+.2f} ± {st.stdev(scr):.2f} (seeds '
              f'{", ".join(f"{x:+.2f}" for x in scr)})')
        print(f'gap {gap:+.2f}; larger seed std {noise:.2f}, pooled std {pooled:.2f}: '
              f'{"exceeds" if gap > noise else "does NOT exceed"} the larger seed std, '
              f'{"exceeds" if gap > pooled else "does NOT exceed"} the pooled std')
    seeds = sorted({s for v in runs.values() for s in v})
    methods = sorted(m for m in runs if all(s in runs[m] for s in seeds))
    print('\nranking per seed (best first):')
    for s in seeds:
        order = sorted(methods, key=lambda m: -runs[m][s])
        print(f'  seed {s}: ' + ' > '.join(order))
    if len(seeds) >= 2:
        tau = kendalltau([runs[m][seeds[0]] for m in methods],
                         [runs[m][seeds[1]] for m in methods]).statistic
        print(f"Kendall's tau between seeds {seeds[0]} and {seeds[1]}: {tau:.3f}")
    if args.against:
        compare(runs, load_runs(args.against)[1], args.against)


if __name__ == '__main__':
    run_cli(main)
