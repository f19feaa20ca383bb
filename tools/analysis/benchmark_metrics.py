"""Throughput of mtbench's PASCAL-Context metrics on synthetic 448x448 predictions.

Prints images/s per task and for the four tasks together (semseg, human parts, saliency,
normals), as the evaluator runs them one after the other. Synthetic samples are generated once
(a pool of two batches, reused) so only metric time is measured.

Example:
    python tools/analysis/benchmark_metrics.py --num-images 500 --batch-size 8
"""
import argparse
import os
import time

import torch

from mtbench.cli import run_cli
from mtbench.evaluation import (NormalsMetric, SaliencyMetric, SegmentationMetric,
                                build_task_metrics)
from mtbench.progress import Progress
from mtbench.registry import METRICS

__all__ = ['make_batch', 'benchmark', 'main']

TASKS = ('semseg', 'human_parts', 'saliency', 'normals')


def make_batch(batch_size: int, size: int = 448, seed: int = 0) -> list:
    """A batch of synthetic samples in the model's output format (see docs/conventions.md)."""
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(batch_size):
        shape = (size, size)
        semseg_gt = torch.randint(0, 21, shape, generator=g)
        semseg_gt[torch.rand(shape, generator=g) < 0.05] = 255
        semseg_pred = torch.where(torch.rand(shape, generator=g) < 0.7, semseg_gt.clamp(max=20),
                                  torch.randint(0, 21, shape, generator=g))
        parts_gt = torch.randint(0, 7, shape, generator=g)
        parts_pred = torch.randint(0, 7, shape, generator=g)
        sal_gt = (torch.rand(shape, generator=g) < 0.3).long()
        sal_prob = (0.6 * sal_gt + 0.4 * torch.rand(shape, generator=g)).float()
        n_gt = torch.nn.functional.normalize(torch.randn(3, *shape, generator=g), dim=0)
        n_gt[:, :size // 6] = 0  # invalid band
        n_pred = torch.nn.functional.normalize(n_gt + 0.3 * torch.randn(3, *shape, generator=g),
                                               dim=0)
        samples.append({'img_id': f'{seed}_{i}',
                        'pred': {'semseg': semseg_pred, 'human_parts': parts_pred,
                                 'saliency': sal_prob, 'normals': n_pred},
                        'gt': {'semseg': semseg_gt, 'human_parts': parts_gt,
                               'saliency': sal_gt, 'normals': n_gt}})
    return samples


def benchmark(num_images: int = 500, batch_size: int = 8, size: int = 448,
              metric_threads: int = 1, progress: bool = False) -> dict:
    """Seconds spent in each task's metric (process + compute_metrics) for ``num_images``.

    With ``progress``, the images done are shown (:mod:`mtbench.progress`).
    """
    metrics = {cfg['task']: METRICS.build(dict(cfg, num_threads=metric_threads or None))
               for cfg in build_task_metrics(TASKS, 'pascal-mt')}
    assert isinstance(metrics['semseg'], SegmentationMetric)
    assert isinstance(metrics['saliency'], SaliencyMetric)
    assert isinstance(metrics['normals'], NormalsMetric)
    pool = [make_batch(batch_size, size, seed) for seed in range(2)]
    seconds = dict.fromkeys(TASKS, 0.0)
    done = 0
    with Progress(total=num_images, desc='metrics', unit='img', enabled=progress) as bar:
        while done < num_images:
            batch = pool[(done // batch_size) % len(pool)][:num_images - done]
            for task, metric in metrics.items():
                start = time.perf_counter()
                metric.process(None, batch)
                seconds[task] += time.perf_counter() - start
            done += len(batch)
            bar.update(len(batch))
    for task, metric in metrics.items():
        start = time.perf_counter()
        metric.compute_metrics(metric.results)
        seconds[task] += time.perf_counter() - start
    return seconds


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=500)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--size', type=int, default=448)
    parser.add_argument('--metric-threads', type=int, default=1,
                        help='torch threads inside the metrics (0: leave the global setting, '
                             f'now {torch.get_num_threads()})')
    args = parser.parse_args()
    benchmark(2 * args.batch_size, args.batch_size, args.size, args.metric_threads)  # warm up
    seconds = benchmark(args.num_images, args.batch_size, args.size, args.metric_threads,
                        progress=True)
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    threads = args.metric_threads or torch.get_num_threads()
    print(f'{args.num_images} images of {args.size}x{args.size}, batch {args.batch_size}, '
          f'{threads} torch thread(s) in the metrics, {os.cpu_count()} CPUs, '
          f'load average {load:.2f}')
    for task, sec in seconds.items():
        ms = 1e3 * sec / args.num_images
        print(f'  {task:12s} {args.num_images / sec:8.1f} img/s  ({ms:.2f} ms/img)')
    total = sum(seconds.values())
    print(f'  {"total":12s} {args.num_images / total:8.1f} img/s  '
          f'({1e3 * total / args.num_images:.2f} ms/img)')


if __name__ == '__main__':
    run_cli(main)
