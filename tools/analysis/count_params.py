"""Print the trainable-parameter accounting of a config, without training or loading weights.

The model is built on the meta device (no weight storage, no pretrained file, no network).

Example:
    python tools/analysis/count_params.py configs/full_ft/full-ft_swin-t_pascal-mt-448.py
    python tools/analysis/count_params.py CONFIG --json
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mtbench.cli import run_cli  # noqa: E402
from mtbench.engine.model_builder import build_model_from_config  # noqa: E402
from mtbench.engine.params import count_parameters, format_parameter_table  # noqa: E402
from mtbench.engine.runner_utils import load_config  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description='Parameter accounting of a config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE')
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    model = build_model_from_config(cfg, load_pretrained=False, device='meta')
    counts = count_parameters(model)
    counts['closed_form_trainable'] = model.method.num_trainable(model)
    counts['method'] = model.method.method_id
    if args.json:
        print(json.dumps(counts, sort_keys=True))
        return
    print(f'{osp.basename(args.config)}  (method: {counts["method"]})')
    print(format_parameter_table(counts))
    print(f'closed-form trainable: {counts["closed_form_trainable"]:,}')


if __name__ == '__main__':
    run_cli(main)
