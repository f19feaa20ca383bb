"""Exact resume: the random number generators' states travel with every checkpoint.

mmengine resumes the weights, optimizer, schedulers and the data order (an iteration-based loop
re-reads the batches it already trained on), but re-seeds the random number generators instead of
restoring them. A run whose forward pass draws random numbers (dropout, drop path) therefore
continues on another random stream after ``--resume`` than the run it resumes would have.

:class:`RandomStateHook` stores the states of Python's ``random``, NumPy's global generator and
torch's CPU (and CUDA) generators in every checkpoint, and restores them when training resumes,
right before the first batch after the skipped ones is fetched (the skip itself runs the data
pipeline, which draws from NumPy when the loader has no workers). It also makes each validation
neutral to the training stream (states saved before, restored after), because a checkpoint is
written before the validation of the same iteration: a resumed run, which does not repeat that
validation, then continues exactly where the uninterrupted one does.

``build_runner`` adds the hook to every run, so resumed runs reproduce uninterrupted ones
bit for bit (on the same machine and software; see ``tests/tools/test_crash_resume.py``).
Checkpoints without the states (written before this hook existed) resume as plain mmengine does.
"""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

from mtbench.registry import HOOKS

__all__ = ['RandomStateHook', 'RNG_STATES_KEY', 'capture_rng_states', 'restore_rng_states']

#: top-level key of a checkpoint that holds the generators' states
RNG_STATES_KEY = 'rng_states'


def capture_rng_states() -> dict:
    """The states of ``random``, ``numpy.random``, torch's CPU and (if in use) CUDA generators.

    Only tensors, numbers, strings and tuples: the result loads with ``weights_only=True``.
    """
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    states = {
        'python': random.getstate(),
        'numpy': {'name': name, 'keys': torch.from_numpy(keys.astype(np.int64)),
                  'pos': int(pos), 'has_gauss': int(has_gauss),
                  'cached_gaussian': float(cached_gaussian)},
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state()  # the current device's
    return states


def restore_rng_states(states: dict) -> None:
    """Set the generators to ``states`` (from :func:`capture_rng_states`)."""
    random.setstate(_as_tuples(states['python']))
    numpy_state = states['numpy']
    np.random.set_state((numpy_state['name'], numpy_state['keys'].cpu().numpy().astype(np.uint32),
                         numpy_state['pos'], numpy_state['has_gauss'],
                         numpy_state['cached_gaussian']))
    torch.set_rng_state(states['torch'].cpu())
    if states.get('cuda') is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(states['cuda'].cpu())


def _as_tuples(value):
    """``random.setstate`` wants tuples; a checkpoint may give lists back."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuples(v) for v in value)
    return value


class _RestoreBeforeFetch:
    """Wraps a loop's data iterator: after ``skip`` batches, restore ``states``, then unwrap."""

    def __init__(self, loop, skip: int, states: dict):
        self._loop = loop
        self._iterator = loop.dataloader_iterator
        self._skip = skip
        self._states = states

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip == 0:
            restore_rng_states(self._states)
            self._loop.dataloader_iterator = self._iterator
            return next(self._iterator)
        self._skip -= 1
        return next(self._iterator)

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the generators' states in checkpoints, restore them on resume; neutral validation.

    See the module docstring. Loading a checkpoint without resuming (``load_from`` for
    fine-tuning, testing) leaves the generators alone. Checkpoints hold rank 0's states (the
    CUDA generator of its current device): every rank restores them, which is exact when all
    ranks share one seed (mmengine's default; with ``randomness.diff_rank_seed`` the hook
    leaves the re-seeded generators alone).
    """

    priority = 'VERY_HIGH'

    def __init__(self):
        self._loaded: Optional[dict] = None
        self._before_val: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[RNG_STATES_KEY] = capture_rng_states()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get(RNG_STATES_KEY)
        meta = checkpoint.get('meta') or {}
        self._loaded = None if states is None else dict(
            states=states, iter=meta.get('iter'), epoch=meta.get('epoch'))

    def before_train(self, runner) -> None:
        loaded, self._loaded = self._loaded, None
        loop = runner.train_loop
        if loaded is None or loop.iter == 0 or (loaded['iter'], loaded['epoch']) != (
                loop.iter, loop.epoch):
            return  # not a resume (a fresh run, or weights loaded for fine-tuning)
        if runner.world_size > 1 and (runner.cfg.get('randomness') or {}).get('diff_rank_seed'):
            runner.logger.warning('RandomStateHook: ranks were seeded differently '
                                  '(randomness.diff_rank_seed) but the checkpoint holds rank 0\'s '
                                  'random states only; resuming with re-seeded generators')
            return
        if isinstance(loop, IterBasedTrainLoop):
            # The loop re-reads ``loop.iter`` batches before the first new one.
            loop.dataloader_iterator = _RestoreBeforeFetch(loop, loop.iter, loaded['states'])
        else:
            restore_rng_states(loaded['states'])

    def before_val(self, runner) -> None:
        self._before_val = capture_rng_states()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            restore_rng_states(self._before_val)
            self._before_val = None
