"""Task similarity from loss gradients, and task groups for progressive adaptation.

The procedure of Gangwar et al. (arXiv 2509.19602) as far as it is known
(``docs/methods/progressive.md``): briefly train randomly initialised task heads on the frozen
backbone, then measure how similar the tasks' loss gradients are with respect to the shared
parameters ``theta_s``, and group similar tasks. mtbench implements:

* ``S(g, h) = 4 <g, h> / (||g|| + ||h||)^2`` (``formula='rescaled'``): the inner product of the
  gradients rescaled by the sum of their norms, normalised so that ``S(g, g) = 1``. It equals the
  cosine when the norms are equal and shrinks it by ``(2 sqrt(ab) / (a + b))^2`` when they are
  not, so ``|S| <= |cos|``. ``formula='cosine'`` gives the plain cosine.
* the expectation over batches: ``S_tu = mean_m S(g_t^m, g_u^m)`` with ``g_t^m`` the gradient of
  task ``t``'s (weighted) training loss on batch ``m`` (``pairing='same'``), or against the
  previous batch, ``S(g_t^m, g_u^{m-1})`` symmetrised (``pairing='shifted'``: independent
  samples ``x, x'``);
* groups per stage: average-linkage clustering of ``1 - S`` cut into ``k_s`` clusters, one cut of
  one dendrogram per stage, so the groups of successive stages always form a tree.
"""
import copy
import json
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

__all__ = ['FORMULAS', 'gradient_similarity', 'select_shared_parameters', 'train_heads',
           'task_gradients', 'estimate_similarity', 'group_tasks', 'plot_similarity',
           'run_task_similarity']

FORMULAS = ('rescaled', 'cosine')


def gradient_similarity(g: torch.Tensor, h: torch.Tensor, formula: str = 'rescaled',
                        eps: float = 1e-12) -> float:
    """Similarity of two flat gradients.

    Args:
        g, h: gradients (same shape).
        formula: ``'rescaled'``: ``4 <g, h> / (||g|| + ||h||)^2``; ``'cosine'``:
            ``<g, h> / (||g|| ||h||)``. Zero when a gradient is zero.
    """
    g, h = g.double().flatten(), h.double().flatten()
    dot, ng, nh = float(g @ h), float(g.norm()), float(h.norm())
    if formula == 'rescaled':
        return 4.0 * dot / max((ng + nh) ** 2, eps)
    if formula == 'cosine':
        return dot / max(ng * nh, eps)
    raise ValueError(f'formula must be one of {FORMULAS}, got {formula!r}')


def select_shared_parameters(model: nn.Module, which: str = 'auto') -> Dict[str, nn.Parameter]:
    """The shared parameters ``theta_s`` whose gradients are compared.

    Args:
        which: ``'adapters'``: parameters the method added that every task shares (for
            :class:`ProgressiveTaskAdapters` the groups of all tasks; otherwise added parameters
            with ``task_of(name) is None``); ``'last-stage'``: the 2-D weights of the last
            stage's pretrained blocks (a proxy for methods that add nothing); ``'auto'``:
            adapters if there are any, else the proxy.
    """
    if which not in ('auto', 'adapters', 'last-stage'):
        raise ValueError(f"which must be 'auto', 'adapters' or 'last-stage', got {which!r}")
    method, backbone = model.method, model.backbone
    shared = getattr(method, 'shared_by_all_tasks', None)
    if which != 'last-stage':
        found = {n: p for n, p in backbone.named_parameters() if method.is_added(n) and
                 (shared(n) if shared else method.task_of(n) is None)}
        if found or which == 'adapters':
            if not found:
                raise ValueError(f'{method.method_id} adds no parameters shared by all tasks')
            return found
    prefix = f'layers.{len(backbone.layers) - 1}.blocks.'
    return {n: p for n, p in backbone.named_parameters()
            if n.startswith(prefix) and p.dim() == 2 and not method.is_added(n)}


