"""Prepare the embedded synthetic benchmark: generate the data, pre-train the tiny backbone.

Both steps are cached: the data folders and the pretrained checkpoint are reused when present
and produced with the same settings (recorded in a small JSON stamp beside them).
"""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import threading
from typing import List, Optional

from mtbench.fileio import torch_save_atomic, write_text_atomic
from mtbench.progress import Progress, format_duration

__all__ = ['SYNTHETIC_DATA', 'ensure_synthetic_data', 'ensure_pretrained_backbone',
           'extract_backbone_state', 'pretrain_settings', 'PRETRAINED_PATH',
           'PRETRAIN_CONFIG']

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SYNTHETIC_DATA = {
    # name: (layout, family, num_train, num_val, seed)
    'pascal-mt-64': ('pascal-mt', 'downstream', 1000, 300, 0),
    'upstream-nyud-64': ('nyud-mt', 'upstream', 4000, 100, 1),
}
PRETRAIN_CONFIG = 'configs/synthetic/pretrain_swin-nano_synthetic-upstream-64.py'
PRETRAINED_PATH = 'work_dirs/pretrain/swin-nano_synthetic-upstream.pth'
_TRAIN_ITER = re.compile(r'Iter\(train\) \[\s*(\d+)/(\d+)\]')


def _generator_fingerprint() -> str:
    """Hash of the synthetic generator's source, so a changed renderer invalidates caches."""
    import glob
    import hashlib
    digest = hashlib.sha256()
    for path in sorted(glob.glob(osp.join(REPO, 'mtbench', 'datasets', 'synthetic', '*.py'))):
        with open(path, 'rb') as f:
            digest.update(f.read())
    return digest.hexdigest()[:16]


def _stamp_ok(path: str, settings: dict) -> bool:
    if not osp.exists(path):
        return False
    with open(path) as f:
        # Compare as JSON (tuples in ``settings`` come back from the stamp as lists).
        return json.load(f) == json.loads(json.dumps(settings))


def _write_stamp(path: str, settings: dict) -> None:
    write_text_atomic(path, json.dumps(settings, sort_keys=True))


def ensure_synthetic_data(name: str, root: str = 'data/synthetic', size: int = 64,
                          progress: bool = True) -> str:
    """Generate ``data/synthetic/<name>`` unless an identical copy is already there."""
    from mtbench.datasets.synthetic import generate_dataset
    layout, family, num_train, num_val, seed = SYNTHETIC_DATA[name]
    out = osp.join(root, name)
    settings = dict(layout=layout, family=family, num_train=num_train, num_val=num_val,
                    seed=seed, size=size, generator=_generator_fingerprint())
    stamp = osp.join(out, '.mtbench-synthetic.json')
    if _stamp_ok(stamp, settings):
        print(f'[synthetic] reusing {out}')
        return out
    if osp.exists(out):
        import shutil
        shutil.rmtree(out)
    print(f'[synthetic] generating {out}: {layout} ({family}), {num_train} train / '
          f'{num_val} val scenes at {size}x{size}')
    generate_dataset(layout, out, num_train, num_val, size=(size, size), seed=seed,
                     family=family, progress=progress)
    _write_stamp(stamp, settings)
    return out


def extract_backbone_state(checkpoint_path: str) -> dict:
    """The ``backbone.*`` weights of a Runner checkpoint, without the prefix."""
    from mtbench.engine.checkpoint_safety import safe_torch_load
    state = safe_torch_load(checkpoint_path, map_location='cpu')['state_dict']
    return {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}


def pretrain_settings() -> dict:
    """What the pre-trained backbone depends on: the resolved recipe, the data, the generator."""
    from mmengine.config import Config
    recipe = Config.fromfile(osp.join(REPO, PRETRAIN_CONFIG)).pretty_text  # with its _base_
    return dict(config=recipe, data=SYNTHETIC_DATA['upstream-nyud-64'],
                generator=_generator_fingerprint())


def ensure_pretrained_backbone(out_path: str = PRETRAINED_PATH, python: Optional[str] = None,
                               extra_args=()) -> str:
    """Pre-train the tiny Swin on the upstream scenes (cached) and save its backbone weights."""
    ensure_synthetic_data('upstream-nyud-64')
    settings = pretrain_settings()
    stamp = out_path + '.json'
    if osp.exists(out_path) and _stamp_ok(stamp, settings):
        print(f'[pretrain] reusing {out_path}')
        return out_path
    work_dir = osp.join(osp.dirname(out_path), 'run')
    cmd = [python or sys.executable, osp.join(REPO, 'tools', 'train.py'), PRETRAIN_CONFIG,
           '--work-dir', work_dir, *extra_args]
    _train_logged(cmd, osp.join(work_dir, 'pretrain.log'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    os.makedirs(osp.dirname(out_path), exist_ok=True)
    torch_save_atomic({'model': extract_backbone_state(last),
                       'meta': {'source': PRETRAIN_CONFIG, 'checkpoint': last}}, out_path)
    _write_stamp(stamp, settings)
    print(f'[pretrain] saved backbone weights to {out_path}')
    return out_path


def _train_logged(cmd: List[str], log_path: str) -> None:
    """Run the pre-training command with its output in ``log_path`` and its progress shown.

    Prints a start line (command and log file), the iterations done as the log reports them
    (:mod:`mtbench.progress`), and a done line with the elapsed time; on failure, the end of
    the log. Raises ``subprocess.CalledProcessError`` as ``subprocess.run(check=True)`` does.
    """
    os.makedirs(osp.dirname(log_path), exist_ok=True)
    print('[pretrain] ' + ' '.join(cmd))
    print(f'[pretrain] training the nano Swin on the upstream scenes; log: {log_path}',
          flush=True)
    bar = Progress(desc='[pretrain] iterations', unit='iter')
    stop = threading.Event()
    follower = threading.Thread(target=_follow_train_log, args=(log_path, bar, stop),
                                daemon=True)
    try:
        with open(log_path, 'w') as log:
            follower.start()
            try:
                subprocess.run(cmd, check=True, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
            finally:
                stop.set()
                follower.join()
                bar.close()
    except subprocess.CalledProcessError:
        print(f'[pretrain] FAILED after {format_duration(bar.elapsed)}; the end of {log_path}:\n'
              + _tail(log_path), file=sys.stderr)
        raise
    print(f'[pretrain] done in {format_duration(bar.elapsed)}')


def _follow_train_log(log_path: str, bar: Progress, stop: threading.Event,
                      poll_s: float = 1.0) -> None:
    """Move ``bar`` to the last ``Iter(train) [i/n]`` of mmengine's log until ``stop``."""
    position = 0
    while True:
        finished = stop.wait(poll_s)
        try:
            with open(log_path, 'rb') as f:
                f.seek(position)
                data = f.read()
        except OSError:
            data = b''
        complete = data[:data.rfind(b'\n') + 1]  # a line still being written waits
        position += len(complete)
        matches = _TRAIN_ITER.findall(complete.decode('utf-8', errors='replace'))
        if matches:
            done, total = map(int, matches[-1])
            bar.set_total(total)
            bar.update(max(0, done - bar.done))
        if finished:
            return


def _tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return '(no log)'

