"""ALBERT-xxlarge pretraining as in Lan et al. 2020 (§4.1, Table 1).

Command:    python -m train.pretrain --config=train/configs/albert_xxlarge.py \
              --workdir=runs/albert_xxlarge --config.data.corpus=tfds:wikipedia/20230601.en
Hardware:   TARGET TPU v4-512, parallel.mode=jit with fsdp=8 (235M shared parameters,
            16k-wide MLP); remat "dots" to fit 512-token activations
Planned:    v5p:4x4x8 (128 chips), mesh data=16 x fsdp=8, 32 rows/chip, remat dots: 50.69
            GiB/chip compiled (53% of 95 GiB; python -m benchmarks.pod_plan --config
            train/configs/albert_xxlarge.py --topology v5p:4x4x8). On a v4-128 (32 rows/chip)
            the compiler refuses remat dots (45.5 GB of temporaries > 30.75 GB of HBM);
            --config.model_overrides.remat_policy=full compiles at 8.79 GiB/chip. On 256
            chips (16 rows/chip): v6e:16x16 with dots, 25.6 GiB/chip (up to 19 rows fit);
            v5e:16x16 only with full, 5.19 GiB/chip (up to 59 rows fit)
            (benchmarks/results/pod_plan.md)
Wall-clock: TARGET ~1 week on a v4-512
Metric:     TARGET held-out MLM accuracy ~0.60 (not measured here)
"""

from train.configs import albert_base


def get_config():
  c = albert_base.get_config()
  c.model = "albert-xxlarge"
  c.model_overrides.remat_policy = "dots"
  c.parallel.fsdp = 8
  c.workdir = "runs/albert_xxlarge"
  return c
