"""The DoRA adapter with FAAR's rank masking, importance scores and in-place shrinking.

A :class:`DoRAAdapter` re-parameterises a frozen weight ``W`` ``[d_out, d_in]`` as (DoRA, arXiv
2402.09353, §4.1; FAAR, arXiv 2603.20403, method section)::

    W' = m * (W + s B A) / ||W + s B A||_row          (one magnitude m_i per output row)

with ``A`` ``[r, d_in]`` (Kaiming-uniform), ``B`` ``[d_out, r]`` (zero) and ``m = ||W||_row`` at
initialisation, so ``W' = W`` at step 0. For FAAR's performance-driven rank shrinking (PDRS) the
adapter also

* keeps only a random prefix of ``b`` of its ``r`` rank components in each training forward
  ("rank masking", ``b`` uniform in ``1..r``, drawn from a counter-based stream so that a resumed
  run draws the same prefixes);
* accumulates, in the backward pass, the exponential moving average of the importance of every
  rank component ``s_i = (|<A_i, dL/dA_i>| + |<B_:,i, dL/dB_:,i>|) / 2`` (buffer
  ``importance``, the two halves in two rows);
* can be :meth:`~DoRAAdapter.prune`-d to a subset of its components: the parameters shrink in
  place (the same ``nn.Parameter`` objects), and loading a state dict with fewer components
  resizes the adapter first, so checkpoints of shrunk models load into a freshly built model.
"""
import math
from typing import Dict, List, Tuple

import torch
import torch.nn as nn

__all__ = ['DoRAAdapter', 'MASKED_SCORES', 'prefix_length']

#: How the importance EMA treats the components a forward's random prefix left out: ``'zero'``
#: (their score of that step is 0: the EMA decays) or ``'skip'`` (their EMA is not updated).
MASKED_SCORES = ('zero', 'skip')
_U64 = (1 << 64) - 1


def _splitmix64(value: int) -> int:
    value = (value + 0x9E3779B97F4A7C15) & _U64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _U64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _U64
    return value ^ (value >> 31)


def prefix_length(seed: int, key: int, step: int, rank: int) -> int:
    """The rank prefix ``b`` in ``1..rank`` of one training forward (uniform, counter-based)."""
    value = _splitmix64(_splitmix64(_splitmix64(seed & _U64) ^ (key & _U64)) ^ (step & _U64))
    return 1 + value % rank


