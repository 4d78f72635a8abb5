"""Rebuild the example model weights (needs numpy and safetensors). Values are seeded; the header
key order is chosen by the safetensors library, so the file hash may change."""

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).parent / "sentiment-demo" / "train.py"), run_name="__main__")
