"""BERT-base pretraining as in Devlin et al. 2019 (§3.1, Appendix A.2).

Command:    phase 1: python -m train.pretrain --config=train/configs/bert_base.py \
                       --workdir=runs/bert_base --config.data.corpus=tfds:wikipedia/20230601.en
            phase 2: python -m train.pretrain --config=train/configs/bert_base.py:2 \
                       --workdir=runs/bert_base     (resumes phase 1's last checkpoint)
Hardware:   TARGET one TPU v4-32 slice (or 8x H100), parallel.mode=jit, data parallel
Planned:    phase 1 on v5e:8x8 (64 chips), mesh data=64: 1.96 GiB/chip compiled (12% of
            16 GiB); phase 2 on v6e:8x8, data=64: 3.21 GiB/chip (10% of 32 GiB), remat
            dots (python -m benchmarks.pod_plan --config train/configs/bert_base.py[:2]
            --topology ...; benchmarks/results/pod_plan.md)
Wall-clock: TARGET ~2 days on a v4-32 (the paper: 4 days on 16 Cloud TPUs)
Metric:     TARGET held-out MLM accuracy ~0.70 (not measured here)

The paper trains 1M steps of batch 256: 90% at 128 tokens, the last 10% at 512
tokens. Phase 2 uses the same workdir and the same schedule (num_train_steps=1M), so it
resumes at step 900k with the data-iterator state of the 512-token pipeline reset.
"""

from train.configs.base import base_config, model_overrides


def get_config(phase: str = "1"):
  c = base_config()
  c.model = "bert-base"
  c.model_overrides = model_overrides()
  c.dtype = "bfloat16"
  c.num_train_steps = 1_000_000 if phase == "2" else 900_000
  c.batch_size = 256
  c.learning_rate = 1e-4
  c.optimizer.warmup_steps = 10_000
  c.optimizer.schedule_steps = 1_000_000  # one schedule over both phases
  c.optimizer.decay = "linear"
  c.optimizer.weight_decay = 0.01
  c.optimizer.clip_norm = 1.0
  c.eval_every = 10_000
  c.checkpoint_every = 5_000
  c.log_every = 100
  c.workdir = "runs/bert_base"
  c.data.vocab_size = 30522
  c.data.max_seq_length = 512 if phase == "2" else 128
  c.data.max_predictions_per_seq = 80 if phase == "2" else 20
  c.data.pair_objective = "nsp"
  c.data.worker_count = 8
  return c