class DoRAAdapter(nn.Module):
    """One DoRA adapter of a frozen weight (see the module docs).

    Attributes:
        rank: current rank ``r`` (the number of rows of ``A``; changes when pruned or loaded).
        rank_init: rank at construction.
        rank_masking: draw a random prefix in each training forward (PDRS).
        scoring: accumulate the importance EMA in the backward pass (PDRS).
        ema_beta: EMA factor ``beta`` of the importance.
        masked_scores: one of :data:`MASKED_SCORES`.
        grad_scale_inv: multiplier of the scores (``1 / loss scale`` under fp16 loss scaling).

    Args:
        weight: the frozen weight ``W`` (its norms initialise ``magnitude``).
        rank: rank ``r``.
        scale: multiplier ``s`` of ``B A`` (a plain multiplier, not ``alpha / r``).
        key: identifier of this adapter's stream of random prefixes.
        seed: seed of the random prefixes.
        detach_norm: treat ``||W + s B A||`` as a constant in the backward pass (DoRA §4.3).
    """

    def __init__(self, weight: torch.Tensor, rank: int, scale: float, key: int = 0,
                 seed: int = 0, detach_norm: bool = True):
        super().__init__()
        d_out, d_in = weight.shape
        self.rank = self.rank_init = int(rank)
        self.scale = float(scale)
        self.key, self.seed = int(key), int(seed)
        self.detach_norm = bool(detach_norm)
        kwargs = dict(device=weight.device, dtype=weight.dtype)
        self.A = nn.Parameter(torch.empty(rank, d_in, **kwargs))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(d_out, rank, **kwargs))
        self.magnitude = nn.Parameter(torch.linalg.vector_norm(weight.detach(), dim=1).clone())
        self.register_buffer('importance', torch.zeros(2, rank, **kwargs))
        self.steps = 0
        self.rank_masking = False
        self.scoring = False
        self.ema_beta = 0.9
        self.masked_scores = 'zero'
        self.grad_scale_inv = 1.0

    # ---------------------------------------------------------------- forward pieces
    def factors(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(A_eff, B_eff)`` of this forward: the first ``b`` components (random ``b`` when
        rank masking in training, else all), with importance hooks when scoring."""
        used = self.rank
        if self.training and self.rank_masking and self.rank > 1:
            used = prefix_length(self.seed, self.key, self.steps, self.rank)
            self.steps += 1
        a, b = self.A[:used], self.B[:, :used]
        if self.training and self.scoring and torch.is_grad_enabled() and a.requires_grad:
            a.register_hook(self._importance_hook(0, a.detach(), 1))
            b.register_hook(self._importance_hook(1, b.detach(), 0))
        return a, b

    def _importance_hook(self, row: int, values: torch.Tensor, dim: int):
        def hook(grad: torch.Tensor) -> None:
            with torch.no_grad():
                score = (values * grad).sum(dim).abs().mul_(0.5 * self.grad_scale_inv)
                ema = self.importance[row]
                used = score.numel()
                head = ema[:used]
                new = head * self.ema_beta + score.to(ema.dtype) * (1.0 - self.ema_beta)
                head.copy_(torch.where(torch.isfinite(new), new, head))
                if self.masked_scores == 'zero' and used < ema.numel():
                    ema[used:].mul_(self.ema_beta)
        return hook

    def row_scale(self, weight: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``m / ||W + s B A||_row`` ``[d_out]`` for the factors ``a``, ``b``."""
        norm = torch.linalg.vector_norm(weight + self.scale * (b @ a), dim=1)
        if self.detach_norm:
            norm = norm.detach()
        return self.magnitude / norm

    @torch.no_grad()
    def merged_weight(self, weight: torch.Tensor) -> torch.Tensor:
        """The dense ``W' = m (W + s B A) / ||W + s B A||_row`` (all components)."""
        dense = weight + self.scale * (self.B @ self.A)
        return dense * (self.magnitude / torch.linalg.vector_norm(dense, dim=1))[:, None]

    # ---------------------------------------------------------------- PDRS state
    def total_importance(self) -> torch.Tensor:
        """EMA importance of every component, ``(|<A_i, g>| + |<B_i, g>|) / 2`` ``[r]``."""
        return self.importance.sum(0)

    @torch.no_grad()
    def prune(self, keep: torch.Tensor) -> List[Tuple[nn.Parameter, int, torch.Size]]:
        """Keep only components ``keep`` (ascending indices); returns the changed parameters.

        Returns:
            ``(parameter, dim, old shape)`` for ``A`` (rows) and ``B`` (columns), so that the
            caller can slice the optimiser state the same way.
        """
        keep = keep.to(self.A.device)
        changed = []
        for param, dim in ((self.A, 0), (self.B, 1)):
            old = param.shape
            param.data = param.data.index_select(dim, keep)
            param.grad = None
            changed.append((param, dim, old))
        self.importance = self.importance.index_select(1, keep)
        self.rank = int(keep.numel())
        return changed

    def _resize(self, rank: int) -> None:
        if not 1 <= rank <= self.rank_init:
            raise ValueError(f'DoRA adapter built with rank {self.rank_init} cannot load a state '
                             f'with rank {rank}')
        self.A.data = self.A.data.new_zeros(rank, self.A.shape[1])
        self.B.data = self.B.data.new_zeros(self.B.shape[0], rank)
        self.importance = self.importance.new_zeros(2, rank)
        self.rank = rank

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        stored = state_dict.get(prefix + 'A')
        if (isinstance(stored, torch.Tensor) and stored.dim() == 2
                and stored.shape[1] == self.A.shape[1] and stored.shape[0] != self.rank):
            self._resize(int(stored.shape[0]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def get_extra_state(self) -> Dict[str, int]:
        return {'steps': self.steps}

    def set_extra_state(self, state: Dict[str, int]) -> None:
        self.steps = int(state['steps'])

    def extra_repr(self) -> str:
        return f'rank={self.rank}/{self.rank_init}, scale={self.scale}'
