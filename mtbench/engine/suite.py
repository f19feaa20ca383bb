"""Run a suite: every (config, seed) entry trained and tested, then the leaderboard rebuilt.

A suite is an mmengine config file with a ``suite`` dict::

    suite = dict(
        name='synthetic',
        configs=['configs/synthetic/full-ft_swin-nano_synthetic-pascal-64.py', ...],
        seeds=[0, 1],
        work_root='work_dirs/suites/synthetic',
        prepare='synthetic',            # or None: generate data / pre-train before running
        cfg_options=[],                 # applied to every entry
        leaderboard=dict(results='leaderboard/synthetic/results', out='leaderboard/synthetic',
                         exclusive=True),   # optional: the results dir holds this suite only
        benchmark=dict(batch_size=32, size=[64, 64], steps=10, warmup=3),  # optional
        parallel=2,                     # optional: entries run at once (default 1)
    )

With ``benchmark``, a local run then measures every config's efficiency figures
(``tools/analysis/benchmark.py``, on this machine) into the records before the leaderboard is
rebuilt; with slurm it is skipped (measure on a compute node with that tool instead).

Entries whose ``result.json`` was produced by the same config text, overrides and seed are
skipped; a failing entry is reported and the suite goes on. A suite killed mid-way and started
again skips the entries it finished and resumes an interrupted entry from its last checkpoint
(``tools/train.py --resume``; resumed runs reproduce uninterrupted ones bit for bit). As each
entry finishes, a line gives the runs done / to do, the elapsed time and an estimate of the
time left (:mod:`mtbench.progress`). ``only`` (``--only`` of
``tools/run_suite.py``) runs the entries of matching configs alone: the records of the other
entries stay in the results dir, so adding a method to a suite needs only the new runs.
"""
import fnmatch
import glob
import hashlib
import json
import os
import os.path as osp
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import List, Optional

from mmengine.config import Config

from mtbench.engine.runner_utils import read_config_file
from mtbench.errors import ConfigError, MissingPathError
from mtbench.fileio import write_json_atomic
from mtbench.progress import Progress

__all__ = ['SuiteEntry', 'load_suite', 'plan_suite', 'select_entries', 'run_suite']

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAMP = 'suite_entry.json'
#: written when an entry starts: its checkpoints belong to a run of this key (resumable)
STARTED_STAMP = 'suite_entry.started.json'


