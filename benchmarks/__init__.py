"""Micro-benchmarks of jaxbert against Hugging Face PyTorch and Flax (issue 6).

    python -m benchmarks.run --suite cpu            # see benchmarks/README.md
"""
