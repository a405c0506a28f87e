"""Names of a package imported on first use (PEP 562), so that importing the package is cheap.

Why: data preparation's worker processes import `jaxbert.data.preparation`, which would
otherwise import JAX, Flax and grain through `jaxbert/__init__.py` and
`jaxbert/data/__init__.py` (~1.5 CPU-s and ~150 MB per process) for names they never use.

  __getattr__, __dir__ = lazy.attach(__name__, {"Name": "package.module", ...})
"""

from __future__ import annotations

import importlib


def attach(package: str, names: dict[str, str]):
  """(__getattr__, __dir__) for `package`: `names` maps a public name to the module that
  defines it; any other attribute is tried as a submodule (`jaxbert.data`)."""

  def __getattr__(name: str):  # pylint: disable=invalid-name
    if name in names:
      value = getattr(importlib.import_module(names[name]), name)
    else:
      try:
        value = importlib.import_module(f"{package}.{name}")
      except ModuleNotFoundError as e:
        if e.name != f"{package}.{name}":
          raise
        raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
    setattr(importlib.import_module(package), name, value)
    return value

  def __dir__():  # pylint: disable=invalid-name
    return sorted(set(names) | set(vars(importlib.import_module(package))))

  return __getattr__, __dir__
