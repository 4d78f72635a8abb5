"""`--online` against a real HTTP server on 127.0.0.1 serving responses shaped like PyPI's and the Hub's."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from conftest import prop, run_aibom

# Trimmed to the fields aibom reads, in the shapes the services return.
RESPONSES = {
    "/pypi/tiny-core/json": {
        "info": {
            "name": "tiny-core", "version": "1.4.0", "license": None, "license_expression": "MIT",
            "classifiers": ["Programming Language :: Python :: 3"],
        },
        "releases": {},
    },
    "/pypi/legacy-lib/2.0/json": {
        "info": {
            "name": "legacy-lib", "version": "2.0", "license": "",
            "classifiers": ["License :: OSI Approved :: Apache Software License"],
        },
    },
    "/hf/api/models/meta-llama/Llama-3.1-8B": {
        "id": "meta-llama/Llama-3.1-8B", "sha": "d04e592bb4f6aa9cfee91e2e20afa771667e1d4b",
        "tags": ["transformers", "license:llama3.1"], "cardData": {"license": "llama3.1"},
    },
    "/hf/api/datasets/stanfordnlp/imdb": {
        "id": "stanfordnlp/imdb", "sha": "e6281661ce1c48d982bc483cf8a173c1bbeb5d31",
        "tags": ["license:other"], "cardData": {"license": "other", "license_name": "IMDB terms"},
    },
}  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Handler.hits.append(self.path)
        body = RESPONSES.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.hits = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def project(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "requirements.txt").write_text("tiny-core\nlegacy-lib==2.0\nunknown-pkg==1.0\n", encoding="utf-8")
    (tmp_path / "run.py").write_text(
        "from transformers import AutoModel\nfrom datasets import load_dataset\n"
        'AutoModel.from_pretrained("meta-llama/Llama-3.1-8B")\nload_dataset("stanfordnlp/imdb")\n',
        encoding="utf-8",
    )
    return tmp_path


def scan_online(root: Path, base: str) -> tuple[dict, str]:
    env = {"AIBOM_PYPI_URL": f"{base}/pypi", "AIBOM_HF_URL": f"{base}/hf"}
    proc = run_aibom("scan", str(root), "-q", "--online", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def test_online_fills_in_licenses(tmp_path: Path, server: str) -> None:
    bom, stderr = scan_online(project(tmp_path / "p"), server)
    comps = {c["bom-ref"]: c for c in bom["components"]}
    core = comps["pkg:pypi/tiny-core"]
    assert core["licenses"] == [{"license": {"id": "MIT", "acknowledgement": "declared"}}]
    assert prop(core, "aibom:online:latest-version") == "1.4.0"
    assert prop(core, "aibom:online:license-source") == "pypi"
    legacy = comps["pkg:pypi/legacy-lib@2.0"]
    assert legacy["licenses"] == [{"license": {"id": "Apache-2.0", "acknowledgement": "declared"}}]
    assert "licenses" not in comps["pkg:pypi/unknown-pkg@1.0"]
    llama = comps["hf:meta-llama/Llama-3.1-8B"]
    assert llama["licenses"] == [{"license": {"name": "Llama 3.1 Community License Agreement",
                                              "url": "https://www.llama.com/llama3_1/license/",
                                              "acknowledgement": "declared"}}]  # fmt: skip
    assert prop(llama, "aibom:online:revision") == "d04e592bb4f6aa9cfee91e2e20afa771667e1d4b"
    imdb = comps["hf:datasets/stanfordnlp/imdb"]
    assert imdb["licenses"] == [{"license": {"name": "IMDB terms", "acknowledgement": "declared"}}]
    assert stderr == ""
    assert sorted(Handler.hits) == [
        "/hf/api/datasets/stanfordnlp/imdb",
        "/hf/api/models/meta-llama/Llama-3.1-8B",
        "/pypi/legacy-lib/2.0/json",
        "/pypi/tiny-core/json",
        "/pypi/unknown-pkg/1.0/json",
    ]
    # a second run is answered from the response cache (the 404 included)
    again, _ = scan_online(tmp_path / "p", server)
    assert len(Handler.hits) == 5
    assert again["components"] == bom["components"]


def test_offline_is_a_clear_warning_not_a_failure(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    bom, stderr = scan_online(project(tmp_path / "p"), f"http://127.0.0.1:{port}")
    assert "aibom: warning: --online: cannot reach http://127.0.0.1:" in stderr
    assert stderr.count("cannot reach") == 2  # one line per service, not one per package
    comps = {c["bom-ref"]: c for c in bom["components"]}
    assert "licenses" not in comps["pkg:pypi/tiny-core"]


def test_offline_by_default(tmp_path: Path, server: str) -> None:
    env = {"AIBOM_PYPI_URL": f"{server}/pypi", "AIBOM_HF_URL": f"{server}/hf"}
    proc = run_aibom("scan", str(project(tmp_path / "p")), "-q", env=env)
    assert proc.returncode == 0 and Handler.hits == []
