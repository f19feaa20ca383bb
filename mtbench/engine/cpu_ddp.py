"""Distributed training on CPUs (gloo) with mmengine's Runner.

mmengine 0.10.7 assumes a GPU per process in two places: ``init_dist`` calls
``torch.cuda.set_device`` and the DDP wrapper is given ``device_ids=[LOCAL_RANK]``. On a machine
without CUDA, :func:`prepare_cpu_distributed` initialises the gloo process group itself (so the
Runner skips ``init_dist``) and selects :class:`CPUDistributedDataParallel`, which drops
``device_ids``.
"""
import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

__all__ = ['CPUDistributedDataParallel', 'prepare_cpu_distributed']


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` for CPU processes (no ``device_ids``)."""

    def __init__(self, module, device_ids=None, **kwargs):
        super().__init__(module=module, device_ids=None, **kwargs)


def prepare_cpu_distributed(cfg) -> None:
    """Set up gloo DDP for ``cfg`` when it asks for a launcher and no GPU is available."""
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if cfg.launcher == 'pytorch' and not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'CPUDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
