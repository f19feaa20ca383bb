"""Print the fully resolved config (after `_base_` merging and --cfg-options).

Example:
    python tools/print_config.py configs/full_ft/full-ft_swin-t_pascal-mt-448.py
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mtbench.cli import run_cli  # noqa: E402
from mtbench.engine.runner_utils import load_config  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description='Print the resolved config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE')
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    print(cfg.pretty_text)


if __name__ == '__main__':
    run_cli(main)
