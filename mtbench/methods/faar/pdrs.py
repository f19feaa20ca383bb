"""FAAR's performance-driven rank shrinking (PDRS): the coverage selection and its training hook.

At the end of every epoch (FAAR, arXiv 2603.20403, "coverage" step), each adapter sorts its rank
components by their EMA importance, keeps the fewest ``K`` whose importance covers a fraction
``rho`` of the total (``K = min {k : c(k) >= rho}``) and deletes the others for the rest of the
training. :class:`PDRSHook` runs this on the model's method (``method.shrink``), slices the
optimiser state of the shrunk parameters the same way, and re-wraps a distributed model (DDP
buckets are sized at wrapping time).
"""
import gc
from typing import List, Optional

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mtbench.registry import HOOKS

__all__ = ['PDRSHook', 'coverage_keep']


def coverage_keep(importance: torch.Tensor, coverage: float, min_rank: int = 1) -> torch.Tensor:
    """Indices (ascending) of the fewest components whose importance reaches ``coverage``.

    Args:
        importance: non-negative importance of every component ``[r]``.
        coverage: fraction ``rho`` in (0, 1] of the total importance to keep.
        min_rank: keep at least this many components (the most important ones).

    Returns:
        int64 indices ``[K]``; all-zero importance (an adapter that never influenced the loss)
        keeps ``min_rank`` components.
    """
    scores = importance.detach().double().clamp_min(0).cpu()
    rank = scores.numel()
    order = torch.argsort(scores, descending=True, stable=True)
    total = scores.sum()
    if total > 0:
        covered = torch.cumsum(scores[order], 0) / total
        target = torch.tensor([coverage - 1e-6], dtype=torch.float64)  # c(k) = rho up to rounding
        k = int(torch.searchsorted(covered, target, right=False).item()) + 1
    else:
        k = 0
    k = min(rank, max(k, min_rank))
    return torch.sort(order[:k]).values


def _optimizers(optim_wrapper) -> List[torch.optim.Optimizer]:
    if optim_wrapper is None:
        return []
    if hasattr(optim_wrapper, 'optimizer'):
        return [optim_wrapper.optimizer]
    return [w.optimizer for w in optim_wrapper.values()]


@HOOKS.register_module()
class PDRSHook(Hook):
    """Shrink the ranks of a FAAR model every ``interval`` epochs (or iterations).

    The hook calls ``method.shrink(model)`` after the last iteration of each period, before the
    checkpoint hook saves, so that a checkpoint holds the shrunk parameters, their optimiser
    state and the importance EMA (a resumed run continues identically). Under fp16 loss scaling
    it divides the importance scores by the loss scale of the step.

    Args:
        interval: shrink every ``interval`` epochs (``by_epoch``) or iterations.
        by_epoch: count ``interval`` in epochs (``len(train_dataloader)`` iterations, also for
            an iteration-based loop) or in iterations.
        end: last iteration (1-based) after which a shrink may happen; ``None``: all training.

    Example:
        >>> custom_hooks = [dict(type='PDRSHook', interval=1, by_epoch=True)]
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 1, by_epoch: bool = True, end: Optional[int] = None):
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f'PDRSHook interval must be a positive integer, got {interval!r}')
        if end is not None and (isinstance(end, bool) or not isinstance(end, int) or end < 1):
            raise ValueError(f'PDRSHook end must be None or a positive integer, got {end!r}')
        self.interval = interval
        self.by_epoch = bool(by_epoch)
        self.end = end

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def _method(self, runner):
        method = self._model(runner).method
        if not hasattr(method, 'shrink'):
            raise TypeError(f'PDRSHook needs a method with rank shrinking (FAAR), got '
                            f'{type(method).__name__}')
        return method

    def period(self, runner) -> int:
        """Iterations between two shrinks."""
        return self.interval * (len(runner.train_dataloader) if self.by_epoch else 1)

    def before_train(self, runner) -> None:
        method = self._method(runner)
        if method.is_shrunk(self._model(runner)):  # resumed from a shrunk checkpoint
            self._rewrap(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        scaler = getattr(runner.optim_wrapper, 'loss_scaler', None)
        scale = float(scaler.get_scale()) if scaler is not None else 1.0
        self._method(runner).set_grad_scale(self._model(runner), scale)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        done = runner.iter + 1
        if done % self.period(runner) or (self.end is not None and done > self.end):
            return
        self.shrink(runner)

    def shrink(self, runner) -> None:
        """Average the importance over processes, shrink, fix the optimiser state, re-wrap."""
        model, method = self._model(runner), self._method(runner)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            for buf in method.importance_buffers(model):
                dist.all_reduce(buf)
                buf.div_(dist.get_world_size())
        changes = method.shrink(model)
        if not changes:
            return
        for optimizer in _optimizers(runner.optim_wrapper):
            for param, dim, old_shape, keep in changes:
                state = optimizer.state.get(param)
                for name, value in list((state or {}).items()):
                    if torch.is_tensor(value) and value.shape == old_shape:
                        state[name] = value.index_select(dim, keep.to(value.device))
        self._rewrap(runner)
        ranks = method.current_ranks(model)
        runner.logger.info(
            f'PDRS at iteration {runner.iter + 1}: {len(changes) // 2} adapters shrunk; mean rank '
            f'{sum(ranks.values()) / max(len(ranks), 1):.2f}; trainable '
            f'{method.num_trainable(model):,}')
        runner.message_hub.update_info('faar_ranks', ranks)

    @staticmethod
    def _rewrap(runner) -> None:
        if not (runner.distributed and is_model_wrapper(runner.model)):
            return
        module = runner.model.module
        # Free the old wrapper first: its reducer holds the parameters' gradient accumulators,
        # which remember the old shapes.
        runner.model = module
        gc.collect()
        runner.model = runner.wrap_model(runner.cfg.get('model_wrapper_cfg'), module)
