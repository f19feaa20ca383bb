"""Efficiency figures of method configs on this machine, measured side by side.

Each config runs in a fresh process per batch size (so peak memory belongs to one model and one
batch size); with ``--rounds`` > 1 the runs are interleaved round by round and the median is
reported; a line (a bar on a terminal) gives the measurements done, the elapsed time and the
time left. ``--device cuda --amp bf16|fp16`` measures on a GPU under autocast (``--amp`` works
on the CPU too); a CUDA out-of-memory at one batch size is reported as an ``OOM`` row and the
benchmark goes on. The table has one row per config and batch size; ratios (``x step``,
``x peak``, ``x RSS``, ``merged/plain``) are against the first config at the same batch size,
the plain reference.
Methods with ``supports_merge`` get their latency unmerged and merged. ``peak MiB`` is the most
memory live tensors held in a training step (on a GPU ``max_memory_allocated``; on a CPU counted
from the allocator's events, see :mod:`mtbench.engine.tensor_memory`); on a CPU ``RSS MiB`` is
the process's peak resident set beside it.

Figures go to ``--out`` (``<stem>.json`` per config: the record batch size's figures;
``<stem>_bs<N>.json`` for each batch size when there are several) and, with
``--update-records`` / ``--records-root``, into the ``efficiency`` field of each config's
``result.json`` that the leaderboard reads: the figures of ``--record-batch-size`` (default: the
first ``--batch-size``).

Example:
    python tools/analysis/benchmark.py configs/full_ft/full-ft_swin-t_pascal-mt-448.py \
        configs/lora/lora-r4_swin-t_pascal-mt-448.py --device cuda --amp bf16 \
        --batch-size 8 32 --steps 20 --warmup 5
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from mtbench.cli import USER_ERROR_STATUS, one_line, run_cli  # noqa: E402
from mtbench.errors import ConfigError, RecordError  # noqa: E402
from mtbench.fileio import write_json_atomic  # noqa: E402
from mtbench.progress import Progress  # noqa: E402

PREFIX = 'MTBENCH_FIGURES '
AMP_CHOICES = ('none', 'bf16', 'fp16')
#: Figures that vary between rounds: the median over the rounds is reported.
MEDIAN_KEYS = ('train_step_s', 'train_throughput', 'peak_memory_mb', 'peak_rss_mb',
               'inference_latency_ms', 'inference_latency_merged_ms')
#: Figures written into a record's ``efficiency`` field.
RECORD_KEYS = ('flops_per_image', 'train_flops_per_image', 'train_throughput', 'peak_memory_mb',
               'inference_latency_ms', 'inference_latency_merged_ms', 'amp', 'hardware',
               'batch_size', 'input_size', 'peak_memory_kind', 'peak_rss_mb')


def child_figures(args) -> dict:
    """Figures of ``args.config`` at ``args.batch_size`` (in the child process).

    A CUDA out-of-memory error gives ``{'oom': True, ...}`` instead of figures.
    """
    import torch

    from mtbench.engine.cpu_memory import tune_malloc
    from mtbench.engine.efficiency import hardware_string, measure, resolve_device
    tune_malloc()  # as tools/train.py does, so figures match training runs
    from mtbench.engine.model_builder import build_model_from_config
    from mtbench.engine.runner_utils import load_config
    device = resolve_device(args.device)
    torch.manual_seed(0)
    cfg = load_config(args.config, args.cfg_options)
    model = build_model_from_config(cfg, load_pretrained=False)
    try:
        return measure(model, args.batch_size, args.size, args.steps, args.warmup, str(device),
                       amp=args.amp)
    except torch.cuda.OutOfMemoryError:
        return {'oom': True, 'batch_size': args.batch_size, 'input_size': list(args.size),
                'amp': args.amp, 'hardware': hardware_string(device)}


def _spawn(config: str, batch_size: int, args) -> dict:
    cmd = [sys.executable, __file__, config, '--_child', '--batch-size', str(batch_size),
           '--size', *map(str, args.size), '--steps', str(args.steps),
           '--warmup', str(args.warmup), '--amp', args.amp]
    if args.device:
        cmd += ['--device', args.device]
    if args.cfg_options:
        cmd += ['--cfg-options', *args.cfg_options]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if out.returncode == USER_ERROR_STATUS:  # the child's one-line user error
        lines = [ln for ln in out.stderr.splitlines() if ln.startswith('error: ')]
        message = lines[-1][len('error: '):] if lines else one_line(out.stderr[-500:])
        raise ConfigError(f'{config}: {message}')
    if out.returncode != 0:
        raise RuntimeError(f'benchmark of {config} at batch {batch_size} failed:\n'
                           f'{out.stderr[-3000:]}')
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith(PREFIX))
    return json.loads(line[len(PREFIX):])


def summarize(figures: list) -> dict:
    """One row from the rounds' figures: medians of :data:`MEDIAN_KEYS`; OOM if any round was."""
    oom = [f for f in figures if f.get('oom')]
    if oom:
        return {**oom[0], 'rounds': len(figures)}
    summary = dict(figures[0])
    for key in MEDIAN_KEYS:
        values = [f[key] for f in figures if f.get(key) is not None]
        summary[key] = statistics.median(values) if values else None
    summary['rounds'] = len(figures)
    return summary


