"""Small Runner configs on a synthetic tree for engine tests."""
import copy
import os.path as osp

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FULL_FT = osp.join(REPO, 'configs/synthetic/full-ft_swin-nano_synthetic-pascal-64.py')


def small_runner_cfg(data_root: str, work_dir: str, max_epochs: int = 3, batch_size: int = 4,
                     config: str = FULL_FT, lr: float = 1e-3) -> Config:
    """Epoch-based training on ``data_root`` without augmentation randomness (exact resume)."""
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.model.pretrained = None
    cfg.model.backbone.drop_path_rate = 0.0
    pipeline = [dict(type='PackMultiTaskInputs')]
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'] = copy.deepcopy(cfg[f'{split}_dataloader'])
        loader = cfg[f'{split}_dataloader']
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.batch_size = batch_size
        loader.sampler = dict(type='DefaultSampler', shuffle=(split == 'train'))
        loader.dataset.data_root = data_root
        loader.dataset.pipeline = pipeline
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
                                end=3)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=True, interval=1,
                                        max_keep_ckpts=5)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(by_epoch=True)
    cfg.randomness = dict(seed=0)
    return cfg
