"""The multi-task dense prediction model: shared backbone, per-task decoders (or a decoder group).

Two kinds of decoder config:

* a per-task head (e.g. ``HRNetFusionHead``): one instance per task, ``model.decoders`` is an
  ``nn.ModuleDict`` keyed by task;
* a decoder group, a registered class with ``multi_task = True``: one module for all tasks that
  may share parameters between them. It is built with ``tasks``, ``in_channels`` and
  ``out_channels`` (a ``{task: channels}`` dict), maps ``{task: features}`` to
  ``{task: output}``, and says which task owns a parameter (``task_of(name)``, None for shared
  ones) and how many parameters it has (``num_params_formula()``).
"""
import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel

from mtbench.models.losses import DEFAULT_LOSSES
from mtbench.registry import METHODS, MODELS, build_or_explain
from mtbench.tasks import TASKS, check_tasks, num_outputs

__all__ = ['MultiTaskModel']


@MODELS.register_module()
class MultiTaskModel(BaseModel):
    """Swin backbone + per-task decoders + a fine-tuning method.

    Build order: backbone, pretrained weights (``pretrained``), decoders, then the method, which
    adds its modules and freezes what it does not train. Weights are final after construction;
    :meth:`init_weights` does not re-initialise anything.

    Args:
        backbone: backbone config (e.g. ``dict(type='SwinTransformer', arch='tiny')``).
        tasks: task names, e.g. ``('semseg', 'human_parts', 'saliency', 'normals')``.
        dataset: dataset name giving each task's output channels ('pascal-mt' or 'nyud-mt').
        decoder: decoder config shared by the tasks (``in_channels``/``out_channels`` are filled):
            a per-task head, or a decoder group (``multi_task = True``; see the module docs).
        method: fine-tuning method config from :data:`mtbench.registry.METHODS`.
        pretrained: checkpoint for the backbone (a path, or 'timm:<tag>' to fetch through timm).
        load_pretrained: load ``pretrained`` at construction. ``tools/test.py`` passes False
            when a checkpoint of the whole model is loaded next; ``pretrained`` is still
            recorded as the weights the model started from.
        loss_weights: per-task loss weights; defaults to the reference weights of
            :data:`mtbench.tasks.TASKS`.
        losses: per-task loss configs overriding the defaults.
        output_scale: per-task multiplier of the raw output before loss and prediction (e.g.
            ``dict(depth=10.0)`` so the depth head predicts metres / 10).
        data_preprocessor: preprocessor config.

    Example:
        >>> model = MultiTaskModel(dict(type='SwinTransformer', arch='nano'), ['semseg'])
        >>> out = model(torch.rand(1, 3, 64, 64), mode='tensor')
        >>> out['semseg'].shape
        torch.Size([1, 21, 64, 64])
    """

    def __init__(self, backbone: dict, tasks: Sequence[str], dataset: str = 'pascal-mt',
                 decoder: Optional[dict] = None, method: Optional[dict] = None,
                 pretrained: Optional[str] = None, load_pretrained: bool = True,
                 loss_weights: Optional[Dict] = None,
                 losses: Optional[Dict] = None, output_scale: Optional[Dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='MultiTaskDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = build_or_explain(MODELS, data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        tasks = list(tasks)
        if not tasks:
            raise ValueError('model.tasks is empty: name at least one task')
        check_tasks(tasks, dataset)
        self.tasks = tasks
        self.dataset = dataset
        self.backbone = build_or_explain(MODELS, backbone)
        if pretrained and load_pretrained:
            from mtbench.models.backbones import load_swin_pretrained
            load_swin_pretrained(self.backbone, pretrained)
        self.pretrained = pretrained

        self.decoders = self._build_decoders(
            dict(type='HRNetFusionHead') if decoder is None else dict(decoder))

        losses = dict(losses or {})
        unknown = set(losses) - set(tasks)
        if unknown:
            raise ValueError(f'model.losses names tasks {sorted(unknown)} not in tasks={tasks}')
        self.losses = nn.ModuleDict(
            {t: build_or_explain(MODELS, losses.get(t, DEFAULT_LOSSES[t])) for t in tasks})
        weights = dict(loss_weights or {})
        unknown = set(weights) - set(tasks)
        if unknown:
            raise ValueError(f'model.loss_weights names tasks {sorted(unknown)} not in '
                             f'tasks={tasks}')
        self.loss_weights = {t: float(weights.get(t, TASKS[t].loss_weight)) for t in tasks}
        self.output_scale = {t: float((output_scale or {}).get(t, 1.0)) for t in tasks}

        self.method_cfg = dict(method or dict(type='FullFineTuning'))
        self.method = build_or_explain(METHODS, self.method_cfg)
        self.method.apply(self)

    def _build_decoders(self, decoder: dict) -> nn.Module:
        in_channels = list(self.backbone.out_channels)
        kind = decoder.get('type')
        decoder_cls = MODELS.get(kind) if isinstance(kind, str) else kind
        if getattr(decoder_cls, 'multi_task', False):
            cfg = copy.deepcopy(decoder)
            cfg.update(tasks=list(self.tasks), in_channels=in_channels,
                       out_channels={t: num_outputs(t, self.dataset) for t in self.tasks})
            return build_or_explain(MODELS, cfg)
        decoders = nn.ModuleDict()
        for task in self.tasks:
            cfg = copy.deepcopy(decoder)
            cfg.update(in_channels=in_channels, out_channels=num_outputs(task, self.dataset))
            decoders[task] = build_or_explain(MODELS, cfg)
        return decoders

    @property
    def decoder_group(self) -> bool:
        """Whether one decoder module serves every task (see the module docs)."""
        return not isinstance(self.decoders, nn.ModuleDict)

    def decoder_task_of(self, name: str) -> Optional[str]:
        """The task that owns decoder parameter ``name`` (relative to ``decoders``), or None."""
        if self.decoder_group:
            return self.decoders.task_of(name)
        return name.split('.', 1)[0]

    def decode(self, feats: Dict[str, List[torch.Tensor]]) -> Dict[str, torch.Tensor]:
        """Per-task decoder outputs at the decoders' resolution."""
        if self.decoder_group:
            return self.decoders(feats)
        return {task: self.decoders[task](feats[task]) for task in self.tasks}

    def init_weights(self) -> None:
        """Weights are final at construction (pretrained loading happens before the method)."""

    def train(self, mode: bool = True):
        super().train(mode)
        self.method.train_mode_hook(self, mode)
        return self

    def forward_tasks(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Raw per-task outputs at the input size (after ``output_scale``)."""
        decoded = self.decode(self.backbone(inputs, self.tasks))
        size = inputs.shape[-2:]
        outputs = {}
        for task in self.tasks:
            out = F.interpolate(decoded[task], size=size, mode='bilinear', align_corners=False)
            if self.output_scale[task] != 1.0:
                out = out * self.output_scale[task]
            outputs[task] = out
        return outputs

    def forward(self, inputs: torch.Tensor, data_samples: Optional[dict] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self.forward_tasks(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f"mode must be 'tensor', 'loss' or 'predict', got {mode!r}")

    def _targets(self, data_samples: Optional[dict]) -> Dict[str, torch.Tensor]:
        gt = (data_samples or {}).get('gt', {})
        missing = [t for t in self.tasks if t not in gt]
        if missing:
            raise KeyError(f'the batch has no ground truth for tasks {missing}; the dataset '
                           f'provides {sorted(gt)}. Check that dataset.tasks matches model.tasks.')
        return gt

    def loss(self, inputs: torch.Tensor, data_samples: dict) -> Dict[str, torch.Tensor]:
        """Weighted per-task losses ``{'loss_<task>': w_t * L_t}``."""
        gt = self._targets(data_samples)
        outputs = self.forward_tasks(inputs)
        return {f'loss_{t}': self.loss_weights[t] * self.losses[t](outputs[t], gt[t])
                for t in self.tasks}

    @staticmethod
    def postprocess(task: str, out: torch.Tensor) -> torch.Tensor:
        """Turn a raw output ``[B, C, H, W]`` into the metric input of ``docs/conventions.md``."""
        kind = TASKS[task].kind
        if kind == 'labels':
            return out.argmax(dim=1)
        if kind == 'binary':
            return out[:, 0].sigmoid()
        if kind == 'vector':
            return F.normalize(out, p=2, dim=1)
        return out[:, 0]

    def predict(self, inputs: torch.Tensor, data_samples: Optional[dict] = None) -> List[dict]:
        """One ``{'img_id', 'pred', 'gt'}`` dict per sample (predictions at the input size)."""
        outputs = self.forward_tasks(inputs)
        preds = {t: self.postprocess(t, o) for t, o in outputs.items()}
        samples = data_samples or {}
        gt = samples.get('gt', {})
        ids = samples.get('img_id') or [str(i) for i in range(inputs.shape[0])]
        results = []
        for i, img_id in enumerate(ids):
            results.append({
                'img_id': img_id,
                'pred': {t: p[i] for t, p in preds.items()},
                'gt': {t: g[i] for t, g in gt.items() if t in preds},
            })
        return results