def _num(value, width: int) -> str:
    return f'{value:{width}.0f}' if value is not None else f'{"-":>{width}s}'


def _ratio(value, base) -> str:
    return f'{value / base:.2f}' if value is not None and base else '-'


def format_table(results: dict, configs: list, batch_sizes: list) -> list:
    """The printed table: a row per config and batch size, ratios against the first config."""
    measured = [s for s in results.values() if not s.get('oom')]
    ref = (measured or list(results.values()))[0]
    lines = [f'hardware: {ref["hardware"]}, amp {ref["amp"]}, input {ref["input_size"]}',
             f'{"config":46s} {"batch":>5s} {"GFLOPs/img":>10s} {"train GF":>8s} '
             f'{"step s":>8s} {"x step":>7s} {"img/s":>8s} {"peak MiB":>9s} {"x peak":>7s} '
             f'{"RSS MiB":>8s} {"x RSS":>7s} {"lat ms":>8s} {"merged ms":>9s} '
             f'{"merged/plain":>12s}']
    for bs in batch_sizes:
        base = results[(configs[0], bs)]
        base = {} if base.get('oom') else base
        for config in configs:
            s, name = results[(config, bs)], osp.splitext(osp.basename(config))[0][:46]
            if s.get('oom'):
                lines.append(f'{name:46s} {bs:5d} {"OOM":>10s}')
                continue
            merged = s.get('inference_latency_merged_ms')
            lines.append(
                f'{name:46s} {bs:5d} {s["flops_per_image"] / 1e9:10.2f} '
                f'{s["train_flops_per_image"] / 1e9:8.2f} {s["train_step_s"]:8.3f} '
                f'{_ratio(s["train_step_s"], base.get("train_step_s")):>7s} '
                f'{s["train_throughput"]:8.2f} {s["peak_memory_mb"]:9.0f} '
                f'{_ratio(s["peak_memory_mb"], base.get("peak_memory_mb")):>7s} '
                f'{_num(s.get("peak_rss_mb"), 8)} '
                f'{_ratio(s.get("peak_rss_mb"), base.get("peak_rss_mb")):>7s} '
                f'{s["inference_latency_ms"]:8.2f} '
                f'{"-" if merged is None else f"{merged:.2f}":>9s} '
                f'{_ratio(merged, base.get("inference_latency_ms")):>12s}')
    return lines


