"""The fuzz targets: which file names each byte-parser family is fed under (names are only hints).

Shared by `fuzz_parsers.py` (the atheris harness) and `make_corpus.py` (its seed corpus). The first
byte of every fuzz input picks the file name from the target's list; the rest is the file's content.
Target `all` takes every name of every family.
"""

from __future__ import annotations

TARGETS: dict[str, tuple[str, ...]] = {
    "pickle": ("data.pkl", "model.joblib", "weights.bin"),
    "torch": ("model.pt", "pytorch_model.bin"),
    "safetensors": ("model.safetensors",),
    "gguf": ("model.gguf", "model.llamafile"),
    "onnx": ("model.onnx",),
    "tflite": ("model.tflite",),
    "coreml": ("model.mlmodel",),
    "savedmodel": ("saved_model.pb",),
    "hdf5": ("model.h5", "model.keras"),
    "numpy": ("a.npy", "a.npz"),
    "containers": ("data.zip", "data.tar", "data.tar.gz", "data.pkl.gz", "data.7z"),
    "parquet": ("a.parquet",),
    "arrow": ("a.arrow",),
    "tfrecord": ("t.tfrecord",),
    "tabular": ("a.csv", "a.jsonl", "a.json"),
    "modelcard": ("README.md",),
    "hfconfig": ("config.json", "tokenizer_config.json", "dataset_info.json", "croissant.json", "x.dvc"),
    "requirements": ("requirements.txt", "setup.cfg", "pyproject.toml", "environment.yml"),
    "lockfiles": ("poetry.lock", "uv.lock", "pdm.lock", "Pipfile.lock"),
    "bom": ("bom.cdx.json", "bom.cdx.xml"),
}

#: "all": every family in one run (the suite's smoke test uses it: one process, every parser).
TARGETS["all"] = tuple(dict.fromkeys(name for names in list(TARGETS.values()) for name in names))


def split_input(target: str, data: bytes) -> tuple[str, bytes]:
    """(file name, content) of one fuzz input for `target`."""
    names = TARGETS[target]
    if not data:
        return names[0], b""
    return names[data[0] % len(names)], data[1:]


def join_input(target: str, name: str, content: bytes) -> bytes:
    """The fuzz input that `split_input` turns back into (name, content)."""
    return bytes([TARGETS[target].index(name)]) + content
