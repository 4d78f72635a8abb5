"""One realistic hostile tree with everything at once, scanned by the real CLI as an unprivileged user.

Symlink escapes (file and folder, absolute and relative) and loops, a FIFO, a unix socket, a
non-UTF-8 name, 200-deep nesting, zip and gzip bombs, GGUF and safetensors length bombs, a file that
changes while it is hashed and one that disappears before it is read, and permission-denied entries.
The scan must finish in bounded time and memory, write a valid BOM, report every problem where it
is, and never read anything outside the root (an audit hook in the child records every open/listing).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import site
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from aibom.containers import MAX_DECOMPRESSED

from conftest import findings_of, run_aibom

#: Runs in the child: records every path opened or listed, makes `grow.bin` change while it is hashed
#: and `vanish.bin` disappear when aibom first opens it, then runs the real CLI.
CHILD = r"""
import json, os, resource, sys, threading, time
log_path, root = sys.argv[1], os.path.realpath(sys.argv[2])
seen = []
vanished = []
growing = []

stop_growing = threading.Event()

def keep_growing(path):
    # Appends a byte every half millisecond from the first open until the scan ends, so every read
    # of the 16 MiB file (many milliseconds) overlaps a change, however the threads are scheduled.
    with open(path, "ab", buffering=0) as fh:
        while not stop_growing.is_set():
            fh.write(b"x")
            time.sleep(0.0005)

auditing = [True]  # off once the scan is over (the child then reads its own /proc entry)

def hook(event, args):
    if not auditing[0]:
        return
    if event in ("open", "os.listdir", "os.scandir", "os.opendir") and args and isinstance(args[0], (str, bytes)):
        path = os.fsdecode(args[0])
        seen.append([event, os.path.abspath(path)])
        if threading.current_thread().name == "grower":
            return
        name = os.path.basename(path)
        if event == "open" and name == "grow.bin" and not growing:
            growing.append(path)
            threading.Thread(target=keep_growing, args=(path,), name="grower", daemon=True).start()
        elif event == "open" and name == "vanish.bin" and not vanished:
            vanished.append(path)
            try:
                os.unlink(path)
            except OSError as exc:
                vanished.append(str(exc))

from aibom.cli import main
from aibom.scanners import registered

registered()
warm = sys.argv[3]
cache = os.environ["AIBOM_CACHE_DIR"]
os.environ["AIBOM_CACHE_DIR"] = os.path.join(warm, "cache")
try:  # import everything a scan loads lazily while still root (nobody cannot read this Python's stdlib)
    main.main(args=["scan", warm, "-q", "-o", os.path.join(warm, "bom.json")], prog_name="aibom", standalone_mode=False)
except SystemExit:
    pass
os.environ["AIBOM_CACHE_DIR"] = cache
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
sys.addaudithook(hook)
code = 0
try:
    main.main(args=sys.argv[4:], prog_name="aibom", standalone_mode=False)
except SystemExit as exc:
    code = exc.code or 0
except BaseException as exc:
    code = f"{type(exc).__name__}: {exc}"
stop_growing.set()
# the scan's own peak: ru_maxrss is kept across execve, so it would also count the pytest process this
# child was forked from (hundreds of MiB once the whole suite is collected); VmHWM starts again at exec
auditing[0] = False
with open("/proc/self/status") as fh:
    maxrss = next((int(line.split()[1]) for line in fh if line.startswith("VmHWM:")), None)
if maxrss is None:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open(log_path, "w") as fh:
    json.dump({"code": code, "seen": seen, "vanished": vanished, "maxrss_kib": maxrss, "uid": os.getuid()}, fh)
