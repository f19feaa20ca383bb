"""The user's bad inputs, through the real tools: one line ``error: ...``, exit status 2.

Every case runs a tool as a subprocess on one mistake and checks: exit status 2, no traceback,
the message names the offending file / key / value, and nothing is left half-written (no
``result.json`` in the work dir, leaderboard files unchanged). The subprocesses of all cases run
concurrently in one session fixture; the parametrised tests then check each outcome.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NANO = 'configs/synthetic/decoder-only_swin-nano_synthetic-pascal-64.py'
SWIN_T = 'configs/mtlora/mtlora-r16_swin-t_pascal-mt-448.py'
SUITE = 'configs/suites/synthetic.py'


def _data_options(root):
    opts = [f'{s}_dataloader.dataset.data_root={root}' for s in ('train', 'val', 'test')]
    return opts + [f'{s}_dataloader.{k}' for s in ('train', 'val', 'test') for k in (
        'num_workers=0', 'persistent_workers=False', 'batch_size=2')]


def _nano(root, work, *extra, tool='tools/train.py', checkpoint=None):
    opts = ['model.pretrained=None', 'train_cfg.max_iters=1', 'train_cfg.val_interval=1',
            *_data_options(root), *extra]
    argv = [tool, NANO, *([checkpoint] if checkpoint else []), '--work-dir', work,
            '--cfg-options', *opts]
    return argv


def _tree_hash(path):
    digest = hashlib.sha256()
    for base, _, files in sorted(os.walk(path)):
        for name in sorted(files):
            with open(osp.join(base, name), 'rb') as f:
                digest.update(name.encode() + f.read())
    return digest.hexdigest()


def _copy(src, dst):
    shutil.copytree(src, dst)
    return str(dst)


def _save_model_checkpoint(path, method=None, tasks=None):
    from mtbench.engine.model_builder import build_model_from_config
    from mtbench.engine.runner_utils import load_config
    opts = ['model.pretrained=None']
    if method:
        opts.append(f'model.method.type={method}')
    if tasks:
        opts.append(f"model.tasks=[{','.join(tasks)}]")
    model = build_model_from_config(load_config(osp.join(REPO, NANO), opts))
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def _cases(tmp, pascal, nyud):
    """(id, argv, [expected substrings], dir that must stay unchanged or None)."""
    cases = []

    def add(case_id, argv, expected, unchanged=None):
        cases.append((case_id, argv, expected, unchanged))

    def tree(name, src=pascal):
        return _copy(src, tmp / name)

    work = lambda name: str(tmp / 'work' / name)  # noqa: E731
    # -- configs and the command line
    add('missing-config', ['tools/train.py', 'configs/nope.py'], ['configs/nope.py'])
    broken = tmp / 'broken_cfg.py'
    broken.write_text("_base_ = []\nmodel = dict(type='MultiTaskModel'\n")
    add('config-syntax-error', ['tools/train.py', str(broken)], ['broken_cfg.py', 'line'])
    typo = tmp / 'typo_cfg.py'
    typo.write_text(f"_base_ = ['{osp.join(REPO, NANO)}']\ntrian_cfg = dict(max_iters=3)\n")
    add('config-key-typo', ['tools/train.py', str(typo)], ["'trian_cfg'", "'train_cfg'"])
    add('cfg-options-syntax', ['tools/train.py', NANO, '--cfg-options', 'train_cfg.max_iters'],
        ["'train_cfg.max_iters'", 'KEY=VALUE'])
    add('unknown-method', _nano(pascal, work('m'), 'model.method.type=LoRAA'),
        ["'LoRAA'", "'LoRA'"])
    add('unknown-method-argument', _nano(pascal, work('a'), 'model.method.type=LoRA',
                                         'model.method.rnak=4'), ['model.method.rnak', "'rank'"])
    add('bad-hyper-parameter', _nano(pascal, work('h'), 'model.method.type=LoRA',
                                     'model.method.rank=0'), ['rank', '0'])
    add('unknown-task', _nano(pascal, work('t'), 'model.tasks=[semseg,segm]'), ["'segm'"])
    add('unknown-dataset', _nano(pascal, work('d'), 'model.dataset=pascal'), ["'pascal'"])
    add('missing-pretrained', ['tools/train.py', SWIN_T, '--work-dir', work('p')],
        ['model.pretrained', 'swin_tiny_patch4_window7_224.pth', 'model.pretrained=None'])
    add('missing-data-root', ['tools/train.py', SWIN_T, '--work-dir', work('r'),
                              '--cfg-options', 'model.pretrained=None'], ['data/PASCAL_MT'])
    add('count-params-missing-config', ['tools/analysis/count_params.py', 'configs/x.py'],
        ['configs/x.py'])
    # -- PASCAL_MT layout
    root = tree('empty_split')
    open(osp.join(root, 'ImageSets/Context/train.txt'), 'w').close()
    add('empty-split-file', _nano(root, work('es')), ['train.txt', 'no image ids'])
    root = tree('no_split')
    os.remove(osp.join(root, 'ImageSets/Context/val.txt'))
    add('missing-split-file', _nano(root, work('ms')), ['val.txt'])
    root = tree('missing_image')
    first = open(osp.join(root, 'ImageSets/Context/train.txt')).read().split()[0]
    os.remove(osp.join(root, 'JPEGImages', f'{first}.jpg'))
    add('missing-image', _nano(root, work('mi')), [f'JPEGImages/{first}.jpg'])
    root = tree('corrupt_image')
    ids = open(osp.join(root, 'ImageSets/Context/train.txt')).read().split()
    for i in ids:
        with open(osp.join(root, 'JPEGImages', f'{i}.jpg'), 'wb') as f:
            f.write(b'\xff\xd8 not a jpeg')
    add('corrupt-image', _nano(root, work('ci')), ['.jpg', 'Cannot read image'])
    root = tree('corrupt_label')
    for i in ids:
        for folder in ('semseg/pascal-context', 'semseg/VOC12'):
            path = osp.join(root, folder, f'{i}.png')
            if osp.exists(path):
                with open(path, 'wb') as f:
                    f.write(b'\x89PNG broken')
    add('corrupt-label-png', _nano(root, work('cl')), ['.png', 'Cannot read label image'])
    root = tree('corrupt_mat')
    for i in ids:
        with open(osp.join(root, 'human_parts', f'{i}.mat'), 'wb') as f:
            f.write(b'MATLAB 5.0 MAT-file, truncated')
    add('corrupt-mat', _nano(root, work('cm')), ['human_parts/', '.mat'])
    root = tree('size_mismatch')
    for i in ids:
        for folder in ('semseg/pascal-context', 'semseg/VOC12'):
            path = osp.join(root, folder, f'{i}.png')
            if osp.exists(path):
                Image.fromarray(np.zeros((10, 12), np.uint8)).save(path)
    add('label-size-mismatch', _nano(root, work('sm')), ['semseg', '10x12'])
    # -- NYUD_MT layout (the NYUD analogue of the nano config)
    nyud_opts = ['model.dataset=nyud-mt', 'model.tasks=[semseg,depth,normals,edge]',
                 *[f'{s}_dataloader.dataset.type=NYUDv2MT' for s in ('train', 'val', 'test')],
                 *[f'{s}_dataloader.dataset.tasks=[semseg,depth,normals,edge]'
                   for s in ('train', 'val', 'test')],
                 'val_evaluator.metrics=[]', 'test_evaluator.metrics=[]']
    nyud_ids = open(osp.join(nyud, 'gt_sets/train.txt')).read().split()
    for case_id, folder, make in (
            ('nyud-nan-depth', 'depth', lambda a: np.where(a > -1, np.nan, a)),
            ('nyud-inf-normals', 'normals', lambda a: np.full_like(a, np.inf))):
        root = tree(case_id, nyud)
        for i in nyud_ids:
            path = osp.join(root, folder, f'{i}.npy')
            np.save(path, make(np.load(path)).astype(np.float32))
        add(case_id, _nano(root, work(case_id), *nyud_opts),
            [f'{folder}/', 'non-finite'])
    root = tree('nyud_corrupt_npy', nyud)
    for i in nyud_ids:
        with open(osp.join(root, 'depth', f'{i}.npy'), 'wb') as f:
            f.write(b'\x93NUMPY garbage')
    add('nyud-corrupt-npy', _nano(root, work('cn'), *nyud_opts), ['depth/', '.npy'])
    add('check-dataset-missing-root', ['tools/dataset_converters/check_dataset.py',
                                       str(tmp / 'nowhere'), '--dataset', 'pascal-mt'],
        ['nowhere'])
    # -- checkpoints (tools/test.py)
    ckpt = tmp / 'ckpt'
    ckpt.mkdir()
    add('test-missing-checkpoint',
        _nano(pascal, work('c0'), tool='tools/test.py', checkpoint=str(ckpt / 'none.pth')),
        ['none.pth'])
    _save_model_checkpoint(ckpt / 'good.pth')
    data = (ckpt / 'good.pth').read_bytes()
    (ckpt / 'truncated.pth').write_bytes(data[:len(data) // 3])
    add('test-truncated-checkpoint',
        _nano(pascal, work('c1'), tool='tools/test.py', checkpoint=str(ckpt / 'truncated.pth')),
        ['truncated.pth', 'truncated'])
    (ckpt / 'text.pth').write_text('this is not a checkpoint')
    add('test-not-a-checkpoint',
        _nano(pascal, work('c2'), tool='tools/test.py', checkpoint=str(ckpt / 'text.pth')),
        ['text.pth'])
    marker = tmp / 'pwned'
    torch.save({'state_dict': {}, 'meta': _Evil(marker)}, ckpt / 'evil.pth')
    add('test-unsafe-pickle',
        _nano(pascal, work('c3'), tool='tools/test.py', checkpoint=str(ckpt / 'evil.pth')),
        ['evil.pth', 'refusing to load', 'system'])
    _save_model_checkpoint(ckpt / 'lora.pth', method='LoRA')
    add('test-checkpoint-of-another-method',
        _nano(pascal, work('c4'), tool='tools/test.py', checkpoint=str(ckpt / 'lora.pth')),
        ['lora.pth', 'lora_A', 'DecoderOnly'])
    _save_model_checkpoint(ckpt / 'two_tasks.pth', tasks=['semseg', 'normals'])
    add('test-checkpoint-of-another-task-set',
        _nano(pascal, work('c5'), tool='tools/test.py', checkpoint=str(ckpt / 'two_tasks.pth')),
        ['two_tasks.pth', 'decoders.human_parts'])
    # -- records, leaderboard, suites
    board = tmp / 'board'
    results = tmp / 'results'
    shutil.copytree(osp.join(REPO, 'leaderboard', 'synthetic', 'results'), results)
    shutil.copytree(osp.join(REPO, 'leaderboard', 'synthetic'), board,
                    ignore=shutil.ignore_patterns('results'))
    half = tmp / 'half_run'
    half.mkdir()
    good = sorted((results / 'pascal-mt').glob('*.json'))[0].read_text()
    (half / 'result.json').write_text(good[:len(good) // 2])
    add('collect-half-written-record', ['tools/leaderboard.py', 'collect', str(half), '--out',
                                        str(results)], ['half_run/result.json', 'invalid JSON'],
        str(results))
    newer = json.loads(good)
    newer['schema_version'] = 99
    (results / 'pascal-mt' / 'zz-newer.json').write_text(json.dumps(newer))
    add('build-newer-schema-record', ['tools/leaderboard.py', 'build', '--results',
                                      str(results), '--out', str(board)],
        ['zz-newer.json', 'schema_version 99', 'newer mtbench'], str(board))
    suite = tmp / 'suite.py'
    suite.write_text("suite = dict(name='x', seeds=[0], work_root='/tmp/x', "
                     "configs=['configs/synthetic/no-such-config.py'])\n")
    add('suite-missing-config', ['tools/run_suite.py', str(suite), '--dry-run'],
        ['no-such-config.py'])
    add('suite-only-matches-nothing', ['tools/run_suite.py', SUITE, '--dry-run', '--only',
                                       'nothing-like-this'], ["'nothing-like-this'"])
    return cases, marker


def _run(argv):
    env = dict(os.environ, OMP_NUM_THREADS='1', MTBENCH_DEBUG='0')
    proc = subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=600, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory, synthetic_pascal, synthetic_nyud):
    tmp = tmp_path_factory.mktemp('bad_inputs')
    cases, marker = _cases(tmp, synthetic_pascal, synthetic_nyud)
    before = {c[0]: _tree_hash(c[3]) for c in cases if c[3]}
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip([c[0] for c in cases], pool.map(_run, [c[1] for c in cases])))
    return {c[0]: (c, results[c[0]], before.get(c[0])) for c in cases}, tmp, marker


CASE_IDS = ['missing-config', 'config-syntax-error', 'config-key-typo', 'cfg-options-syntax',
            'unknown-method', 'unknown-method-argument', 'bad-hyper-parameter', 'unknown-task',
            'unknown-dataset', 'missing-pretrained', 'missing-data-root',
            'count-params-missing-config', 'empty-split-file', 'missing-split-file',
            'missing-image', 'corrupt-image', 'corrupt-label-png', 'corrupt-mat',
            'label-size-mismatch', 'nyud-nan-depth', 'nyud-inf-normals', 'nyud-corrupt-npy',
            'check-dataset-missing-root', 'test-missing-checkpoint', 'test-truncated-checkpoint',
            'test-not-a-checkpoint', 'test-unsafe-pickle', 'test-checkpoint-of-another-method',
            'test-checkpoint-of-another-task-set', 'collect-half-written-record',
            'build-newer-schema-record', 'suite-missing-config', 'suite-only-matches-nothing']


@pytest.mark.parametrize('case_id', CASE_IDS)
def test_bad_input_is_one_clean_line(outcomes, case_id):
    by_id, tmp, _ = outcomes
    (_, argv, expected, unchanged), (code, out, err), before = by_id[case_id]
    report = f'$ {" ".join(argv)}\n--- stdout\n{out[-2000:]}\n--- stderr\n{err[-3000:]}'
    assert code == 2, report
    assert 'Traceback' not in err and 'Traceback' not in out, report
    last = err.strip().splitlines()[-1]
    assert last.startswith('error: '), report
    for fragment in expected:
        assert fragment in last, f'{fragment!r} not in {last!r}'
    for base, _, files in os.walk(tmp / 'work'):
        assert 'result.json' not in files, f'{base} has a result.json after a failed run'
    if unchanged:
        assert _tree_hash(unchanged) == before, f'{unchanged} changed'


def test_every_case_is_checked(outcomes):
    assert sorted(outcomes[0]) == sorted(CASE_IDS) and len(CASE_IDS) >= 25


def test_unsafe_pickle_did_not_run(outcomes):
    assert not outcomes[2].exists()


def test_debug_shows_the_traceback(synthetic_pascal, tmp_path):
    env = dict(os.environ, MTBENCH_DEBUG='1')
    proc = subprocess.run([sys.executable, 'tools/train.py', 'configs/nope.py'], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode != 0 and 'Traceback' in proc.stderr
    assert 'MissingPathError' in proc.stderr