def parse_args():
    parser = argparse.ArgumentParser(description='Measure efficiency figures of configs')
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--batch-size', type=int, nargs='+', default=[2],
                        help='one or more batch sizes; each config is measured at each')
    parser.add_argument('--size', type=int, nargs=2, default=[448, 448], metavar=('H', 'W'))
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--device', default=None, help='cpu or cuda[:N] (default: cuda if '
                        'available, else cpu)')
    parser.add_argument('--amp', choices=AMP_CHOICES, default='none',
                        help='autocast dtype of the training and inference forwards')
    parser.add_argument('--out', default='work_dirs/benchmark')
    parser.add_argument('--update-records', nargs='*', default=None, metavar='WORK_DIR',
                        help='work dirs (one per config, same order) whose result.json gets an '
                             '"efficiency" entry')
    parser.add_argument('--records-root', default=None, metavar='DIR',
                        help='a suite work root: every DIR/<config stem>/*/result.json (one per '
                             'seed) gets an "efficiency" entry')
    parser.add_argument('--record-batch-size', type=int, default=None, metavar='N',
                        help='the batch size whose figures go into records (default: the first '
                             '--batch-size)')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    parser.add_argument('--_child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        args.batch_size = args.batch_size[0]
        return args
    if any(bs < 1 for bs in args.batch_size) or len(set(args.batch_size)) < len(args.batch_size):
        raise ConfigError(f'--batch-size {args.batch_size}: give distinct positive integers')
    if args.record_batch_size is None:
        args.record_batch_size = args.batch_size[0]
    elif args.record_batch_size not in args.batch_size:
        raise ConfigError(f'--record-batch-size {args.record_batch_size} is not one of '
                          f'--batch-size {args.batch_size}')
    if args.steps < 1 or args.warmup < 0 or args.rounds < 1:
        raise ConfigError('--steps and --rounds must be at least 1, --warmup at least 0')
    return args


def _record_targets(args) -> list:
    targets = []
    if args.update_records is not None:
        if len(args.update_records) != len(args.configs):
            raise ConfigError(f'--update-records got {len(args.update_records)} work dirs for '
                              f'{len(args.configs)} configs; give one per config, in the same '
                              'order')
        targets += [(c, osp.join(w, 'result.json')) for c, w in zip(args.configs,
                                                                      args.update_records)]
    if args.records_root is not None:
        for config in args.configs:
            stem = osp.splitext(osp.basename(config))[0]
            found = sorted(glob.glob(osp.join(args.records_root, stem, '*', 'result.json')))
            if not found:
                print(f'warning: no {args.records_root}/{stem}/*/result.json to update')
            targets += [(config, path) for path in found]
    return targets


def main():
    args = parse_args()
    if args._child:
        args.config = args.configs[0]
        print(PREFIX + json.dumps(child_figures(args)))
        return
    from mtbench.engine.efficiency import resolve_device
    resolve_device(args.device)  # a missing GPU is a one-line error before any child runs
    targets = _record_targets(args)
    runs = {(c, bs): [] for bs in args.batch_size for c in args.configs}
    with Progress(total=args.rounds * len(runs), desc='benchmark', unit='run',
                  interval=0) as bar:
        for r in range(args.rounds):
            for config, bs in runs:
                bar.write(f'[round {r + 1}/{args.rounds}] {config} batch {bs}')
                runs[(config, bs)].append(_spawn(config, bs, args))
                bar.update()
    results = {key: summarize(figures) for key, figures in runs.items()}
    os.makedirs(args.out, exist_ok=True)
    for config in args.configs:
        stem = osp.splitext(osp.basename(config))[0]
        write_json_atomic(osp.join(args.out, f'{stem}.json'),
                          results[(config, args.record_batch_size)])
        if len(args.batch_size) > 1:
            for bs in args.batch_size:
                write_json_atomic(osp.join(args.out, f'{stem}_bs{bs}.json'), results[(config, bs)])
    print('\n' + '\n'.join(format_table(results, args.configs, args.batch_size)))
    oom = sorted({c for c, _ in targets if results[(c, args.record_batch_size)].get('oom')})
    if oom:
        raise ConfigError(f'no records updated: {", ".join(oom)} ran out of memory at the record '
                          f'batch size {args.record_batch_size}; pick one that fits with '
                          '--record-batch-size')
    for config, path in targets:
        update_record(path, results[(config, args.record_batch_size)])
        print(f'updated {path} (batch {args.record_batch_size})')


def update_record(path: str, figures: dict) -> None:
    """Write the benchmark ``figures`` into the ``efficiency`` field of the record at ``path``.

    Keys of :data:`RECORD_KEYS` that ``figures`` lacks (figures of an older benchmark) are
    written as null.
    """
    if not osp.isfile(path):
        raise RecordError(f'no result record {path} to add efficiency figures to; run '
                          'tools/test.py (or tools/train.py --test) for that work dir first')
    with open(path) as f:
        record = json.load(f)
    record['efficiency'] = {k: figures.get(k) for k in RECORD_KEYS}
    write_json_atomic(path, record)


if __name__ == '__main__':
    run_cli(main)
