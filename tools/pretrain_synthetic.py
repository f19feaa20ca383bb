"""Pre-train the tiny Swin of the synthetic benchmark on the upstream scenes (cached).

Generates `data/synthetic/upstream-nyud-64` if needed, trains
`configs/synthetic/pretrain_swin-nano_synthetic-upstream-64.py` and saves the backbone weights to
`work_dirs/pretrain/swin-nano_synthetic-upstream.pth`, which the synthetic configs load.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mtbench.cli import run_cli  # noqa: E402
from mtbench.engine.synthetic_setup import ensure_pretrained_backbone  # noqa: E402


def main() -> None:
    ensure_pretrained_backbone(extra_args=sys.argv[1:])


if __name__ == '__main__':
    run_cli(main)