@dataclass
class SuiteEntry:
    """One (config, seed) run of a suite."""

    config: str
    seed: int
    work_dir: str
    options: List[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Hash of what the run depends on: the resolved config (its ``_base_`` files
        included), seed, overrides, and the content of a local pretrained checkpoint."""
        cfg = Config.fromfile(osp.join(REPO, self.config))
        digest = hashlib.sha256(cfg.pretty_text.encode())
        digest.update(json.dumps([self.seed, self.options]).encode())
        pretrained = (cfg.get('model') or {}).get('pretrained')
        path = osp.join(REPO, pretrained) if isinstance(pretrained, str) else None
        if path and osp.isfile(path):
            with open(path, 'rb') as f:
                digest.update(hashlib.sha256(f.read()).digest())
        return digest.hexdigest()

    def up_to_date(self) -> bool:
        stamp = osp.join(self.work_dir, STAMP)
        if not (osp.exists(stamp) and osp.exists(osp.join(self.work_dir, 'result.json'))):
            return False
        with open(stamp) as f:
            return json.load(f).get('key') == self.key


def load_suite(path: str) -> dict:
    """Read and validate a suite file."""
    if not osp.isfile(path):
        raise MissingPathError(f'suite file not found: {path}; suites live under '
                               'configs/suites/')
    suite = read_config_file(path).get('suite')
    if not isinstance(suite, dict):
        raise ConfigError(f'{path} must define `suite = dict(...)`')
    for key in ('name', 'configs', 'seeds', 'work_root'):
        if key not in suite:
            raise ConfigError(f'{path}: suite.{key} is missing')
    for config in suite['configs']:
        if not osp.isfile(osp.join(REPO, config)):
            raise MissingPathError(f'{path}: suite config not found: {config}; fix the path '
                                   'or remove the entry')
    return dict(suite)


def plan_suite(suite: dict) -> List[SuiteEntry]:
    """The entries of a suite, in order (configs outer, seeds inner)."""
    entries = []
    for config in suite['configs']:
        stem = osp.splitext(osp.basename(config))[0]
        for seed in suite['seeds']:
            options = [f'randomness.seed={seed}', *suite.get('cfg_options', [])]
            entries.append(SuiteEntry(config, int(seed),
                                      osp.join(suite['work_root'], stem, f'seed{seed}'), options))
    return entries


def select_entries(entries: List[SuiteEntry], only: Optional[List[str]]) -> List[SuiteEntry]:
    """The entries whose config path or file stem matches a glob of ``only`` (all if empty).

    Raises:
        ConfigError: when a pattern matches no config of the suite.
    """
    if not only:
        return entries

    def hit(entry, pattern):
        stem = osp.splitext(osp.basename(entry.config))[0]
        return fnmatch.fnmatchcase(entry.config, pattern) or fnmatch.fnmatchcase(stem, pattern)

    for pattern in only:
        if not any(hit(e, pattern) for e in entries):
            stems = sorted({osp.splitext(osp.basename(e.config))[0] for e in entries})
            raise ConfigError(f'--only {pattern!r} matches no config of the suite; its configs: '
                             f'{", ".join(stems)}')
    return [e for e in entries if any(hit(e, p) for p in only)]


def _record_entry(path: str):
    """``(config stem, seed)`` of a collected record file, or None for another file.

    Names are ``<method>--<stem>--seed<k>.json``, with ``--<variant>-<checksum>`` appended when
    records of two dataset versions share a name.
    """
    parts = osp.basename(path)[:-len('.json')].split('--')
    for i in range(1, len(parts)):
        if re.fullmatch(r'seed\d+', parts[i]):
            return parts[i - 1], int(parts[i][len('seed'):])
    return None


def _drop_stale_records(results: str, planned: List[SuiteEntry], collected: List[SuiteEntry],
                        log) -> None:
    """Remove the records of the results dir that belong to no (config, seed) of the suite, and
    those of the entries about to be collected again (so new records replace them)."""
    stem = lambda e: osp.splitext(osp.basename(e.config))[0]  # noqa: E731
    keep = {(stem(e), e.seed) for e in planned} - {(stem(e), e.seed) for e in collected}
    for path in sorted(glob.glob(osp.join(results, '**', '*.json'), recursive=True)):
        if _record_entry(path) in keep:
            continue
        log(f'  removing record {osp.relpath(path, REPO)} (stale or being replaced)')
        os.remove(path)


def _train_test_commands(entry: SuiteEntry, launcher: str, slurm: Optional[dict]):
    opts = ['--cfg-options', *entry.options]
    py = sys.executable
    if launcher == 'slurm':
        slurm = slurm or {}
        partition = slurm.get('partition', 'gpu')
        job = f"mtbench-{osp.basename(osp.dirname(entry.work_dir))}-s{entry.seed}"
        env = {'GPUS': str(slurm.get('gpus', 1)),
               'GPUS_PER_NODE': str(slurm.get('gpus_per_node', slurm.get('gpus', 1)))}
        train = ['bash', 'tools/slurm_train.sh', partition, job, entry.config, entry.work_dir,
                 *opts]
        test = ['srun', '-p', partition, '--gres=gpu:1', '--ntasks=1', py, 'tools/test.py',
                entry.config, '{checkpoint}', '--work-dir', entry.work_dir, *opts]
        return train, test, env
    # Locally, one process trains and then tests the final model (tools/train.py --test):
    # the same record as tools/test.py on the last checkpoint, one interpreter start less.
    train = [py, 'tools/train.py', entry.config, '--work-dir', entry.work_dir, '--test', *opts]
    return train, None, {}


def _resume_checkpoint(entry: SuiteEntry, key: str) -> Optional[str]:
    """The checkpoint an interrupted run of this entry (same key) left, if any."""
    started = osp.join(entry.work_dir, STARTED_STAMP)
    last = osp.join(entry.work_dir, 'last_checkpoint')
    if not (osp.isfile(started) and osp.isfile(last)):
        return None
    try:
        with open(started) as f:
            same_run = json.load(f).get('key') == key
        with open(last) as f:
            checkpoint = f.read().strip()
    except (OSError, ValueError):
        return None
    return checkpoint if same_run and osp.isfile(checkpoint) else None


def _run_entry(entry: SuiteEntry, launcher: str, slurm: Optional[dict], log,
               threads: Optional[int] = None, tag: str = '') -> None:
    train, test, env = _train_test_commands(entry, launcher, slurm)
    os.makedirs(entry.work_dir, exist_ok=True)
    key = entry.key
    checkpoint = _resume_checkpoint(entry, key)
    if checkpoint:
        log(f'{tag}: resuming the interrupted run from {checkpoint}')
        at = train.index('--cfg-options') if '--cfg-options' in train else len(train)
        train = [*train[:at], '--resume', *train[at:]]
    else:
        # A fresh run: checkpoints of an older run (another key) must not be resumed later.
        last = osp.join(entry.work_dir, 'last_checkpoint')
        if osp.exists(last):
            os.remove(last)
        write_json_atomic(osp.join(entry.work_dir, STARTED_STAMP),
                          {'key': key, 'config': entry.config, 'seed': entry.seed})
    run_env = dict(os.environ, **env)
    if threads:
        run_env['OMP_NUM_THREADS'] = str(threads)
    with open(osp.join(entry.work_dir, 'suite.log'), 'a' if checkpoint else 'w') as out:
        log(f'  $ {shlex.join(train)}')
        subprocess.run(train, cwd=REPO, check=True, stdout=out, stderr=subprocess.STDOUT,
                       env=run_env)
    if test:
        _run_test(entry, test, run_env, log)
    write_json_atomic(osp.join(entry.work_dir, STAMP),
                      {'key': key, 'config': entry.config, 'seed': entry.seed})
    os.remove(osp.join(entry.work_dir, STARTED_STAMP))


def _run_test(entry: SuiteEntry, test: List[str], run_env: dict, log) -> None:
    with open(osp.join(entry.work_dir, 'suite.log'), 'a') as out:
        with open(osp.join(entry.work_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        test = [checkpoint if a == '{checkpoint}' else a for a in test]
        log(f'  $ {shlex.join(test)}')
        subprocess.run(test, cwd=REPO, check=True, stdout=out, stderr=subprocess.STDOUT,
                       env=run_env)


def _benchmark(suite: dict, bench: dict, entries: List[SuiteEntry], log) -> None:
    """Measure the efficiency figures of every config with records, into those records."""
    configs = list(dict.fromkeys(e.config for e in entries
                                 if osp.exists(osp.join(e.work_dir, 'result.json'))))
    if not configs:
        return
    cmd = [sys.executable, 'tools/analysis/benchmark.py', *configs,
           '--records-root', suite['work_root'],
           '--out', osp.join(suite['work_root'], 'benchmark'),
           '--batch-size', str(bench.get('batch_size', 2)),
           '--size', *map(str, bench.get('size', (448, 448))),
           '--steps', str(bench.get('steps', 10)), '--warmup', str(bench.get('warmup', 3)),
           '--rounds', str(bench.get('rounds', 1))]
    for key in ('device', 'amp'):
        if bench.get(key):
            cmd += [f'--{key}', str(bench[key])]
    if suite.get('cfg_options'):
        cmd += ['--cfg-options', *suite['cfg_options']]
    log(f'  $ {shlex.join(cmd)}')
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=REPO, check=False)
    if proc.returncode:
        log(f'suite benchmark FAILED (exit {proc.returncode}); records keep no efficiency figures')
    else:
        log(f'suite benchmark done in {time.time() - t0:.0f} s')


def run_suite(path: str, launcher: str = 'local', slurm: Optional[dict] = None,
              dry_run: bool = False, rebuild: bool = True, log=print,
              parallel: Optional[int] = None, only: Optional[List[str]] = None) -> dict:
    """Run every entry of the suite at ``path`` and rebuild its leaderboard.

    With ``parallel > 1`` that many entries run at once (slurm jobs, or local processes that
    share the CPU cores / the GPU; local CPU processes get ``cores // parallel`` threads each);
    ``None`` takes the suite's ``parallel`` (default 1). On a small CPU, two single-thread
    processes train more runs per minute than one two-thread process: the nano model's
    operations are too small for two threads to halve them.
    With ``only`` (config globs), just the matching entries run (see :func:`select_entries`).

    Returns:
        ``{'ran': [...], 'skipped': [...], 'failed': [(work_dir, reason)], 'wall_time_s': t,
        'phases': {phase: seconds}}`` (``wall_time_s``: the runs; ``phases``: data generation,
        pre-training, runs, benchmark and leaderboard, those that ran).
    """
    suite = load_suite(path)
    if parallel is None:
        parallel = suite.get('parallel', 1)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise ConfigError(f'{path}: parallel must be a positive integer, got {parallel!r}')
    phases = {}
    if suite.get('prepare') == 'synthetic' and not dry_run:
        from mtbench.engine.synthetic_setup import (ensure_pretrained_backbone,
                                                    ensure_synthetic_data)
        t0 = time.time()
        ensure_synthetic_data('pascal-mt-64')
        phases['data'] = time.time() - t0
        t0 = time.time()
        ensure_pretrained_backbone()
        phases['pretraining'] = time.time() - t0
    start = time.time()
    summary = {'ran': [], 'skipped': [], 'failed': [], 'phases': phases}
    planned = plan_suite(suite)
    entries = select_entries(planned, only)
    todo = []
    for i, entry in enumerate(entries, 1):
        tag = f'[{i}/{len(entries)}] {entry.config} seed {entry.seed}'
        if entry.up_to_date():
            log(f'{tag}: up to date, skipped')
            summary['skipped'].append(entry.work_dir)
        elif dry_run:
            train, test, _ = _train_test_commands(entry, launcher, slurm)
            log(f'{tag}: would run {shlex.join(train)}'
                + (f'\n  then: {shlex.join(test)}' if test else ''))
        else:
            todo.append((tag, entry))

    def run_one(item):
        tag, entry = item
        log(f'{tag}: running in {entry.work_dir}')
        t0 = time.time()
        try:
            _run_entry(entry, launcher, slurm, log, threads, tag)
        except (subprocess.CalledProcessError, OSError) as err:
            reason = f'{type(err).__name__}: {err}; see {osp.join(entry.work_dir, "suite.log")}'
            log(f'{tag}: FAILED ({reason})')
            return entry.work_dir, reason
        log(f'{tag}: done in {time.time() - t0:.0f} s')
        return entry.work_dir, None

    threads = max(1, (os.cpu_count() or 1) // max(parallel, 1)) if parallel > 1 else None
    outcomes = [None] * len(todo)
    with Progress(total=len(todo), desc=f"suite {suite['name']}", unit='run', interval=0,
                  write=log, enabled=bool(todo)) as bar, \
            ThreadPoolExecutor(max_workers=max(parallel, 1)) as pool:
        futures = {pool.submit(run_one, item): i for i, item in enumerate(todo)}
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
            bar.update()
    for work_dir, reason in outcomes:
        if reason is None:
            summary['ran'].append(work_dir)
        else:
            summary['failed'].append((work_dir, reason))
    summary['wall_time_s'] = phases['runs'] = time.time() - start
    bench = suite.get('benchmark')
    if bench and not dry_run:
        if launcher == 'local':
            t0 = time.time()
            _benchmark(suite, bench, entries, log)
            phases['benchmark'] = time.time() - t0
        else:
            log('suite benchmark skipped with the slurm launcher: run tools/analysis/benchmark.py '
                f"--records-root {suite['work_root']} on a compute node")
    t0 = time.time()
    board = suite.get('leaderboard')
    if rebuild and board and not dry_run:
        work_dirs = [e.work_dir for e in entries if osp.exists(osp.join(e.work_dir,
                                                                         'result.json'))]
        py = sys.executable
        if board.get('exclusive') and osp.isdir(osp.join(REPO, board['results'])):
            # The results dir is this suite's alone: drop records of configs or seeds the suite
            # no longer plans, and those of the entries whose new records are collected now.
            _drop_stale_records(osp.join(REPO, board['results']), planned,
                                [e for e in entries if e.work_dir in work_dirs], log)
        if work_dirs:
            subprocess.run([py, 'tools/leaderboard.py', 'collect', *work_dirs, '--out',
                            board['results']], cwd=REPO, check=False)
        subprocess.run([py, 'tools/leaderboard.py', 'build', '--results', board['results'],
                        '--out', board['out']], cwd=REPO, check=False)
        phases['leaderboard'] = time.time() - t0
    log(f"suite {suite['name']}: {len(summary['ran'])} ran, {len(summary['skipped'])} skipped, "
        f"{len(summary['failed'])} failed, {summary['wall_time_s']:.0f} s")
    if phases:
        log('wall time by phase: ' + ', '.join(f'{k} {v:.0f} s' for k, v in phases.items())
            + f' (total {sum(phases.values()):.0f} s)')
    for work_dir, reason in summary['failed']:
        log(f'  failed: {work_dir}: {reason}')
    return summary