def _set_grad(model: nn.Module, params: Sequence[nn.Parameter]) -> Dict[nn.Parameter, bool]:
    saved = {p: p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    return saved


def _restore(saved: Dict[nn.Parameter, bool]) -> None:
    for p, flag in saved.items():
        p.requires_grad_(flag)


def train_heads(model: nn.Module, batches: Iterator, steps: int, lr: float = 1e-3) -> List[float]:
    """Train only the task decoders for ``steps`` batches (AdamW); returns the total losses."""
    decoders = list(model.decoders.parameters())
    saved = _set_grad(model, decoders)
    optimizer = torch.optim.AdamW(decoders, lr=lr, weight_decay=0.0)
    model.train()
    history = []
    try:
        for _ in range(steps):
            data = model.data_preprocessor(next(batches), True)
            loss = sum(model(**data, mode='loss').values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(float(loss.detach()))
    finally:
        _restore(saved)
    return history


def task_gradients(model: nn.Module, data: dict, params: Dict[str, nn.Parameter]
                   ) -> Dict[str, torch.Tensor]:
    """``{task: flat gradient of the task's training loss w.r.t. params}`` on one batch."""
    plist = list(params.values())
    saved = _set_grad(model, plist)
    try:
        losses = model(**data, mode='loss')
        grads = {}
        for i, task in enumerate(model.tasks):
            parts = torch.autograd.grad(losses[f'loss_{task}'], plist, allow_unused=True,
                                        retain_graph=i < len(model.tasks) - 1)
            grads[task] = torch.cat([(torch.zeros_like(p) if g is None else g).flatten()
                                     for g, p in zip(parts, plist)]).detach().float()
    finally:
        _restore(saved)
    return grads


def estimate_similarity(model: nn.Module, batches: Iterator, num_batches: int,
                        params: Dict[str, nn.Parameter], formula: str = 'rescaled',
                        pairing: str = 'same') -> np.ndarray:
    """The symmetric ``[T, T]`` matrix ``E[S(g_t, g_u)]`` over ``num_batches`` batches."""
    if pairing not in ('same', 'shifted'):
        raise ValueError(f"pairing must be 'same' or 'shifted', got {pairing!r}")
    if num_batches < (2 if pairing == 'shifted' else 1):
        raise ValueError(f'{pairing!r} pairing needs more batches, got {num_batches}')
    tasks = list(model.tasks)
    total, count, previous = np.zeros((len(tasks), len(tasks))), 0, None
    model.train()
    for _ in range(num_batches):
        grads = task_gradients(model, model.data_preprocessor(next(batches), True), params)
        other = grads if pairing == 'same' else previous
        if other is not None:
            for i, t in enumerate(tasks):
                for j, u in enumerate(tasks):
                    total[i, j] += gradient_similarity(grads[t], other[u], formula)
            count += 1
        previous = grads
    matrix = total / count
    return (matrix + matrix.T) / 2


def _cut(linkage_matrix: np.ndarray, n: int, k: int) -> List[List[int]]:
    """Clusters after the first ``n - k`` merges of a linkage (nested for increasing ``k``)."""
    members = {i: [i] for i in range(n)}
    for step, (a, b) in enumerate(linkage_matrix[:n - k, :2].astype(int)):
        members[n + step] = members.pop(a) + members.pop(b)
    return [sorted(m) for m in members.values()]


def group_tasks(similarity: np.ndarray, tasks: Sequence[str], groups_per_stage: Sequence[int]
                ) -> List[List[List[str]]]:
    """Per-stage task groups: average-linkage clustering of ``1 - S`` cut into ``k_s`` groups.

    Raises:
        ValueError: a group count outside ``[1, T]`` or decreasing from one stage to the next.
    """
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    from mtbench.methods.progressive.grouping import normalize_grouping
    tasks, n = list(tasks), len(tasks)
    counts = [int(k) for k in groups_per_stage]
    if any(k < 1 or k > n for k in counts) or counts != sorted(counts):
        raise ValueError(f'groups per stage must be non-decreasing integers in [1, {n}], '
                         f'got {counts}')
    if n == 1:
        return [[list(tasks)] for _ in counts]
    dist = 1.0 - np.asarray(similarity, dtype=float)
    dist = np.clip((dist + dist.T) / 2, 0.0, None)
    np.fill_diagonal(dist, 0.0)
    z = linkage(squareform(dist, checks=False), method='average')
    grouping = [[[tasks[i] for i in c] for c in _cut(z, n, k)] for k in counts]
    return normalize_grouping(grouping, tasks, len(counts))


def plot_similarity(similarity: np.ndarray, tasks: Sequence[str], path: str,
                    title: str = 'task gradient similarity') -> None:
    """Save a heat map of the similarity matrix (matplotlib, Agg backend)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(1.2 * len(tasks) + 2, 1.2 * len(tasks) + 1.5))
    image = ax.imshow(similarity, cmap='RdBu_r', vmin=-1, vmax=1)
    ax.set_xticks(range(len(tasks)), tasks, rotation=45, ha='right')
    ax.set_yticks(range(len(tasks)), tasks)
    for i in range(len(tasks)):
        for j in range(len(tasks)):
            value = similarity[i, j]
            ax.text(j, i, f'{value:.2f}', ha='center', va='center', fontsize=9,
                    color='white' if abs(value) > 0.6 else 'black')
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _cycle(loader) -> Iterator:
    while True:
        yield from loader


def run_task_similarity(cfg, out_dir: str, steps: int = 100, num_batches: int = 8,
                        groups_per_stage: Sequence[int] = (1, 1, 2, 4), formula: str = 'rescaled',
                        pairing: str = 'same', params: str = 'auto', lr: float = 1e-3,
                        load_pretrained: bool = True, device: Optional[str] = None,
                        seed: int = 0) -> Dict[str, str]:
    """Build the model of ``cfg``, train its heads, estimate similarities, write the outputs.

    A :class:`ProgressiveTaskAdapters` method is rebuilt with every stage shared, so that all of
    its adapters are ``theta_s`` and no grouping file is needed.

    Returns:
        Paths of ``similarity.json``, ``grouping.json`` and ``similarity.png`` under ``out_dir``.
    """
    from mmengine.runner import Runner

    from mtbench.engine.model_builder import build_model_from_config
    from mtbench.methods.progressive.grouping import save_grouping_file
    cfg = copy.deepcopy(cfg)
    method = dict(cfg.model.get('method') or {})
    if method.get('type') == 'ProgressiveTaskAdapters':
        method.pop('grouping_file', None)
        cfg.model.method = dict(method, grouping='shared')
    torch.manual_seed(seed)
    model = build_model_from_config(cfg, load_pretrained=load_pretrained)
    if len(groups_per_stage) != len(model.backbone.layers):
        raise ValueError(f'groups per stage {list(groups_per_stage)} must give one count per '
                         f'backbone stage ({len(model.backbone.layers)})')
    model.to(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    batches = _cycle(Runner.build_dataloader(cfg.train_dataloader, seed=seed))
    history = train_heads(model, batches, steps, lr)
    theta = select_shared_parameters(model, params)
    matrix = estimate_similarity(model, batches, num_batches, theta, formula, pairing)
    tasks = list(model.tasks)
    grouping = group_tasks(matrix, tasks, groups_per_stage)
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: osp.join(out_dir, f) for k, f in (('similarity', 'similarity.json'),
                                                  ('grouping', 'grouping.json'),
                                                  ('heatmap', 'similarity.png'))}
    info = dict(tasks=tasks, similarity=matrix.tolist(), formula=formula, pairing=pairing,
                params=dict(selection=params, tensors=len(theta),
                            numel=sum(p.numel() for p in theta.values())),
                head_steps=steps, batches=num_batches,
                head_loss_last=history[-1] if history else None,
                method=model.method.method_id)
    with open(paths['similarity'], 'w') as f:
        json.dump(info, f, indent=2)
        f.write('\n')
    save_grouping_file(paths['grouping'], grouping, tasks, groups_per_stage=list(
        groups_per_stage), linkage='average', distance='1 - S', similarity='similarity.json')
    plot_similarity(matrix, tasks, paths['heatmap'])
    return paths
