"""Generate the pickle corpora: benign checkpoints made by the real libraries, and malicious samples covering
the published bypass classes. Shared by the tests and by bench/pickle_peers.py.

Malicious payloads only *name* dangerous callables with harmless arguments; nothing here is ever loaded.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import io
import lzma
import os
import pickle
import struct
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

# -- hand-written opcode streams ----------------------------------------------------------------------------


def _str(s: str) -> bytes:
    raw = s.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _binunicode(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def call_p0(module: str, name: str, arg: str) -> bytes:
    """Protocol 0 text pickle: module.name(arg)."""
    return f"c{module}\n{name}\n(S'{arg}'\ntR.".encode()


def call_p2(module: str, name: str, arg: str) -> bytes:
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + _binunicode(arg) + b"\x85R."


def call_p4(module: str, name: str, arg: str) -> bytes:
    """Protocol 4 STACK_GLOBAL call."""
    return b"\x80\x04" + _str(module) + _str(name) + b"\x93" + _str(arg) + b"\x85R."


def memo_indirection(module: str, name: str, arg: str) -> bytes:
    """STACK_GLOBAL operands put into the memo, then fetched back with GET (scanners reading strings miss it)."""
    return (
        b"\x80\x04" + _str(name) + b"\x94" + b"0" + _str(module) + b"\x94" + b"0"
        + b"h\x01h\x00\x93" + _str(arg) + b"\x85R."
    )  # fmt: skip


def reduce_then_pop(module: str, name: str, arg: str) -> bytes:
    """The call's result is discarded and a benign value is returned instead."""
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + _binunicode(arg) + b"\x85R0}."


def resolve_name_chain(target: str, arg: str) -> bytes:
    """pkgutil.resolve_name('os:system') returns the callable, which is then called (an indirect call)."""
    return (
        b"\x80\x04" + _str("pkgutil") + _str("resolve_name") + b"\x93" + _str(target) + b"\x85R" + _str(arg) + b"\x85R."
    )


def import_module_getattr(module: str, attr: str, arg: str) -> bytes:
    """getattr(importlib.import_module(module), attr)(arg)."""
    imp = _str("importlib") + _str("import_module") + b"\x93" + _str(module) + b"\x85R"
    get = _str("builtins") + _str("getattr") + b"\x93"
    return b"\x80\x04" + get + imp + _str(attr) + b"\x86R" + _str(arg) + b"\x85R."


def inst_opcode(module: str, name: str, arg: str) -> bytes:
    return f"(S'{arg}'\ni{module}\n{name}\n.".encode()


def obj_opcode(module: str, name: str, arg: str) -> bytes:
    return b"\x80\x02(c" + f"{module}\n{name}\n".encode() + _binunicode(arg) + b"o."


def newobj_ex(module: str, name: str, arg: str) -> bytes:
    return b"\x80\x04" + _str(module) + _str(name) + b"\x93" + _str(arg) + b"\x85}\x92."


def build_on_global() -> bytes:
    """BUILD on an imported object: sets attributes on a module-level object (a setstate gadget)."""
    return b"\x80\x04" + _str("collections") + _str("OrderedDict") + b"\x93}" + _str("__reduce__") + b"Nsb."


def ext_opcode() -> bytes:
    """EXT1: the callable comes from copyreg's extension registry, unknowable statically."""
    return b"\x80\x02\x82\x01" + _binunicode("id") + b"\x85R."


def computed_global_name() -> bytes:
    """STACK_GLOBAL whose name is the result of a call: unresolvable."""
    return (
        b"\x80\x04" + _str("os") + _str("builtins") + _str("str") + b"\x93" + _str("system") + b"\x85R\x93"
        + _str("id") + b"\x85R."
    )  # fmt: skip


def benign_then_payload() -> bytes:
    """Two pickles in one stream: a harmless one, then the payload (loaders reading on get it)."""
    return pickle.dumps({"a": 1}, protocol=2) + call_p2("os", "system", "id")


