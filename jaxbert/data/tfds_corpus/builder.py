"""A TFDS `GeneratorBasedBuilder` writing a tokenised corpus in array_record format.

Each record is one document: its WordPiece ids as one flat int32 array and the
length of each sentence, so a reader can cut it back into sentences:

  tokens            int32 [T]  all sentences of the document, concatenated
  sentence_lengths  int32 [S]  sum(sentence_lengths) == T
  doc_index         int32 []   the document's index in the corpus

Splits: `train`, and `eval` (the held-out documents). The builder config's name is
a fingerprint of the corpus files, the vocabulary and the split settings, so a
changed corpus or tokenizer lands in a new directory and is built afresh instead of
silently reused. TFDS writes into a temporary directory and renames it when done,
so a partly written dataset is never mistaken for a complete one. Read back with
`builder.as_data_source(split)` (what `tfds.data_source` calls): random access,
no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import tensorflow_datasets as tfds

from jaxbert.data import corpus as corpus_lib
from jaxbert.data import tokenizer as tokenizer_lib


def heldout_documents(num_documents: int, eval_fraction: float, seed: int) -> np.ndarray:
  """Sorted indices of the held-out documents: a seeded choice of max(1, round(f * n)).

  An eval_fraction >= 1 is a number of documents. At least one document stays in train.
  """
  if num_documents < 2:
    raise ValueError(f"the corpus has {num_documents} document(s); a held-out split "
                     "needs at least 2 (separate documents with a blank line, or more "
                     "than one with the paragraph format)")
  n = int(eval_fraction) if eval_fraction >= 1 else int(round(eval_fraction * num_documents))
  n = min(max(n, 1), num_documents - 1)
  rng = np.random.default_rng([seed, 0x5EED])
  return np.sort(rng.choice(num_documents, n, replace=False))


@dataclasses.dataclass(eq=False)
class CorpusConfig(tfds.core.BuilderConfig):
  """What to build: the corpus, how to read it, the tokenizer and the held-out split."""
  corpus: str = "sotu"
  format: str = "auto"
  text_feature: str = "text"
  tokenizer_dir: str = ""
  lowercase: bool = True
  eval_fraction: float = 0.05
  split_seed: int = 0


def config_for(corpus: str, fmt: str, text_feature: str, tokenizer_dir: str, lowercase: bool,
               eval_fraction: float, split_seed: int) -> CorpusConfig:
  """A CorpusConfig named by the fingerprint of its corpus, vocabulary and split."""
  tok = tokenizer_lib.load_tokenizer(tokenizer_dir, lowercase)
  key = "|".join([corpus_lib.corpus_fingerprint(corpus, fmt, text_feature), tok.fingerprint(),
                  repr(float(eval_fraction)), str(split_seed)])
  name = "c" + hashlib.sha256(key.encode()).hexdigest()[:16]
  return CorpusConfig(name=name, version="1.0.0", corpus=corpus, format=fmt,
                      text_feature=text_feature, tokenizer_dir=tokenizer_dir,
                      lowercase=lowercase, eval_fraction=eval_fraction, split_seed=split_seed,
                      description=f"{corpus} tokenised with {tokenizer_dir}")


class CorpusBuilder(tfds.core.GeneratorBasedBuilder):
  """Tokenised documents of a jaxbert corpus (see the module docstring)."""

  name = "jaxbert_corpus"
  VERSION = tfds.core.Version("1.0.0")
  BUILDER_CONFIGS = []  # made on the fly by config_for(); the name is a fingerprint

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description="Tokenised documents for BERT-family pretraining.",
        features=tfds.features.FeaturesDict({
            "tokens": tfds.features.Tensor(shape=(None,), dtype=np.int32),
            "sentence_lengths": tfds.features.Tensor(shape=(None,), dtype=np.int32),
            "doc_index": tfds.features.Scalar(dtype=np.int32),
        }))

  def _split_generators(self, dl_manager):
    del dl_manager  # local text only
    c = self.builder_config
    docs = corpus_lib.read_documents(c.corpus, c.format, c.text_feature)
    held = set(heldout_documents(len(docs), c.eval_fraction, c.split_seed).tolist())
    tok = tokenizer_lib.load_tokenizer(c.tokenizer_dir, c.lowercase)
    train = [(i, d) for i, d in enumerate(docs) if i not in held]
    return {"train": self._generate_examples(train, tok),
            "eval": self._generate_examples([(i, docs[i]) for i in sorted(held)], tok)}

  def _generate_examples(self, docs, tok):
    for i, doc in docs:
      ids = [s for s in tok.encode_batch(doc) if s]  # drop sentences with no tokens
      lengths = np.array([len(s) for s in ids], np.int32)
      tokens = np.concatenate(ids).astype(np.int32) if ids else np.zeros([0], np.int32)
      yield i, {"tokens": tokens, "sentence_lengths": lengths, "doc_index": i}


def build_corpus(config: CorpusConfig, data_dir: str):
  """Builds the dataset once (cached under data_dir) and returns its builder."""
  builder = CorpusBuilder(config=config, data_dir=data_dir)
  if builder.is_prepared():
    return builder
  tfds.disable_progress_bar()
  builder.download_and_prepare(file_format="array_record",
                               download_config=tfds.download.DownloadConfig(try_download_gcs=False))
  return builder
