"""Write the seed corpus for the fuzz harness: valid files made by the real libraries.

    python tests/fuzz/make_corpus.py OUT_DIR [TARGET ...]

writes OUT_DIR/TARGET/NAME for every target (or the named ones; `all` needs every family). Each seed is a fuzz input:
one byte choosing the file name (see targets.py), then the file's bytes. The corpus is generated,
never committed; the generators are the test suite's own fixtures.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from targets import TARGETS, join_input  # noqa: E402

Seeds = dict[str, bytes]  # file name (one of the target's names) -> content


def _zip(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _tar(files: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def pickle_seeds() -> list[tuple[str, bytes]]:
    from test_pickle_hostile_files import FIXTURES

    value = {"a": [1, 2.5, "x", b"y", None, True], "t": (1, 2), "s": {3}, "f": frozenset({4})}
    out = [("data.pkl", pickle.dumps(value, protocol=p)) for p in range(6)]
    out += [("model.joblib", FIXTURES[n]) for n in ("plain.joblib", "zlib.joblib")]
    out.append(("weights.bin", FIXTURES["legacy.pt"]))
    return out


def torch_seeds() -> list[tuple[str, bytes]]:
    from test_pickle_hostile_files import FIXTURES

    return [("model.pt", FIXTURES["model.pt"]), ("pytorch_model.bin", FIXTURES["legacy.pt"])]


def safetensors_seeds() -> list[tuple[str, bytes]]:
    import numpy as np
    from safetensors.numpy import save

    tensors = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, dtype=np.float16)}
    return [
        ("model.safetensors", save(tensors)),
        ("model.safetensors", save(tensors, metadata={"format": "pt", "license": "mit"})),
    ]


def gguf_seeds() -> list[tuple[str, bytes]]:
    from test_coreml_llamafile import make_llamafile
    from test_gguf import write_gguf

    with tempfile.TemporaryDirectory() as tmp:
        gguf = write_gguf(Path(tmp) / "t.gguf").read_bytes()
        llamafile = make_llamafile(Path(tmp) / "t.llamafile", Path(tmp)).read_bytes()
    return [("model.gguf", gguf), ("model.llamafile", llamafile)]


def onnx_seeds() -> list[tuple[str, bytes]]:
    from test_onnx import make_model

    return [("model.onnx", make_model().SerializeToString())]


def tflite_seeds() -> list[tuple[str, bytes]]:
    from test_tflite_savedmodel import build_tflite

    return [("model.tflite", build_tflite())]


def coreml_seeds() -> list[tuple[str, bytes]]:
    from test_coreml_llamafile import make_spec

    return [("model.mlmodel", make_spec().SerializeToString()), ("model.mlmodel", make_spec(True).SerializeToString())]


def savedmodel_seeds() -> list[tuple[str, bytes]]:
    from test_tflite_savedmodel import build_saved_model

    return [("saved_model.pb", build_saved_model(200))]


def hdf5_seeds() -> list[tuple[str, bytes]]:
    import h5py
    import numpy as np

    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense"}]}}
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, version in enumerate(("earliest", "latest")):
            path = Path(tmp) / f"m{i}.h5"
            with h5py.File(path, "w", libver=version) as f:
                f.attrs["model_config"] = json.dumps(config)
                f.attrs["keras_version"] = "3.5.0"
                f.attrs["backend"] = "torch"
                f.create_group("model_weights").create_dataset("d1", data=np.arange(12.0).reshape(3, 4))
            out.append(("model.h5", path.read_bytes()))
    out.append(("model.keras", _zip({"metadata.json": b'{"keras_version": "3.5.0"}', "config.json": b"{}"})))
    return out


def numpy_seeds() -> list[tuple[str, bytes]]:
    import numpy as np

    out = []
    for arr in (np.arange(10, dtype=np.int64), np.zeros((2, 3), dtype=">f4"), np.array([1, None], dtype=object)):
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=True)
        out.append(("a.npy", buf.getvalue()))
    buf = io.BytesIO()
    np.savez_compressed(buf, a=np.arange(5), b=np.ones(2))
    out.append(("a.npz", buf.getvalue()))
    return out


def container_seeds() -> list[tuple[str, bytes]]:
    from test_pickle_hostile_files import FIXTURES

    inner = pickle.dumps({"x": 1}, protocol=2)
    out = [
        ("data.zip", _zip({"a.pkl": inner, "b.txt": b"hello"})),
        ("data.zip", _zip({"inner.zip": _zip({"c.pkl": inner})}, zipfile.ZIP_STORED)),
        ("data.tar", _tar({"a.pkl": inner, "d/b.txt": b"x"})),
        ("data.tar.gz", _tar({"a.pkl": inner}, "w:gz")),
        ("data.pkl.gz", gzip.compress(inner)),
        ("data.tar", FIXTURES["payload.tar"]),
    ]
    try:
        import py7zr

        buf = io.BytesIO()
        with py7zr.SevenZipFile(buf, "w") as z:
            z.writestr(inner, "a.pkl")
        out.append(("data.7z", buf.getvalue()))
    except ImportError:
        pass
    return out


def _datasets(names: dict[str, str]) -> list[tuple[str, bytes]]:
    from test_datasets import VALID

    return [(target_name, VALID[source]) for source, target_name in names.items()]


def parquet_seeds() -> list[tuple[str, bytes]]:
    return _datasets({"a.parquet": "a.parquet"})


def arrow_seeds() -> list[tuple[str, bytes]]:
    from test_datasets import VALID

    return [("a.arrow", VALID["a.arrow"]), ("a.arrow", VALID["s.arrow"])]


def tfrecord_seeds() -> list[tuple[str, bytes]]:
    from test_datasets import _tfrecord_bytes

    with tempfile.TemporaryDirectory() as tmp:
        return [("t.tfrecord", _tfrecord_bytes(Path(tmp)))]


def tabular_seeds() -> list[tuple[str, bytes]]:
    return [*_datasets({"a.csv": "a.csv", "a.jsonl": "a.jsonl"}), ("a.json", b'[{"a": 1, "b": "x"}, {"a": 2}]')]


CARD = """---
license: apache-2.0
license_name: my-license
language: [en, fr]
tags: [text-generation, llama]
datasets: [org/data1, org/data2]
base_model: org/base
model-index:
- name: m
  results: []
