"""Parameter counts of every preset equal transformers' num_parameters() for the same
configuration (BertForPreTraining / AlbertForPreTraining / DistilBertForMaskedLM),
with nothing allocated: jax.eval_shape on our side, the meta device on theirs."""

import pytest

import jaxbert
from jaxbert.convert import config_to_hf, count_params, family_of
from jaxbert.convert.hf_config import ARCHITECTURES

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

COUNTS = {}


def hf_count(cfg) -> int:
  family = family_of(cfg)
  architecture = ARCHITECTURES[(family, jaxbert.models.heads_of(jaxbert.PretrainingModel(cfg)))]
  hf = config_to_hf(cfg, family, architecture)
  config = transformers.AutoConfig.for_model(**hf)
  with torch.device("meta"):
    model = getattr(transformers, architecture)(config)
  return model.num_parameters()


@pytest.mark.parametrize("preset", list(jaxbert.PRESETS))
def test_preset_parameter_count(preset):
  cfg = jaxbert.PRESETS[preset]
  ours = count_params(cfg)
  COUNTS[preset] = ours
  assert ours == hf_count(cfg), preset


def test_readme_table_states_these_counts():
  """The README's preset table (last column) is what count_params gives (run with -s to
  see the rows)."""
  import pathlib
  readme = pathlib.Path(__file__).parents[2] / "README.md"
  stated = {}
  for line in readme.read_text().splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) > 2 and cells[0] in jaxbert.PRESETS:
      stated[cells[0]] = int(cells[-1].replace(",", ""))
  assert set(stated) == set(jaxbert.PRESETS), sorted(set(jaxbert.PRESETS) ^ set(stated))
  for preset in jaxbert.PRESETS:
    count = COUNTS.get(preset) or count_params(jaxbert.PRESETS[preset])
    print(f"| {preset} | {count:,} |")
    assert stated[preset] == count, preset