def dotted_dunder() -> bytes:
    """Protocol 4 dotted name reaching through attributes to the builtins."""
    return b"\x80\x04" + _str("collections") + _str("OrderedDict.__init__.__globals__") + b"\x93."


# -- wrappers ---------------------------------------------------------------------------------------------


def torch_like_zip(data_pkl: bytes, prefix: str = "archive", extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", data_pkl)
        z.writestr(f"{prefix}/byteorder", b"little")
        z.writestr(f"{prefix}/version", b"3\n")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def corrupt_crc(zip_bytes: bytes) -> bytes:
    """Flip every CRC (local and central): Python's zipfile refuses to read, torch does not check."""
    out = bytearray(zip_bytes)
    for sig, off in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
        pos = out.find(sig)
        while pos >= 0:
            out[pos + off] ^= 0xFF
            pos = out.find(sig, pos + 4)
    return bytes(out)


def set_flag_bits(zip_bytes: bytes, bits: int) -> bytes:
    """Set general-purpose flag bits (e.g. 'encrypted', 'patched data') that zipfile rejects."""
    out = bytearray(zip_bytes)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = out.find(sig)
        while pos >= 0:
            (flags,) = struct.unpack_from("<H", out, pos + off)
            struct.pack_into("<H", out, pos + off, flags | bits)
            pos = out.find(sig, pos + 4)
    return bytes(out)


def _duplicate_member(first: bytes, second: bytes) -> bytes:
    """Two members named data.pkl: readers disagree on which one counts."""
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as z:
        warnings.simplefilter("ignore")
        z.writestr("archive/data.pkl", first)
        z.writestr("archive/data.pkl", second)
        z.writestr("archive/version", b"3\n")
    return buf.getvalue()


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED, zip64: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            with z.open(name, "w", force_zip64=zip64) as f:
                f.write(data)
    return buf.getvalue()


def tar_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def npy_object(payload: bytes) -> bytes:
    """A .npy header for an object array followed by an arbitrary pickle."""
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def seven_zip(name: str, data: bytes) -> bytes:
    import py7zr

    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as z:
        z.writestr(data, name)
    return buf.getvalue()


# -- the corpora ------------------------------------------------------------------------------------------


class _Payload:
    """An object whose pickle calls os.system('id') when loaded (it is only ever pickled here)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("id",))


def _real_library_payloads() -> dict[str, bytes]:
    """Payloads written by the real libraries' own writers: torch.save and joblib.dump."""
    import joblib
    import numpy as np
    import torch

    out = {}
    buf = io.BytesIO()
    torch.save({"weight": torch.zeros(2), "hook": _Payload()}, buf)
    out["torch_save_payload.pt"] = buf.getvalue()
    buf = io.BytesIO()
    torch.save({"weight": torch.zeros(2), "hook": _Payload()}, buf, _use_new_zipfile_serialization=False)
    out["torch_legacy_save_payload.pt"] = buf.getvalue()
    buf = io.BytesIO()
    joblib.dump({"arr": np.arange(4.0), "objs": np.array([1, _Payload()], dtype=object)}, buf)
    out["joblib_object_array_payload.joblib"] = buf.getvalue()
    buf = io.BytesIO()
    np.save(buf, np.array([_Payload()], dtype=object), allow_pickle=True)
    out["np_save_object_payload.npy"] = buf.getvalue()
    return out


def malicious_samples() -> dict[str, bytes]:
    """name -> file bytes; every one must be an error."""
    sysc = call_p2("os", "system", "id")
    s: dict[str, bytes] = {
        **_real_library_payloads(),
        "p0_os_system.pkl": call_p0("os", "system", "id"),
        "p0_posix_system.pkl": call_p0("posix", "system", "id"),
        "p1_nt_system.pkl": b"cnt\nsystem\n(U\x02idtR.",
        "p1_broken_after_import.pkl": b"cnt\nsystem\n(U\x02idtRR.",
        "p2_subprocess.pkl": call_p2("subprocess", "check_output", "id"),
        "p4_builtins_eval.pkl": call_p4("builtins", "eval", "1+1"),
        "p4_builtin_py2_exec.pkl": call_p4("__builtin__", "exec", "pass"),
        "p5_builtins_compile.pkl": b"\x80\x05" + call_p4("builtins", "compile", "1")[2:],
        "p4_runpy.pkl": call_p4("runpy", "run_path", "x.py"),
        "p4_pty_spawn.pkl": call_p4("pty", "spawn", "sh"),
        "p4_socket.pkl": call_p4("socket", "create_connection", "localhost"),
        "p4_shutil_rmtree.pkl": call_p4("shutil", "rmtree", "/nonexistent"),
        "p4_webbrowser.pkl": call_p4("webbrowser", "open", "http://localhost"),
        "p4_ctypes.pkl": call_p4("ctypes", "CDLL", "libc.so.6"),
        "p4_pip_main.pkl": call_p4("pip", "main", "install"),
        "p4_operator_attrgetter.pkl": call_p4("operator", "attrgetter", "system"),
        "p4_operator_methodcaller.pkl": call_p4("operator", "methodcaller", "system"),
        "p4_codecs_decode.pkl": call_p4("codecs", "decode", "x"),
        "p4_marshal_loads.pkl": call_p4("marshal", "loads", "x"),
        "p4_types_functiontype.pkl": call_p4("types", "FunctionType", "x"),
        "p4_submodule_numpy_testing.pkl": call_p4("numpy.testing._private.utils", "runstring", "1"),
        "p4_submodule_torch_inductor.pkl": call_p4("torch._inductor.codecache", "compile_file", "x"),
        "p4_submodule_asyncio.pkl": call_p4("asyncio.unix_events", "_UnixSubprocessTransport", "x"),
        "p4_unknown_callable.pkl": call_p4("somepkg.helpers", "do_things", "x"),
        "p4_pkgutil_resolve_name.pkl": resolve_name_chain("os:system", "id"),
        "p4_importlib_import_module.pkl": import_module_getattr("os", "system", "id"),
        "p4_memo_indirection.pkl": memo_indirection("os", "system", "id"),
        "p2_reduce_then_pop.pkl": reduce_then_pop("os", "system", "id"),
        "p2_payload_then_garbage.pkl": sysc + os.urandom(64),
        # text protocol 0, longer than aibom's 8 KiB sniff window, broken after the payload ran; any name
        "p0_long_broken_notes.txt": b"cos\nsystem\n(S'id'\ntR0(" + b"N" * 9000 + b"1\xff",
        "p2_benign_then_payload.pkl": benign_then_payload(),
        "p0_inst_opcode.pkl": inst_opcode("os", "system", "id"),
        "p2_obj_opcode.pkl": obj_opcode("os", "system", "id"),
        "p4_newobj_ex.pkl": newobj_ex("subprocess", "Popen", "id"),
        "p4_build_on_global.pkl": build_on_global(),
        "p2_ext_opcode.pkl": ext_opcode(),
        "p4_computed_global_name.pkl": computed_global_name(),
        "p4_dotted_dunder.pkl": dotted_dunder(),
        "p2_reconstructor_base_init.pkl": (
            b"\x80\x02ccopyreg\n_reconstructor\ncbuiltins\nobject\ncsomepkg.runner\nRunner\n"
            + _binunicode("id")
            + b"\x87R."
        ),
        "p2_rebuild_from_type_func.pkl": (
            b"\x80\x02ctorch._utils\n_rebuild_from_type_v2\n(csomepkg.hooks\nrun\nN)}tR."
        ),
        # extension tricks: the content is a pickle whatever the name says
        "ext_model.safetensors": sysc,
        "ext_config.json": call_p0("os", "system", "id"),
        "ext_readme.txt": call_p0("os", "system", "id"),
        "ext_weights.npy": sysc,
        "ext_image.png": sysc,
        # torch-style zips
        "torch_zip_payload.pt": torch_like_zip(sysc),
        "torch_zip_any_prefix.bin": torch_like_zip(sysc, prefix="some/deep/prefix"),
        "torch_zip_bad_crc.pt": corrupt_crc(torch_like_zip(sysc)),
        "torch_zip_flag_bits.pt": set_flag_bits(torch_like_zip(sysc), 0x0001 | 0x0020),
        "torch_zip_hidden_member.pt": torch_like_zip(pickle.dumps({}, protocol=2), extra={"archive/x.bin": sysc}),
        "torch_zip_duplicate_name.pt": _duplicate_member(pickle.dumps({}, protocol=2), sysc),
        "torch_zip_renamed_in_directory.pt": torch_like_zip(sysc).replace(b"archive/data.pkl", b"archive/data.txt", 1),
        "pickle_load_from_bytes_payload.pkl": (
            b"\x80\x02ctorch.storage\n_load_from_bytes\nB"
            + len(torch_like_zip(sysc)).to_bytes(4, "little")
            + torch_like_zip(sysc)
            + b"\x85R."
        ),
        "torch_zip64.pt": zip_of({"archive/data.pkl": sysc, "archive/version": b"3\n"}, zipfile.ZIP_STORED, True),
        "torch_legacy_payload.pt": (
            b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19." + pickle.dumps(1001, protocol=2) + sysc
        ),
        "torch_legacy_tar.tar": tar_of(
            {"sys_info": pickle.dumps({}, 2), "pickle": sysc, "storages": b"\x80\x02K\x00."}
        ),
        # compression and nesting
        "gzip_wrapped.pkl.gz": gzip.compress(sysc),
        "joblib_zlib.joblib": zlib.compress(sysc),
        "joblib_bz2.joblib": bz2.compress(sysc),
        "joblib_xz.joblib": lzma.compress(sysc),
        "joblib_lzma.joblib": lzma.compress(sysc, format=lzma.FORMAT_ALONE),
        "seven_zip.7z": seven_zip("data.pkl", sysc),
        "nested_zip_in_zip.zip": zip_of({"inner.zip": zip_of({"data.pkl": sysc})}),
        "nested_tar_in_gzip.tar.gz": gzip.compress(tar_of({"model/weights.bin": sysc})),
        "npy_object_payload.npy": npy_object(sysc),
        "npz_object_payload.npz": zip_of({"arr_0.npy": npy_object(sysc)}),
        "npz_stored_payload.npz": zip_of({"x.npy": npy_object(call_p4("builtins", "exec", "1"))}, zipfile.ZIP_STORED),
    }
    return s


def benign_makers() -> dict[str, Callable[[Path], None]]:
    """name -> function writing a real artifact with the real library (imports happen inside)."""

    def torch_sd(path: Path, **kw: object) -> None:
        import torch

        torch.manual_seed(0)
        torch.save(_net().state_dict(), path, **kw)

    def torch_whole(path: Path, **kw: object) -> None:
        import torch

        torch.save(_net(), path, **kw)

    def torch_ckpt(path: Path) -> None:
        import torch

        net = _net()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        net(torch.zeros(2, 3)).sum().backward()
        opt.step()
        args = argparse.Namespace(lr=1e-3, epochs=3, out=Path("runs/1"))
        torch.save(
            {"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "loss": 0.5, "args": args}, path
        )

    def torch_dtypes(path: Path) -> None:
        import torch

        tensors = {
            "bf16": torch.zeros(4, 4, dtype=torch.bfloat16),
            "f16": torch.zeros(8, dtype=torch.float16),
            "i8": torch.zeros(3, dtype=torch.int8),
            "f8": torch.zeros(5, dtype=torch.float8_e4m3fn),
        }
        torch.save(tensors, path)

    def torchscript(path: Path) -> None:
        import torch

        torch.jit.save(torch.jit.script(_net()), str(path))

    def np_save(path: Path, arr_kind: str) -> None:
        import numpy as np

        if arr_kind == "float":
            np.save(path, np.arange(12, dtype=np.float32).reshape(3, 4))
        else:
            np.save(path, np.array([1, "two", None, {"k": 3.5}], dtype=object), allow_pickle=True)

    def np_savez(path: Path, compressed: bool) -> None:
        import numpy as np

        fn = np.savez_compressed if compressed else np.savez
        fn(path, w=np.ones((2, 3)), b=np.zeros(3, dtype=np.int64), o=np.array([None, "x"], dtype=object))

    def sk_pickle(path: Path, protocol: int) -> None:
        path.write_bytes(pickle.dumps(_estimators(), protocol=protocol))

    def sk_joblib(path: Path, compress: object) -> None:
        import joblib

        joblib.dump(_estimators(), path, compress=compress)

    makers: dict[str, Callable[[Path], None]] = {
        "torch_state_dict.pt": torch_sd,
        "torch_whole_module.pt": torch_whole,
        "torch_training_ckpt.pt": torch_ckpt,
        "torch_dtypes.pt": torch_dtypes,
        "torch_legacy_state_dict.pt": lambda p: torch_sd(p, _use_new_zipfile_serialization=False),
        "torch_legacy_whole_module.pt": lambda p: torch_whole(p, _use_new_zipfile_serialization=False),
        "torchscript.pt": torchscript,
        "torch_tensors_plain_pickle.pkl": lambda p: p.write_bytes(pickle.dumps(_net().state_dict())),
        "numpy_float.npy": lambda p: np_save(p, "float"),
        "numpy_object.npy": lambda p: np_save(p, "object"),
        "numpy_arrays.npz": lambda p: np_savez(p, False),
        "numpy_arrays_compressed.npz": lambda p: np_savez(p, True),
        "joblib_plain.joblib": lambda p: sk_joblib(p, 0),
        "joblib_zlib3.joblib": lambda p: sk_joblib(p, 3),
        "joblib_gzip.joblib": lambda p: sk_joblib(p, ("gzip", 3)),
        "joblib_bz2.joblib": lambda p: sk_joblib(p, ("bz2", 3)),
        "joblib_xz.joblib": lambda p: sk_joblib(p, ("xz", 3)),
        "joblib_lzma.joblib": lambda p: sk_joblib(p, ("lzma", 3)),
    }
    for proto in range(0, 6):
        makers[f"sklearn_p{proto}.pkl"] = lambda p, proto=proto: sk_pickle(p, proto)
    return makers


def _net():  # type: ignore[no-untyped-def]
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(4, 2)
    )


def _estimators() -> dict[str, object]:
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.RandomState(0)
    X = rng.rand(40, 3)
    y = (X[:, 0] > 0.5).astype(int)
    return {
        "pipeline": Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y),
        "forest": RandomForestClassifier(n_estimators=3, max_depth=3, random_state=rng).fit(X, y),
        "tree": DecisionTreeRegressor(max_depth=2).fit(X, X[:, 1]),
        "rng": np.random.default_rng(0),
    }


def write_corpora(root: Path) -> tuple[list[Path], list[Path]]:
    """Write both corpora under root/benign and root/malicious; returns (benign, malicious) paths."""
    (root / "benign").mkdir(parents=True, exist_ok=True)
    (root / "malicious").mkdir(parents=True, exist_ok=True)
    benign = []
    for name, make in benign_makers().items():
        path = root / "benign" / name
        make(path)
        benign.append(path)
    malicious = []
    for name, data in malicious_samples().items():
        path = root / "malicious" / name
        path.write_bytes(data)
        malicious.append(path)
    return benign, malicious


def scan_bytes(data: bytes, name: str) -> tuple[str, Any, float]:
    """Identify and scan one file the way the pipeline does (no hashing): (format, ScanOutput, seconds)."""
    from aibom.scanners import ScanOutput, identify
    from aibom.sniff import Probe

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        probe, _ = Probe.from_file(name, path, tmp)
        t0 = time.perf_counter()
        scanner, fmt = identify(probe)
        out = ScanOutput()
        scanner.scan(probe, fmt, out)
        return fmt, out, time.perf_counter() - t0