---
# Model

Trained on [data](https://huggingface.co/datasets/org/data1).
"""


def modelcard_seeds() -> list[tuple[str, bytes]]:
    from test_datasets import CARD as DATASET_CARD

    return [("README.md", CARD.encode()), ("README.md", DATASET_CARD.encode())]


def hfconfig_seeds() -> list[tuple[str, bytes]]:
    from test_datasets import VALID

    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2}
    return [
        ("config.json", json.dumps(config).encode()),
        ("tokenizer_config.json", b'{"chat_template": "{{ messages }}", "model_max_length": 512}'),
        ("dataset_info.json", VALID["dataset_info.json"]),
        ("croissant.json", VALID["croissant.json"]),
        ("x.dvc", VALID["x.dvc"]),
    ]


def requirements_seeds() -> list[tuple[str, bytes]]:
    from test_dependencies import VALID

    reqs = b"torch==2.13.0\nnumpy>=1.26 ; python_version >= '3.9'\n-r other.txt\ngit+https://x/y.git#egg=z\nfoo[bar]~=1.0\n"
    return [
        ("requirements.txt", reqs),
        *((name, VALID[name].encode()) for name in ("setup.cfg", "pyproject.toml", "environment.yml")),
    ]


def lockfile_seeds() -> list[tuple[str, bytes]]:
    from test_dependencies import VALID

    return [(name, VALID[name].encode()) for name in ("poetry.lock", "uv.lock", "pdm.lock", "Pipfile.lock")]


def bom_seeds() -> list[tuple[str, bytes]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        (tree / "model.safetensors").write_bytes(safetensors_seeds()[1][1])
        (tree / "README.md").write_text(CARD)
        (tree / "requirements.txt").write_text("numpy==1.26.0\n")
        for fmt, name in (("cyclonedx-json", "bom.cdx.json"), ("cyclonedx-xml", "bom.cdx.xml")):
            target = Path(tmp) / name
            cmd = [sys.executable, "-m", "aibom", "scan", str(tree), "-o", str(target), "--format", fmt]
            subprocess.run(cmd, check=True, capture_output=True, timeout=120)
            out.append((name, target.read_bytes()))
    return out


GENERATORS: dict[str, Callable[[], list[tuple[str, bytes]]]] = {
    "pickle": pickle_seeds,
    "torch": torch_seeds,
    "safetensors": safetensors_seeds,
    "gguf": gguf_seeds,
    "onnx": onnx_seeds,
    "tflite": tflite_seeds,
    "coreml": coreml_seeds,
    "savedmodel": savedmodel_seeds,
    "hdf5": hdf5_seeds,
    "numpy": numpy_seeds,
    "containers": container_seeds,
    "parquet": parquet_seeds,
    "arrow": arrow_seeds,
    "tfrecord": tfrecord_seeds,
    "tabular": tabular_seeds,
    "modelcard": modelcard_seeds,
    "hfconfig": hfconfig_seeds,
    "requirements": requirements_seeds,
    "lockfiles": lockfile_seeds,
    "bom": bom_seeds,
}
assert set(GENERATORS) == set(TARGETS) - {"all"}


def write_corpus(out: Path, targets: list[str]) -> dict[str, int]:
    """Write the seeds of `targets` under `out`; return the number of seeds per target."""
    counts = {}
    every = []
    for target in targets:
        if target == "all":
            continue
        folder = out / target
        folder.mkdir(parents=True, exist_ok=True)
        seeds = GENERATORS[target]()
        for i, (name, content) in enumerate(seeds):
            (folder / f"seed-{i:02d}-{name}").write_bytes(join_input(target, name, content))
            every.append((f"{target}-{i:02d}-{name}", name, content))
        counts[target] = len(seeds)
    if "all" in targets:
        (out / "all").mkdir(parents=True, exist_ok=True)
        for label, name, content in every:
            (out / "all" / label).write_bytes(join_input("all", name, content))
        counts["all"] = len(every)
    return counts


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    targets = argv[1:] or sorted(TARGETS)
    if "all" in targets:
        targets = sorted(TARGETS)  # `all` is made of every family's seeds
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        print(f"unknown target(s): {', '.join(unknown)}; known: {', '.join(sorted(TARGETS))}", file=sys.stderr)
        return 2
    for target, n in write_corpus(Path(argv[0]), targets).items():
        print(f"{target}: {n} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
