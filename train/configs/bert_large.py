"""BERT-large pretraining as in Devlin et al. 2019 (same recipe as bert_base.py).

Command:    python -m train.pretrain --config=train/configs/bert_large.py[:2] \
              --workdir=runs/bert_large --config.data.corpus=tfds:wikipedia/20230601.en
Hardware:   TARGET one TPU v4-64 slice, parallel.mode=jit with fsdp=4
Planned:    phase 2 (512 tokens) on v4:4x4x4 (64 chips), mesh data=16 x fsdp=4, remat dots:
            4.39 GiB/chip compiled (14% of 32 GiB; python -m benchmarks.pod_plan
            --config train/configs/bert_large.py:2 --topology v4:4x4x4;
            benchmarks/results/pod_plan.md)
Wall-clock: TARGET ~4 days on a v4-64
Metric:     TARGET held-out MLM accuracy ~0.73 (not measured here)
"""

from train.configs import bert_base


def get_config(phase: str = "1"):
  c = bert_base.get_config(phase)
  c.model = "bert-large"
  c.parallel.fsdp = 4
  c.workdir = "runs/bert_large"
  return c
