"""Efficiency figures of method configs on this machine, measured side by side.

Each config runs in a fresh process (so CPU peak RSS belongs to one model); with ``--rounds`` > 1
the configs are interleaved round by round and the median is reported; a line (a bar on a
terminal) gives the measurements done, the elapsed time and the time left. Figures go to
``--out`` (JSON per config) and, with ``--update-records``, into the ``efficiency`` field of each
config's ``result.json`` that the leaderboard reads.

Example:
    python tools/analysis/benchmark.py configs/full_ft/full-ft_swin-t_pascal-mt-448.py \
        configs/mtlora/mtlora-r16_swin-t_pascal-mt-448.py --batch-size 2 --steps 5
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from mtbench.cli import run_cli  # noqa: E402
from mtbench.errors import ConfigError, RecordError  # noqa: E402
from mtbench.fileio import write_json_atomic  # noqa: E402
from mtbench.progress import Progress  # noqa: E402


def _measure_one(args) -> None:
    import torch

    from mtbench.engine.cpu_memory import tune_malloc
    from mtbench.engine.efficiency import measure
    tune_malloc()  # as tools/train.py does, so figures match training runs
    from mtbench.engine.model_builder import build_model_from_config
    from mtbench.engine.runner_utils import load_config
    torch.manual_seed(0)
    cfg = load_config(args.config, args.cfg_options)
    model = build_model_from_config(cfg, load_pretrained=False)
    figures = measure(model, args.batch_size, args.size, args.steps, args.warmup, args.device)
    print('MTBENCH_FIGURES ' + json.dumps(figures))


def _spawn(config: str, args) -> dict:
    cmd = [sys.executable, __file__, config, '--_child', '--batch-size', str(args.batch_size),
           '--size', *map(str, args.size), '--steps', str(args.steps),
           '--warmup', str(args.warmup)]
    if args.device:
        cmd += ['--device', args.device]
    if args.cfg_options:
        cmd += ['--cfg-options', *args.cfg_options]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f'benchmark of {config} failed:\n{out.stderr[-3000:]}')
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith('MTBENCH_FIGURES '))
    return json.loads(line[len('MTBENCH_FIGURES '):])


def main():
    parser = argparse.ArgumentParser(description='Measure efficiency figures of configs')
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--size', type=int, nargs=2, default=[448, 448], metavar=('H', 'W'))
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--device', default=None)
    parser.add_argument('--out', default='work_dirs/benchmark')
    parser.add_argument('--update-records', nargs='*', default=None, metavar='WORK_DIR',
                        help='work dirs (one per config, same order) whose result.json gets an '
                             '"efficiency" entry')
    parser.add_argument('--records-root', default=None, metavar='DIR',
                        help='a suite work root: every DIR/<config stem>/*/result.json (one per '
                             'seed) gets an "efficiency" entry')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    parser.add_argument('--_child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        args.config = args.configs[0]
        _measure_one(args)
        return
    runs = {c: [] for c in args.configs}
    with Progress(total=args.rounds * len(args.configs), desc='benchmark', unit='config',
                  interval=0) as bar:
        for r in range(args.rounds):
            for config in args.configs:
                bar.write(f'[round {r + 1}/{args.rounds}] {config}')
                runs[config].append(_spawn(config, args))
                bar.update()
    os.makedirs(args.out, exist_ok=True)
    results = {}
    for config, figures in runs.items():
        summary = dict(figures[0])
        for key in ('train_step_s', 'train_throughput', 'peak_memory_mb', 'inference_latency_ms'):
            summary[key] = statistics.median(f[key] for f in figures)
        summary['rounds'] = len(figures)
        results[config] = summary
        stem = osp.splitext(osp.basename(config))[0]
        write_json_atomic(osp.join(args.out, f'{stem}.json'), summary)
    base = results[args.configs[0]]
    print(f'\nhardware: {base["hardware"]}, batch {args.batch_size}, input {args.size}')
    header = (f'{"config":58s} {"GFLOPs/img":>10s} {"train GF":>8s} {"step s":>8s} {"x first":>8s} '
              f'{"img/s":>7s} {"peak MiB":>9s} {"x first":>8s} {"lat ms":>8s}')
    print(header)
    for config, s in results.items():
        print(f'{osp.basename(config)[:58]:58s} {s["flops_per_image"] / 1e9:10.2f} '
              f'{s["train_flops_per_image"] / 1e9:8.2f} '
              f'{s["train_step_s"]:8.3f} {s["train_step_s"] / base["train_step_s"]:8.2f} '
              f'{s["train_throughput"]:7.2f} {s["peak_memory_mb"]:9.0f} '
              f'{s["peak_memory_mb"] / base["peak_memory_mb"]:8.2f} '
              f'{s["inference_latency_ms"]:8.1f}')
    targets = []
    if args.update_records is not None:
        if len(args.update_records) != len(args.configs):
            raise ConfigError(f'--update-records got {len(args.update_records)} work dirs for '
                              f'{len(args.configs)} configs; give one per config, in the same '
                              'order')
        targets += [(c, osp.join(w, 'result.json')) for c, w in zip(args.configs,
                                                                      args.update_records)]
    if args.records_root is not None:
        import glob
        for config in args.configs:
            stem = osp.splitext(osp.basename(config))[0]
            found = sorted(glob.glob(osp.join(args.records_root, stem, '*', 'result.json')))
            if not found:
                print(f'warning: no {args.records_root}/{stem}/*/result.json to update')
            targets += [(config, path) for path in found]
    for config, path in targets:
        update_record(path, results[config])
        print(f'updated {path}')


def update_record(path: str, figures: dict) -> None:
    """Write the benchmark ``figures`` into the ``efficiency`` field of the record at ``path``."""
    if not osp.isfile(path):
        raise RecordError(f'no result record {path} to add efficiency figures to; run '
                          'tools/test.py (or tools/train.py --test) for that work dir first')
    with open(path) as f:
        record = json.load(f)
    record['efficiency'] = {k: figures[k] for k in (
        'flops_per_image', 'train_flops_per_image', 'train_throughput', 'peak_memory_mb',
        'inference_latency_ms', 'hardware', 'batch_size', 'input_size', 'peak_memory_kind')}
    write_json_atomic(path, record)


if __name__ == '__main__':
    run_cli(main)
