"""Keras `.keras` archives and HDF5 (`.h5`) models saved by real Keras 3 (torch backend) and h5py."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import pytest
from direct_scan import is_unreadable, mutate, of_category, only_artifact, scan_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aibom.inventory import Category, Kind, Severity

from conftest import component_at, findings_of, prop, scan_json

# Run in a child process: Keras picks its backend at import, and importing torch costs seconds once.
MAKE_MODELS = r"""
import sys
import keras

out = sys.argv[1]

@keras.saving.register_keras_serializable(package="evil")
class Custom(keras.layers.Layer):
    def call(self, x):
        return x

def plain():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d1"), keras.layers.Dense(2, name="d2")])

def with_lambda():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d1"),
                             keras.layers.Lambda(lambda x: x * 2, name="lam")])

def with_custom():
    return keras.Sequential([keras.Input((4,)), Custom(name="cust")])

for name, make in (("plain", plain), ("lambda", with_lambda), ("custom", with_custom)):
    model = make()
    model.save(f"{out}/{name}.keras")
    model.save(f"{out}/{name}.h5")
print(keras.__version__)
"""


@pytest.fixture(scope="session")
def keras_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("keras-models")
    proc = subprocess.run(
        [sys.executable, "-c", MAKE_MODELS, str(folder)],
        env={**os.environ, "KERAS_BACKEND": "torch"},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return folder, proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_plain_model(keras_models: tuple[Path, str], ext: str) -> None:
    folder, version = keras_models
    fmt, out = scan_file(folder / f"plain{ext}")
    assert fmt == ("keras" if ext == ".keras" else "hdf5")
    a = only_artifact(out)
    assert a.kind is Kind.MODEL and a.name == "plain"
    assert a.model is not None and a.model.architecture == "Sequential"
    assert a.model.properties == {"cdx:ai-ml:model:layer:count": "3"}
    assert a.properties["aibom:keras:layers"] == "Dense=2,InputLayer=1"
    assert a.properties["aibom:keras:keras_version"] == version
    assert out.findings == []
    if ext == ".keras":
        assert a.properties["aibom:keras:weights"] == "model.weights.h5"
    else:
        assert a.properties["aibom:keras:backend"] == "torch"
        assert a.properties["aibom:hdf5:superblock_offset"] == "0"


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_lambda_layer_is_unsafe(keras_models: tuple[Path, str], ext: str) -> None:
    _, out = scan_file(keras_models[0] / f"lambda{ext}")
    (finding,) = of_category(out, Category.UNSAFE_CODE)
    assert finding.severity is Severity.ERROR
    assert "Lambda 'lam'" in finding.message


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_custom_module_is_unsafe(keras_models: tuple[Path, str], ext: str) -> None:
    _, out = scan_file(keras_models[0] / f"custom{ext}")
    (finding,) = of_category(out, Category.UNSAFE_CODE)
    assert finding.severity is Severity.ERROR
    # Keras 3 writes a registered class as module null + registered_name "evil>Custom".
    assert "'cust'" in finding.message and "'evil>Custom'" in finding.message


def test_custom_module_import_is_unsafe(tmp_path: Path) -> None:
    config = {"module": "keras", "class_name": "Functional", "config": {"layers": [
        {"module": "os", "class_name": "system", "config": {"name": "x"}, "registered_name": None},
    ]}}  # fmt: skip
    _, out = scan_file(_keras_zip(tmp_path / "m.keras", json.dumps(config).encode()))
    (finding,) = of_category(out, Category.UNSAFE_CODE)
    assert "non-Keras module 'os'" in finding.message


def test_in_bom(keras_models: tuple[Path, str]) -> None:
    bom = scan_json(keras_models[0])
    comp = component_at(bom, "plain.keras")
    assert comp["type"] == "machine-learning-model"
    assert comp["modelCard"]["modelParameters"]["modelArchitecture"] == "Sequential"
    assert prop(comp, "aibom:keras:layers") == "Dense=2,InputLayer=1"
    rules = sorted((f["location"], f["rule"]) for f in findings_of(bom))
    assert rules == [
        ("custom.h5", "keras-code-on-load"),
        ("custom.keras", "keras-code-on-load"),
        ("lambda.h5", "keras-code-on-load"),
        ("lambda.keras", "keras-code-on-load"),
    ]


def keras_like_h5(path: Path, config: dict, **kwargs: object) -> Path:
    """An HDF5 file with the root attributes Keras' legacy HDF5 saver sets."""
    with h5py.File(path, "w", **kwargs) as f:  # type: ignore[arg-type]
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")  # Keras 2 stores bytes (fixed-length)
        f.create_group("model_weights").create_dataset("w", data=[1.0, 2.0])
    return path


LAMBDA_CONFIG = {
    "class_name": "Functional",
    "config": {"name": "m", "layers": [{"class_name": "Lambda", "config": {"name": "lam", "function": ["x"]}}]},
}


@pytest.mark.parametrize("userblock", [0, 512, 4096])
def test_h5_user_block_and_fixed_strings(tmp_path: Path, userblock: int) -> None:
    kwargs = {"userblock_size": userblock} if userblock else {}
    path = keras_like_h5(tmp_path / "m.h5", LAMBDA_CONFIG, **kwargs)
    fmt, out = scan_file(path)
    assert fmt == "hdf5"
    a = only_artifact(out)
    assert a.properties["aibom:hdf5:superblock_offset"] == str(userblock)
    assert a.properties["aibom:keras:keras_version"] == "2.15.0"
    assert a.properties["aibom:keras:backend"] == "tensorflow"
    assert len(of_category(out, Category.UNSAFE_CODE)) == 1