"""

DEPTH = 200
NOBODY = 65534
GGUF_COUNT_BOMB = b"GGUF" + struct.pack("<IQQ", 3, 2**60, 2**60)
GGUF_STRING_BOMB = b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 2**60) + b"general.name"
SAFETENSORS_BOMB = struct.pack("<Q", 2**60) + b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'


def _bomb(size: int, wbits: int, chunk: bytes = b"N" * (1 << 20)) -> bytes:
    """A pickle of `size` NONE opcodes compressed (raw deflate: wbits -15, gzip: 31) about 1000:1."""
    comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
    parts = [comp.compress(b"\x80\x02")]
    parts += [comp.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(comp.flush())
    return b"".join(parts)


def _zip_with_raw_member(name: str, raw_deflate: bytes) -> bytes:
    """A one-member zip whose member is already-deflated data (zipfile would compress it again)."""
    crc = 0  # never checked before the size limit trips
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(raw_deflate), 0xFFFFFFFF, len(name), 0)
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50,
        20,
        20,
        0,
        8,
        0,
        0,
        crc,
        len(raw_deflate),
        0xFFFFFFFF,
        len(name),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    body = local + name.encode() + raw_deflate
    cd = central + name.encode()
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), len(body), 0)
    return body + cd + eocd


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def build(base: Path) -> tuple[Path, Path, socket.socket]:
    """(root, outside folder, the bound socket to close later)."""
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside the root\n")
    (outside / "secret.safetensors").write_bytes(b"never read")
    root = base / "root"
    root.mkdir()
    models = root / "models"
    models.mkdir()
    save_file({"w": np.arange(4, dtype=np.float32)}, str(models / "ok.safetensors"), metadata={"license": "mit"})
    (models / "count-bomb.gguf").write_bytes(GGUF_COUNT_BOMB)
    (models / "string-bomb.gguf").write_bytes(GGUF_STRING_BOMB)
    (models / "header-bomb.safetensors").write_bytes(SAFETENSORS_BOMB)
    # symlink escapes and loops
    (root / "abs-file").symlink_to(outside / "secret.txt")
    (root / "rel-file.safetensors").symlink_to("../outside/secret.safetensors")
    (root / "abs-dir").symlink_to(outside)
    (root / "rel-dir").symlink_to("../outside")
    (root / "etc").symlink_to("/etc")
    (root / "loop").symlink_to(".")
    (root / "loop-a").symlink_to("loop-b")
    (root / "loop-b").symlink_to("loop-a")
    (models / "inside-link.safetensors").symlink_to("ok.safetensors")  # stays inside: still not followed twice
    # special files
    os.mkfifo(root / "fifo")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(root / "sock"))
    (Path(os.fsdecode(bytes(root) + b"/bad-\xff\xfe-name.bin"))).write_bytes(b"\x00\x01\x02")
    deep = root / "deep"
    deep_path = Path(*(["d"] * DEPTH))
    (deep / deep_path).mkdir(parents=True)
    (deep / deep_path / "bottom.bin").write_bytes(b"\x00bottom")
    # compression bombs
    bombs = root / "bombs"
    bombs.mkdir()
    (bombs / "many.zip").write_bytes(_zip({f"m/{i:05d}.txt": b"" for i in range(10_000)}))
    (bombs / "ratio.zip").write_bytes(_zip_with_raw_member("data.pkl", _bomb(600 << 20, -15)))
    (bombs / "nested.zip").write_bytes(_zip({"inner.zip": _zip({"inner2.zip": _zip({"data.pkl": b"\x80\x02N."})})}))
    (bombs / "weights.pkl.gz").write_bytes(_bomb(600 << 20, 31))
    # changing, vanishing (in a folder the unprivileged child may change), forbidden
    changing = root / "changing"
    changing.mkdir()
    # 16 MiB, hashed while it grows. It starts with a byte no pickle starts with: random bytes in a `.bin`
    # (a name PyTorch pickles use) read as a broken pickle about once in a hundred runs
    (changing / "grow.bin").write_bytes(b"\x00" + os.urandom(1024) * (16 << 10))
    (changing / "vanish.bin").write_bytes(b"here at walk time")
    (root / "locked").mkdir(mode=0o700)
    (root / "locked" / "inner.bin").write_bytes(b"\x00")
    (root / "secret.bin").write_bytes(b"\x00\x01")
    for dirpath, _dirs, filenames in os.walk(base):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            if not os.path.islink(os.path.join(dirpath, name)) and name not in ("fifo", "sock"):
                os.chmod(os.path.join(dirpath, name), 0o644)
    for path in (changing, changing / "grow.bin", changing / "vanish.bin"):
        path.chmod(0o777 if path.is_dir() else 0o666)
    (root / "secret.bin").chmod(0o000)
    (root / "locked").chmod(0o700)  # owned by root: nobody cannot list it
    return root, outside, sock


@pytest.fixture(scope="module")
def scan() -> Iterator[dict]:  # type: ignore[type-arg]
    base = Path(tempfile.mkdtemp(prefix="aibom-adversarial-"))  # not under pytest's 0700 folder: nobody reads it
    cache = base / "cache"
    out = base / "out"
    sock = None
    try:
        root, outside, sock = build(base)
        for folder in (cache, out):
            folder.mkdir()
            folder.chmod(0o777)
        log = out / "audit.json"
        bom = out / "bom.cdx.json"
        env = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATE_EPOCH",)}
        env["AIBOM_CACHE_DIR"] = str(cache)
        warm = base / "warm"
        warm.mkdir()
        save_file({"w": np.zeros(2, dtype=np.float32)}, str(warm / "w.safetensors"))
        (warm / "w.pkl").write_bytes(b"\x80\x02N.")
        (warm / "w.zip").write_bytes(_zip({"a.pkl": b"\x80\x02N."}))
        (warm / "w.gguf").write_bytes(GGUF_COUNT_BOMB)
        (warm / "README.md").write_text("---\nlicense: mit\n---\n")
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(log), str(root), str(warm), "scan", str(root), "-o", str(bom)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=str(out),
        )
        seconds = time.monotonic() - start
        assert log.exists(), proc.stderr[-3000:]
        audit = json.loads(log.read_text())
        yield {
            "proc": proc,
            "seconds": seconds,
            "maxrss_mib": audit["maxrss_kib"] / 1024,
            "audit": audit,
            "bom_path": bom,
            "bom": json.loads(bom.read_text()) if bom.exists() else None,
            "root": root,
            "outside": outside,
            "cache": cache,
            "out": out,
        }
    finally:
        if sock is not None:
            sock.close()
        (base / "root" / "secret.bin").chmod(0o644) if (base / "root" / "secret.bin").exists() else None
        shutil.rmtree(base, ignore_errors=True)


def test_scan_finishes_and_writes_a_valid_bom(scan: dict) -> None:  # type: ignore[type-arg]
    proc = scan["proc"]
    assert scan["audit"]["code"] == 0, proc.stderr[-3000:]
    assert scan["seconds"] < 120, scan["seconds"]
    assert "Traceback" not in proc.stderr and "please report" not in proc.stderr, proc.stderr[-3000:]
    assert scan["bom"] is not None
    check = run_aibom("validate", str(scan["bom_path"]))
    assert check.returncode == 0, check.stdout + check.stderr


def _components(components: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    return [x for c in components for x in (c, *_components(c.get("components", [])))]


def test_every_file_and_problem_is_reported_where_it_is(scan: dict) -> None:  # type: ignore[type-arg]
    bom = scan["bom"]
    problems = {(f["location"], f["category"]) for f in findings_of(bom)}
    assert problems == {
        ("changing/grow.bin", "integrity"),
        ("changing/vanish.bin", "unreadable"),
        ("secret.bin", "unreadable"),
        ("models/count-bomb.gguf", "unreadable"),
        ("models/string-bomb.gguf", "unreadable"),
        ("models/header-bomb.safetensors", "unreadable"),
        ("bombs/weights.pkl.gz", "integrity"),
        ("bombs/ratio.zip", "integrity"),
    }
    messages = {f["location"]: f["message"] for f in findings_of(bom)}
    assert "No such file" in messages["changing/vanish.bin"]
    assert "Permission denied" in messages["secret.bin"]
    assert "compression bomb" in messages["bombs/weights.pkl.gz"] and "compression bomb" in messages["bombs/ratio.zip"]
    assert "1152921504606846976" in messages["models/count-bomb.gguf"]  # 2**60, named as read
    skipped = sorted(p["value"] for p in bom["metadata"]["properties"] if p["name"] == "aibom:skipped")
    assert skipped == [
        "special-file: fifo (fifo)",
        "special-file: sock (socket)",
        "symlink-loop: loop (directory already walked)",
        "symlink-loop: loop-a",
        "symlink-loop: loop-b",
        "symlink-outside-root: abs-dir (target is outside the scanned root)",
        "symlink-outside-root: abs-file (target is outside the scanned root)",
        "symlink-outside-root: etc (target is outside the scanned root)",
        "symlink-outside-root: rel-dir (target is outside the scanned root)",
        "symlink-outside-root: rel-file.safetensors (target is outside the scanned root)",
        "unreadable-directory: locked (Permission denied)",
    ]
    comps = _components(bom["components"])
    located = {o["location"]: c for c in comps for o in c.get("evidence", {}).get("occurrences", [])}
    assert "deep/" + "d/" * DEPTH + "bottom.bin" in located  # 200 levels down, still found
    assert "bad-\\xff\\xfe-name.bin" in located  # a non-UTF-8 name, shown with visible escapes
    assert {"bombs/many.zip", "bombs/nested.zip", "models/ok.safetensors"} <= set(located)
    grow = located["changing/grow.bin"]
    assert not grow.get("hashes"), "a file that changed while hashed must not get a hash"
    assert not any(loc.startswith(("abs-", "rel-", "etc", "loop", "locked")) for loc in located)


def test_memory_and_time_are_bounded(scan: dict) -> None:  # type: ignore[type-arg]
    assert scan["seconds"] < 120
    # one compressed stream is held at a time, up to the per-file decompression budget (512 MiB)
    assert scan["maxrss_mib"] < (MAX_DECOMPRESSED >> 20) + 200, scan["maxrss_mib"]


def test_nothing_outside_the_root_is_ever_opened_or_listed(scan: dict) -> None:  # type: ignore[type-arg]
    assert scan["audit"]["uid"] == (NOBODY if os.geteuid() == 0 else os.getuid())
    allowed = [
        os.path.realpath(scan["root"]),
        str(scan["out"]),
        str(scan["cache"]),
        *{sys.prefix, sys.base_prefix, os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)},
        *site.getsitepackages(),
        "/dev/null",
        "/proc/self",
    ]
    seen = {path for _, path in scan["audit"]["seen"]}
    assert any(p.startswith(str(scan["root"]) + "/bombs") for p in seen)  # the hook did record the scan
    real = {os.path.realpath(p) for p in seen}
    outside = sorted(p for p in real if not any(p == a or p.startswith(a.rstrip("/") + "/") for a in allowed))
    assert outside == []
    assert not any(p.startswith(str(scan["outside"])) or p.startswith("/etc/") for p in real)
