"""Build a :class:`MultiTaskModel` from a config outside the Runner (tools, tests)."""
import copy
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mtbench.registry import MODELS, build_or_explain

__all__ = ['build_model_from_config']


def build_model_from_config(cfg: Union[str, Config], load_pretrained: bool = True,
                            device: Optional[Union[str, torch.device]] = None):
    """Build ``cfg.model``.

    Args:
        cfg: a Config or a config file path.
        load_pretrained: when False, ``model.pretrained`` is ignored (no file or network access).
        device: build on this device; ``'meta'`` allocates no parameter storage, which makes
            counting Swin-T/B parameters instant.
    """
    if isinstance(cfg, str):
        cfg = Config.fromfile(cfg)
    init_default_scope(cfg.get('default_scope', 'mtbench'))
    model_cfg = copy.deepcopy(cfg.model)
    if not load_pretrained:
        model_cfg['pretrained'] = None
    if device is None:
        return build_or_explain(MODELS, model_cfg)
    with torch.device(device):
        return build_or_explain(MODELS, model_cfg)