def test_h5_latest_format(tmp_path: Path) -> None:
    path = keras_like_h5(tmp_path / "m.h5", LAMBDA_CONFIG, libver="latest")
    _, out = scan_file(path)
    assert only_artifact(out).properties["aibom:hdf5:superblock_version"] == "3"
    assert len(of_category(out, Category.UNSAFE_CODE)) == 1


def test_plain_hdf5_is_an_opaque_file(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "data.hdf5", "w") as f:
        f.attrs["title"] = "measurements"
        f.create_dataset("x", data=list(range(10)))
    _, out = scan_file(tmp_path / "data.hdf5")
    a = only_artifact(out)
    assert a.kind is Kind.FILE and a.format == "hdf5"
    assert out.findings == []


def test_dense_attribute_storage_is_unreadable(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "dense.h5", "w", libver="latest") as f:
        for i in range(20):  # beyond 8 attributes the library moves them to dense storage
            f.attrs[f"a{i}"] = "x"
    _, out = scan_file(tmp_path / "dense.h5")
    assert is_unreadable(out)


def test_continuation_loop(keras_models: tuple[Path, str], tmp_path: Path) -> None:
    data = bytearray((keras_models[0] / "plain.h5").read_bytes())
    # The root object header (v1) starts with a continuation message; point it at itself.
    root = int.from_bytes(data[64:72], "little")
    assert data[root + 16 : root + 18] == b"\x10\x00"
    data[root + 24 : root + 32] = (root + 16).to_bytes(8, "little")
    data[root + 32 : root + 40] = (24).to_bytes(8, "little")
    (tmp_path / "loop.h5").write_bytes(bytes(data))
    _, out = scan_file(tmp_path / "loop.h5")
    assert is_unreadable(out)


def _keras_zip(path: Path, config: bytes, compress: int = zipfile.ZIP_DEFLATED) -> Path:
    """A `.keras` archive laid out as Keras 3 writes it (metadata.json, config.json, weights)."""
    with zipfile.ZipFile(path, "w", compress) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1", "date_saved": "2026-01-01@00:00:00"}))
        z.writestr("config.json", config)
        z.writestr("model.weights.h5", b"")
    return path


@pytest.mark.parametrize(
    ("config", "why"),
    [
        (b"\0" * (80 << 20), "decompresses to more than"),
        (b"[" * 200_000 + b"]" * 200_000, "not valid JSON"),
        (b'{"config": {"a": ' + b"[" * 30 + b"]" * 30 + b"}}", ""),  # deep but within the limit
        (b'{"class_name": ' + b'{"config": ' * 70 + b"1" + b"}" * 70 + b"}", "nested deeper"),
    ],
)
def test_hostile_keras_configs(tmp_path: Path, config: bytes, why: str) -> None:
    _, out = scan_file(_keras_zip(tmp_path / "m.keras", config))
    if why:
        assert is_unreadable(out)
        assert why in out.findings[0].message
    else:
        assert only_artifact(out).kind is Kind.MODEL


def test_truncated_keras_archive(keras_models: tuple[Path, str], tmp_path: Path) -> None:
    data = (keras_models[0] / "lambda.keras").read_bytes()
    for cut in range(4, len(data), max(1, len(data) // 300)):
        (tmp_path / "cut.keras").write_bytes(data[:cut])
        fmt, out = scan_file(tmp_path / "cut.keras")
        assert fmt == "keras"
        assert is_unreadable(out), cut


def test_truncated_h5(keras_models: tuple[Path, str], tmp_path: Path) -> None:
    data = (keras_models[0] / "lambda.h5").read_bytes()
    for cut in range(8, len(data), max(1, len(data) // 300)):
        (tmp_path / "cut.h5").write_bytes(data[:cut])
        fmt, out = scan_file(tmp_path / "cut.h5")
        assert fmt == "hdf5"
        # A cut before the attributes is unreadable; after them the Lambda is still found.
        assert is_unreadable(out) or of_category(out, Category.UNSAFE_CODE), cut


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), ext=st.sampled_from([".keras", ".h5"]))
def test_mutations_never_escape(keras_models: tuple[Path, str], tmp_path: Path, data: st.DataObject, ext: str) -> None:
    path = tmp_path / f"mut{ext}"
    path.write_bytes(mutate(data, (keras_models[0] / f"lambda{ext}").read_bytes()))
    fmt, out = scan_file(path)
    if fmt in ("keras", "hdf5"):
        assert is_unreadable(out) or only_artifact(out).kind in (Kind.MODEL, Kind.FILE)


def test_stored_members_and_bomb_ratio(tmp_path: Path) -> None:
    config = json.dumps(LAMBDA_CONFIG).encode()
    _, out = scan_file(_keras_zip(tmp_path / "stored.keras", config, zipfile.ZIP_STORED))
    assert len(of_category(out, Category.UNSAFE_CODE)) == 1
    renamed = _keras_zip(tmp_path / "renamed.bin", config)  # identified by its layout, not its name
    fmt, out = scan_file(renamed)
    assert fmt == "keras" and len(of_category(out, Category.UNSAFE_CODE)) == 1
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("config.json", config)  # any zip that merely starts with a config.json is not Keras
    (tmp_path / "other.zip").write_bytes(buf.getvalue())
    assert scan_file(tmp_path / "other.zip")[0] == "zip"


def test_unexpected_members_are_listed(tmp_path: Path) -> None:
    path = _keras_zip(tmp_path / "m.keras", json.dumps({"class_name": "Sequential", "config": {}}).encode())
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("assets/vocab.txt", "a")
        z.writestr("extra/payload.pkl", b"\x80\x04N.")
    _, out = scan_file(path)
    assert only_artifact(out).properties["aibom:keras:other_members"] == '["extra/payload.pkl"]'
