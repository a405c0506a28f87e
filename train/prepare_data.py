"""Offline data preparation: `python -m train.prepare_data --config=FILE --out=DIR`.

Takes the training run's --config and --config.data.* overrides and writes the
preparation training reads (jaxbert/data/preparation.py): the tokenizer, sharded
examples and metadata.json. Then train with the same config plus
`--config.data.prepared=DIR`. Without --out it fills the cache entry that
`python -m train.pretrain` with that config would otherwise build itself. A second
run with the same inputs does nothing; bad input stops with one `error:` line.
"""

from __future__ import annotations

import json
import os
import time

from absl import app, flags

from train import cli


def run(config, out: str) -> dict:
  from jaxbert.data import loader, preparation, shards  # pylint: disable=import-outside-toplevel
  data = config.data
  seed = int(data.seed) if data.get("seed", -1) >= 0 else int(config.seed)
  out = os.path.expanduser(out) if out else loader.find_prepared(data, seed)
  existed = os.path.exists(os.path.join(out, shards.METADATA))
  t0 = time.time()
  meta = preparation.prepare_corpus(data, out, seed)
  meta["_state"] = "already prepared" if existed else f"prepared in {time.time() - t0:.1f}s"
  meta["_out"] = out
  return meta


def main(argv):
  del argv
  config = flags.FLAGS.config
  try:
    meta = run(config, flags.FLAGS.out)
  except (ValueError, OSError) as e:
    cli.fail(" ".join(str(e).split()))
  ex = meta["examples"]
  print(json.dumps({"out": meta["_out"], "state": meta["_state"],
                    "documents": meta["documents"], "train_examples_per_copy": ex["train"],
                    "eval_examples": ex["eval"], "shards": len(meta["shards"]["train"]),
                    "vocab_size": meta["tokenizer"]["vocab_size"]}))


if __name__ == "__main__":
  cli.define_flags("default.py")
  flags.DEFINE_string("out", None, "output directory (default: the run's cache entry "
                      "under data.data_dir)")
  app.run(main, flags_parser=cli.parse_flags)
