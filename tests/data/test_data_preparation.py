"""Offline preparation: shards at scale, worker-count independence, CLI, and bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jaxbert.data import prepare, prepare_corpus, shards

from data_testing import synthetic_text, tiny_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def batches_equal(xs, ys):
  return len(xs) == len(ys) and all(
      x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x) for x, y in zip(xs, ys))


def snapshot(directory):
  return {os.path.relpath(os.path.join(r, f), directory): open(os.path.join(r, f), "rb").read()
          for r, _, fs in os.walk(directory) for f in fs}


@pytest.fixture(scope="module")
def scale(tmp_path_factory):
  """~260 KB of text in ~10 shards, prepared by 1 process and by 2."""
  root = tmp_path_factory.mktemp("scale")
  (root / "text").mkdir()
  for i in range(4):
    (root / "text" / f"part{i}.txt").write_text(synthetic_text(40, 24, seed=10 + i))
  cfg = tiny_config(str(root / "text"), str(root / "cache"), shard_mb=0.025, dupe_factor=3,
                    vocab_size=600)
  out = {}
  for workers in (1, 2):
    cfg.prepare_workers = workers
    meta = prepare_corpus(cfg, str(root / f"w{workers}"), seed=5, log=lambda *_: None)
    out[workers] = (meta, snapshot(root / f"w{workers}"))
  return root, cfg, out


def test_shards_do_not_depend_on_the_worker_count(scale):
  _, _, out = scale
  (m1, files1), (m2, files2) = out[1], out[2]
  assert m1["workers"] == 1 and m2["workers"] == 2
  assert len(m1["shards"]["train"]) >= 6 and len(m1["examples"]["train"]) == 3
  assert files1.keys() == files2.keys()
  differing = [f for f in files1 if f != shards.METADATA and files1[f] != files2[f]]
  assert not differing
  strip = lambda m: {k: v for k, v in m.items() if k not in ("workers", "seconds", "cpu_seconds")}
  assert strip(m1) == strip(m2)


def test_loader_workers_read_the_same_batches(scale, tmp_path):
  root, cfg, out = scale
  run = lambda **kw: tiny_config(cfg.corpus, cfg.data_dir, shard_mb=0.025, dupe_factor=3,
                                 vocab_size=600, prepared=str(root / "w2"), **kw)
  plain = prepare(run(), str(tmp_path / "a"), seed=5)
  pooled = prepare(run(worker_count=2), str(tmp_path / "b"), seed=5)
  take = lambda d, n, **kw: [next(it) for it in [d.train_iterator(16, **kw)] for _ in range(n)]
  assert batches_equal(take(plain, 12), take(pooled, 12))
  # The copies differ: the examples of epoch 0 and epoch 1 (copy 0 and copy 1).
  index = shards.ShardIndex([s["copies"] for s in out[2][0]["shards"]["train"]])
  reader = shards.ShardReader([str(root / "w2" / s["file"]) for s in out[2][0]["shards"]["train"]],
                              index.counts.sum(1))
  copy = lambda c: {bytes(r) for r in reader.read(index.record(np.full(index.sizes[c], c),
                                                               np.arange(index.sizes[c])))}
  c0, c1 = copy(0), copy(1)
  assert len(c0) == index.sizes[0] and len(c0 & c1) < 0.1 * len(c0)


def test_truncated_or_missing_shard(scale, tmp_path):
  root, cfg, out = scale
  import shutil
  bad = tmp_path / "bad"
  shutil.copytree(root / "w1", bad)
  name = out[1][0]["shards"]["train"][3]["file"]
  with open(bad / name, "r+b") as f:
    f.truncate(100)
  run = tiny_config(cfg.corpus, cfg.data_dir, shard_mb=0.025, dupe_factor=3, vocab_size=600,
                    prepared=str(bad))
  with pytest.raises(OSError, match=f"{name} is truncated"):
    prepare(run, str(tmp_path / "w"), seed=5)
  os.remove(bad / name)
  with pytest.raises(OSError, match=f"{name} is missing"):
    prepare(run, str(tmp_path / "w"), seed=5)


def test_another_config_or_tokenizer_is_refused(scale, tmp_path, tiny_data):
  root, cfg, _ = scale
  base = dict(shard_mb=0.025, dupe_factor=3, vocab_size=600, prepared=str(root / "w1"))
  with pytest.raises(ValueError, match="max_seq_length: prepared 32, the run has 64"):
    prepare(tiny_config(cfg.corpus, cfg.data_dir, **{**base, "max_seq_length": 64}),
            str(tmp_path / "w"), seed=5)
  with pytest.raises(ValueError, match="seed: prepared 5, the run has 6"):
    prepare(tiny_config(cfg.corpus, cfg.data_dir, **base), str(tmp_path / "w"), seed=6)
  with pytest.raises(ValueError, match="tokenizer: prepared"):
    prepare(tiny_config(cfg.corpus, cfg.data_dir, tokenizer_dir=tiny_data.tokenizer_dir, **base),
            str(tmp_path / "w"), seed=5)
  assert not os.path.exists(tmp_path / "w")
  before = snapshot(root / "w1")
  with pytest.raises(ValueError, match="holds data prepared with another config"):
    prepare_corpus(tiny_config(cfg.corpus, cfg.data_dir, **{**base, "short_seq_prob": 0.5}),
                   str(root / "w1"), seed=5)
  assert snapshot(root / "w1") == before


def test_writer_false_writes_nothing(tmp_path, tiny_corpus):
  cfg = tiny_config(tiny_corpus, str(tmp_path / "cache"))
  with pytest.raises(ValueError, match="no prepared data.*writing process"):
    prepare(cfg, str(tmp_path / "w"), seed=0, writer=False)
  assert os.listdir(tmp_path) == []
  written = prepare(cfg, str(tmp_path / "w"), seed=0, log=lambda *_: None)
  reader = prepare(cfg, str(tmp_path / "r"), seed=0, writer=False)
  assert not os.path.exists(tmp_path / "r")
  assert reader.dataset_dir == written.dataset_dir
  assert batches_equal([next(reader.train_iterator(4))], [next(written.train_iterator(4))])


@pytest.mark.parametrize("text,message", [
    ("\n\n  \n", "empty corpus"),
    ("A\n\nB\n\nC\n\nD\n", "no usable document"),   # one token per document (SOP)
])
def test_empty_or_unusable_corpus(tmp_path, text, message):
  (tmp_path / "c.txt").write_text(text)
  cfg = tiny_config(str(tmp_path / "c.txt"), str(tmp_path / "cache"), pair_objective="sop",
                    eval_fraction=1)
  with pytest.raises(ValueError, match=message):
    prepare(cfg, str(tmp_path / "w"), seed=0, log=lambda *_: None)
  assert not os.path.exists(tmp_path / "cache") or not [
      d for d in os.listdir(tmp_path / "cache") if not d.endswith(".partial")]


def cli(*args):
  env = dict(os.environ, PYTHONPATH=REPO)
  return subprocess.run([sys.executable, "-m", "train.prepare_data", *args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300)


def test_cli_prepares_once_and_refuses_a_foreign_directory(tmp_path, tiny_corpus):
  args = [f"--config.data.corpus={tiny_corpus}", "--config.data.vocab_size=300",
          "--config.data.max_seq_length=32", "--config.data.dupe_factor=2"]
  proc = cli(*args, f"--out={tmp_path / 'p'}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  summary = json.loads(proc.stdout.strip().splitlines()[-1])
  assert summary["state"].startswith("prepared") and len(summary["train_examples_per_copy"]) == 2
  before = snapshot(tmp_path / "p")
  again = cli(*args, f"--out={tmp_path / 'p'}")
  assert again.returncode == 0 and '"already prepared"' in again.stdout
  assert snapshot(tmp_path / "p") == before
  (tmp_path / "mine").mkdir()
  (tmp_path / "mine" / "notes.txt").write_text("keep me")
  foreign = cli(*args, f"--out={tmp_path / 'mine'}")
  assert foreign.returncode == 2 and "Traceback" not in foreign.stderr
  assert foreign.stderr.startswith("error:") and "holds something else" in foreign.stderr
  assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
  assert snapshot(tmp_path / "p") == before
  assert not [p for p in os.listdir(tmp_path) if ".partial" in p]


def test_preparation_workers_import_neither_jax_nor_grain():
  """A preparation worker imports train.prepare_data (spawn's main module) and
  jaxbert.data.preparation; the packages' names load lazily (jaxbert/lazy.py), so the
  worker skips JAX, Flax, grain and torch, and the public names still resolve."""
  code = ("import sys, train.prepare_data, jaxbert.data.preparation\n"
          "heavy = sorted(m for m in ('jax', 'flax', 'grain', 'torch', 'optax') if m in sys.modules)\n"
          "import jaxbert, jaxbert.data, jaxbert.convert\n"
          "names = [jaxbert.SequenceClassifier.__name__, jaxbert.data.prepare.__name__,\n"
          "         jaxbert.convert.save_pretrained.__name__, jaxbert.losses.__name__]\n"
          "print(heavy, names)\n")
  proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                        check=True, env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert proc.stdout.split() == ["[]", "['SequenceClassifier',", "'prepare',",
                                 "'save_pretrained',", "'jaxbert.losses']"]
  with pytest.raises(AttributeError, match="no attribute 'nothing'"):
    import jaxbert  # pylint: disable=import-outside-toplevel
    jaxbert.nothing  # pylint: disable=pointless-statement


def _dealt(tmp_path, mix_chunks, seed, num_docs=120, held=frozenset({3, 50, 97})):
  """preparation._chunks over numbered one-line documents: [(split, index, doc numbers)]."""
  from jaxbert.data import preparation
  path = tmp_path / "numbered.txt"
  if not path.exists():
    path.write_text("\n\n".join(f"document {i} says hello." for i in range(num_docs)) + "\n")
  cfg = tiny_config(str(path), str(tmp_path / "cache"), mix_chunks=mix_chunks)
  number = lambda raw: int(raw[0][0].split()[1])
  return [(split, c, [number(raw) for raw in docs])
          for split, c, docs in preparation._chunks(cfg, set(held), 200, seed)]


def test_documents_are_dealt_across_the_corpus_to_mix_chunks_chunks(tmp_path):
  held = {3, 50, 97}
  for window in (1, 4):
    out = _dealt(tmp_path, window, seed=1)
    # Every document lands exactly once, in its own split; chunks are numbered 0.. per split.
    for split in ("train", "eval"):
      mine = [n for s, _, ns in out if s == split for n in ns]
      want = sorted(held) if split == "eval" else sorted(set(range(120)) - held)
      assert sorted(mine) == want
      assert [c for s, c, _ in out if s == split] == list(range(sum(s == split for s, *_ in out)))
    train = [ns for s, _, ns in out if s == "train"]
    if window == 1:   # corpus order: consecutive stretches
      assert [n for ns in train for n in ns] == sorted(set(range(120)) - held)
    else:             # a chunk samples a window of ~4 chunks' stretch of the corpus
      assert all(ns == sorted(ns) for ns in train)
      full = train[:-window]   # the chunks emitted when full, before the final flush
      assert max(max(ns) - min(ns) for ns in full) > 2 * max(map(len, full))
  # The deal is the seed's: the same seed deals alike, another seed otherwise.
  assert _dealt(tmp_path, 4, seed=1) == _dealt(tmp_path, 4, seed=1)
  assert _dealt(tmp_path, 4, seed=1) != _dealt(tmp_path, 4, seed=2)
