"""Training-step (or inference) time ratios measured in one process, the configs interleaved.

``benchmark.py`` runs every config in its own process, one after the other, so a machine whose
speed drifts (a shared host: this project's CPU machine moved by up to 20 % within an hour) moves
the ratios between configs. Here every config's model is built in one process and the timed
steps alternate: round ``i`` runs one step of each config in turn, and each config's ratio is the
median over the rounds of its step time divided by the first config's step time *of the same
round*. Drift slower than a round cancels out. ``--inference`` times inference forwards instead
(eval mode, no autograd, ``mode='tensor'``; seconds per batch), and ``--merged`` merges every
method that supports it first. Peak memory needs a process per config: use ``benchmark.py``.
The JSON written by ``--out`` has ``timed`` (``train_step`` or ``inference``); a config's
``step_s`` / ``steps_s`` are then seconds per training step or per inference forward.

Example:
    python tools/analysis/step_ratio.py configs/full_ft/full-ft_swin-t_pascal-mt-448.py \\
        configs/mtlora/mtlora-r16_swin-t_pascal-mt-448.py --batch-size 2 --steps 8
"""
import argparse
import os.path as osp
import statistics
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from mtbench.cli import run_cli  # noqa: E402
from mtbench.errors import ConfigError  # noqa: E402


def interleaved_times(runs: dict, steps: int, warmup: int, device) -> dict:
    """``{config: [seconds per round]}`` for ``runs`` ``{config: callable}``: ``warmup`` calls
    each, then ``steps`` rounds of one call per config in turn."""
    from mtbench.engine.latency import timed_call
    for run in runs.values():
        for _ in range(warmup):
            timed_call(run, device)
    times = {config: [] for config in runs}
    for _ in range(steps):
        for config, run in runs.items():
            times[config].append(timed_call(run, device))
    return times


def training_run(setup):
    """One training step of a :func:`~mtbench.engine.efficiency.training_setup`."""
    from mtbench.engine.efficiency import train_step
    return lambda: train_step(*setup)


def inference_run(setup, merged: bool):
    """One inference forward of the setup's model on its batch (eval mode, no autograd), after
    ``merge`` when ``merged`` and the method supports it; seconds are per batch."""
    import torch
    model, data = setup[0], setup[1]
    model.eval()
    if merged and getattr(model.method, 'supports_merge', False):
        model.method.merge(model)

    def forward():
        with torch.no_grad():
            model(data['inputs'], mode='tensor')
    return forward


def summarize(times: dict) -> dict:
    """Per config: median step, and the median / min / max over rounds of its ratio to the first
    config's step in the same round."""
    first = next(iter(times.values()))
    rows = {}
    for config, steps in times.items():
        ratios = [t / f for t, f in zip(steps, first)]
        rows[config] = {'step_s': statistics.median(steps), 'steps_s': steps,
                        'ratio': statistics.median(ratios), 'ratio_min': min(ratios),
                        'ratio_max': max(ratios)}
    return rows


def main():
    parser = argparse.ArgumentParser(description='Step-time ratios of configs, interleaved in '
                                     'one process (the first config is the reference)')
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--size', type=int, nargs=2, default=[448, 448], metavar=('H', 'W'))
    parser.add_argument('--steps', type=int, default=8, help='timed rounds')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps per config')
    parser.add_argument('--device', default=None, help='cpu or cuda[:N] (default: cuda if '
                        'available)')
    parser.add_argument('--inference', action='store_true',
                        help='time inference forwards (eval, no autograd) instead of steps')
    parser.add_argument('--merged', action='store_true',
                        help='with --inference: merge the methods that support it first')
    parser.add_argument('--out', default=None, help='write the figures to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0:
        raise ConfigError(f'--steps must be >= 1 and --warmup >= 0, got {args.steps} and '
                          f'{args.warmup}')
    if args.merged and not args.inference:
        raise ConfigError('--merged applies to inference forwards: add --inference')
    import torch

    from mtbench.engine.cpu_memory import tune_malloc
    from mtbench.engine.efficiency import hardware_string, resolve_device, training_setup
    tune_malloc()  # as tools/train.py and benchmark.py do
    device = resolve_device(args.device)
    runs = {}
    for config in dict.fromkeys(args.configs):
        setup = training_setup(config, args.cfg_options, args.batch_size, args.size, device)
        runs[config] = (inference_run(setup, args.merged) if args.inference
                        else training_run(setup))
    rows = summarize(interleaved_times(runs, args.steps, args.warmup, device))
    what = ('inference forwards' + (' (merged where supported)' if args.merged else '')
            if args.inference else 'training steps')
    print(f'\n{hardware_string(device)}, batch {args.batch_size}, input {args.size}, '
          f'{what}: {args.steps} interleaved rounds after {args.warmup} warm-up calls each')
    print(f'{"config":46s} {"s/batch":>8s} {"x first":>8s} {"min":>6s} {"max":>6s}')
    for config, row in rows.items():
        print(f'{osp.splitext(osp.basename(config))[0][:46]:46s} {row["step_s"]:8.3f} '
              f'{row["ratio"]:8.2f} {row["ratio_min"]:6.2f} {row["ratio_max"]:6.2f}')
    if args.out:
        from mtbench.fileio import write_json_atomic
        write_json_atomic(args.out, {'hardware': hardware_string(device),
                                     'batch_size': args.batch_size, 'input_size': list(args.size),
                                     'timed': 'inference' if args.inference else 'train_step',
                                     'merged': args.merged,
                                     'torch': torch.__version__, 'reference': args.configs[0],
                                     'configs': [{'config': c, **r} for c, r in rows.items()]})


if __name__ == '__main__':
    run_cli(main)
