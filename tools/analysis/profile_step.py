"""Where a training step spends its time: per-op tables and per-stage forward/backward times.

Builds each config's model (no pretrained weights), runs ``--warmup`` training steps, then
profiles ``--steps`` steps with ``torch.profiler`` (CPU time and memory per op) and times every
backbone stage's forward and backward with hooks. Prints, per config, the step time split into
forward / backward / optimizer, the per-stage table, and the top ops by self time; with several
configs a last table compares the ops side by side (ms per step).

Example:
    python tools/analysis/profile_step.py configs/full_ft/full-ft_swin-t_pascal-mt-448.py \
        configs/mtlora/mtlora-r16_swin-t_pascal-mt-448.py --batch-size 2 --top 25
"""
import argparse
import collections
import os.path as osp
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from mtbench.cli import run_cli  # noqa: E402


class StageTimer:
    """Wall time of each backbone stage, forward (hooks) and backward (gradient hooks).

    A stage's backward time is the time between the gradient reaching its outputs and the
    gradient of its input (or, for the first stage, the end of ``backward()``).
    """

    def __init__(self, stages):
        self.stages = list(stages)
        self.fwd = collections.defaultdict(float)
        self.bwd = collections.defaultdict(float)
        self._start = {}
        self._grad_in = {}
        for i, stage in enumerate(self.stages):
            stage.register_forward_pre_hook(self._pre(i))
            stage.register_forward_hook(self._post(i))

    def _pre(self, i):
        def hook(module, args):
            self._start[i] = time.perf_counter()
            x = args[0]
            if x.requires_grad:
                x.register_hook(lambda g: self._grad_in.__setitem__(i, time.perf_counter()))
        return hook

    def _post(self, i):
        def hook(module, args, out):
            self.fwd[i] += time.perf_counter() - self._start[i]
        return hook

    def step_backward(self, loss):
        self._grad_in.clear()
        start = time.perf_counter()
        loss.backward()
        end = time.perf_counter()
        # Backward runs the stages last to first; stage i's backward ends when its input's
        # gradient is ready (the end of backward() for a stage whose input needs none).
        ends = [self._grad_in.get(i, end) for i in range(len(self.stages))]
        # Decoders run first in backward; a stage's backward starts where the next stage's ends.
        for i in range(len(self.stages) - 1):
            self.bwd[i] += max(ends[i] - ends[i + 1], 0.0)
        # The last stage's backward cannot be separated from the decoders' backward.
        self.bwd['decoders+last'] += ends[-1] - start
        return end - start


def profile_config(config, args):
    import torch
    from torch.profiler import ProfilerActivity, profile

    from mtbench.engine.cpu_memory import tune_malloc
    from mtbench.engine.efficiency import training_setup
    tune_malloc()  # as tools/train.py and benchmark.py do
    model, data, opt, params = training_setup(config, args.cfg_options, args.batch_size,
                                              args.size)
    timer = StageTimer(model.backbone.layers)

    def step(split):
        t0 = time.perf_counter()
        loss = sum(model(**data, mode='loss').values())
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        bwd = timer.step_backward(loss)
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        t3 = time.perf_counter()
        if split is not None:
            split['forward'].append(t1 - t0)
            split['backward'].append(bwd)
            split['optimizer'].append(t3 - t2)

    if args.saved:
        print_saved_tensors(model, data, config)
    for _ in range(args.warmup):
        step(None)
    timer.fwd.clear()
    timer.bwd.clear()
    split = collections.defaultdict(list)
    for _ in range(args.steps):
        step(split)
    n = args.steps
    print(f'\n=== {osp.basename(config)} (batch {args.batch_size}, {args.size[0]}x{args.size[1]},'
          f' {torch.get_num_threads()} threads)')
    total = sum(sum(v) for v in split.values()) / n
    print('step {:.3f} s = forward {:.3f} + backward {:.3f} + optimizer {:.3f}'.format(
        total, *(sum(split[k]) / n for k in ('forward', 'backward', 'optimizer'))))
    print(f'{"stage":>14s} {"forward ms":>11s} {"backward ms":>12s}')
    for i in range(len(timer.stages)):
        bwd = timer.bwd.get(i)
        print(f'{i + 1:>14d} {1000 * timer.fwd[i] / n:11.1f} '
              f'{"(see below)" if bwd is None else f"{1000 * bwd / n:12.1f}"}')
    print(f'{"decoders+" + str(len(timer.stages)):>14s} {"":>11s} '
          f'{1000 * timer.bwd["decoders+last"] / n:12.1f}')
    with profile(activities=[ProfilerActivity.CPU], profile_memory=args.memory) as prof:
        for _ in range(args.steps):
            step(None)
    table = prof.key_averages()
    print(table.table(sort_by='self_cpu_time_total', row_limit=args.top,
                      max_name_column_width=48))
    return {e.key: e.self_cpu_time_total / 1000 / n for e in table}


def print_saved_tensors(model, data, config, top: int = 12) -> None:
    """Bytes autograd keeps for the backward pass of one training forward, by tensor shape."""
    import torch
    seen, by_shape = {}, collections.Counter()

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in seen:
            seen[storage.data_ptr()] = storage.nbytes()
            by_shape[tuple(t.shape)] += storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = sum(model(**data, mode='loss').values())
    del loss
    print(f'\n=== {osp.basename(config)}: {sum(seen.values()) / 2**20:.1f} MiB saved for '
          f'backward in {len(seen)} storages; largest by shape:')
    for shape, size in by_shape.most_common(top):
        print(f'  {size / 2**20:8.1f} MiB  {list(shape)}')


def main():
    parser = argparse.ArgumentParser(description='Profile training steps of configs')
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--size', type=int, nargs=2, default=[448, 448], metavar=('H', 'W'))
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--top', type=int, default=25)
    parser.add_argument('--memory', action='store_true', help='profile memory per op too')
    parser.add_argument('--saved', action='store_true',
                        help='print the tensors one forward saves for backward, by shape')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    args = parser.parse_args()
    ops = {c: profile_config(c, args) for c in args.configs}
    if len(ops) < 2:
        return
    first = args.configs[0]
    keys = sorted({k for v in ops.values() for k in v},
                  key=lambda k: -max(v.get(k, 0.0) - ops[first].get(k, 0.0)
                                     for v in ops.values()))
    names = [osp.basename(c)[:20] for c in args.configs]
    print('\nself CPU ms per step, ops ordered by the largest excess over the first config')
    print(f'{"op":48s} ' + ' '.join(f'{n:>20s}' for n in names))
    for k in keys[:args.top]:
        print(f'{k[:48]:48s} ' + ' '.join(f'{ops[c].get(k, 0.0):20.1f}' for c in args.configs))


if __name__ == '__main__':
    run_cli(main)
