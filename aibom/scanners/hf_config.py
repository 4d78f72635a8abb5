"""Hugging Face model-directory JSON files: config, generation config, PEFT adapter config, tokenizer
files and sharded-checkpoint indexes (`*.index.json`).

Each is recognised by its name (a hint) *and* its content (a JSON object with the keys that role has),
parsed with a size limit, and turned into a `ModelDirFile` on a small file artifact. The folder is
grouped into one model later by `aibom.model_dirs`. Nothing here imports or runs code: `auto_map`
only records which repo modules the model would execute on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from typing import Any

from .. import readdeps
from ..inventory import Kind, ModelDirFile
from ..sniff import Probe, ReadError, looks_like_text
from . import register
from ._facts import integer, text, texts
from .base import Scanner, ScanOutput

#: Larger metadata files are not parsed (JSON parsing costs memory in proportion to the input).
MAX_JSON_BYTES = 4 << 20
MAX_SHARDS = 100_000

_ROLES = {
    "config.json": "config",
    "generation_config.json": "generation-config",
    "adapter_config.json": "adapter-config",
    "tokenizer.json": "tokenizer",
    "tokenizer_config.json": "tokenizer-config",
    "special_tokens_map.json": "tokenizer-config",
}
_INDEX = re.compile(r"^.+\.(safetensors|bin|pt|pth|ckpt|msgpack|h5)\.index(\.[\w-]+)?\.json$")
_CONFIG_KEYS = ("architectures", "model_type", "auto_map", "transformers_version", "_class_name", "torch_dtype")
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")
#: `auto_map` values are "module.Class" or "org/repo--module.Class" (code fetched from another repo).
_AUTO_REF = re.compile(r"^(?:(?P<repo>[\w.-]{1,96}/[\w.-]{1,96})--)?(?P<module>[A-Za-z_]\w{0,127})\.\w{1,128}$")


_HF_HINT = re.compile(rb'"(architectures|model_type|auto_map|transformers_version|_class_name|torch_dtype)"\s*:')


def role_of(name: str) -> str | None:
    if name in _ROLES:
        return _ROLES[name]
    return "weight-index" if _INDEX.match(name) else None


def auto_map_modules(auto_map: Any) -> tuple[list[str], list[str]]:
    """(local module names, "repo--module" remote references) named by an `auto_map` object."""
    local: list[str] = []
    remote: list[str] = []
    if not isinstance(auto_map, dict):
        return local, remote
    for value in list(auto_map.values())[:256]:
        for ref in texts(value):
            if m := _AUTO_REF.match(ref):
                if m.group("repo"):
                    item = f"{m.group('repo')}--{m.group('module')}"
                    if item not in remote:
                        remote.append(item)
                elif m.group("module") not in local:
                    local.append(m.group("module"))
    return sorted(local), sorted(remote)


def _present_modules(probe: Probe, modules: list[str]) -> list[str]:
    """Which `<module>.py` files sit next to the probed file (lstat only: never followed, never read)."""
    folder = os.path.dirname(probe.path)
    present = []
    for module in modules:
        readdeps.note(os.path.join(folder, f"{module}.py"))
        try:
            st = os.lstat(os.path.join(folder, f"{module}.py"))
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            present.append(module)
    return present


def _quantization(q: Any) -> dict[str, Any]:
    if not isinstance(q, dict):
        return {}
    method = text(q.get("quant_method"), 100)
    if method is None and (q.get("load_in_4bit") is True or q.get("load_in_8bit") is True):
        method = "bitsandbytes"
    bits = integer(q.get("bits"))
    if bits is None:
        bits = 4 if q.get("load_in_4bit") is True else 8 if q.get("load_in_8bit") is True else None
    out: dict[str, Any] = {}
    if method:
        out["method"] = method
    if bits:
        out["bits"] = bits
    if kind := text(q.get("bnb_4bit_quant_type"), 50):
        out["type"] = kind
    return out


def config_facts(doc: dict[str, Any], probe: Probe) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "architectures": texts(doc.get("architectures")),
        "model_type": text(doc.get("model_type"), 200) or text(doc.get("_class_name"), 200),
        "dtype": text(doc.get("dtype"), 50) or text(doc.get("torch_dtype"), 50),
        "quantization": _quantization(doc.get("quantization_config")),
        "name_or_path": text(doc.get("_name_or_path")),
    }
    for key in _CONTEXT_KEYS:
        if (n := integer(doc.get(key))) is not None:
            facts["context_length"] = n
            break
    local, remote = auto_map_modules(doc.get("auto_map"))
    if local or remote:
        facts["auto_map"] = {"local": local, "remote": remote, "present": _present_modules(probe, local)}
    return facts


def adapter_facts(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "peft_type": text(doc.get("peft_type"), 100),
        "task_type": text(doc.get("task_type"), 100),
        "base_model": text(doc.get("base_model_name_or_path")),
        "r": integer(doc.get("r")),
        "lora_alpha": integer(doc.get("lora_alpha")),
        "target_modules": texts(doc.get("target_modules")),
    }


def tokenizer_config_facts(doc: dict[str, Any], probe: Probe) -> dict[str, Any]:
    facts: dict[str, Any] = {"tokenizer_class": text(doc.get("tokenizer_class"), 200)}
    template = doc.get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": ..., "template": ...}]
        parts = [t.get("template") for t in template[:64] if isinstance(t, dict)]
        template = "\n".join(p for p in parts if isinstance(p, str)) or None
    if isinstance(template, str) and template:
        # A chat template is code for a template engine: recorded (by hash), never rendered.
        facts["chat_template_sha256"] = hashlib.sha256(template.encode("utf-8", "replace")).hexdigest()
        facts["chat_template_chars"] = len(template)
    if (n := integer(doc.get("model_max_length"))) is not None and n < 1 << 40:
        facts["model_max_length"] = n
    local, remote = auto_map_modules(doc.get("auto_map"))
    if local or remote:
        facts["auto_map"] = {"local": local, "remote": remote, "present": _present_modules(probe, local)}
    return facts


class BadIndex(ValueError):
    pass


def index_facts(doc: dict[str, Any]) -> dict[str, Any]:
    """The shard files a sharded checkpoint index names, and its declared total size."""
    weight_map = doc.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise BadIndex("'weight_map' must be a non-empty object")
    if len(weight_map) > MAX_SHARDS * 10:
        raise BadIndex(f"'weight_map' has {len(weight_map)} entries, over the limit")
    shards: dict[str, int] = {}
    for tensor, shard in weight_map.items():
        if not isinstance(shard, str) or not shard or "/" in shard or "\\" in shard or shard in (".", ".."):
            raise BadIndex(f"tensor {str(tensor)[:100]!r} maps to an invalid shard name")
        shards[shard] = shards.get(shard, 0) + 1
        if len(shards) > MAX_SHARDS:
            raise BadIndex("too many shard files")
    meta = doc.get("metadata")
    total = integer(meta.get("total_size")) if isinstance(meta, dict) else None
    return {"shards": dict(sorted(shards.items())), "total_size": total, "tensors": len(weight_map)}


@register
class HfConfigScanner(Scanner):
    family = "hf-config"
    priority = 15  # before safetensors: a JSON file's ninth byte can be "{"

    def identify(self, probe: Probe) -> str | None:
        role = role_of(probe.name)
        if role is None or not looks_like_text(probe.head):
            return None
        if not probe.head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            return None
        return f"hf-{role}"

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        role = fmt[3:]
        if role == "tokenizer":  # can be tens of MB; its presence is the fact
            self._emit(probe, fmt, out, role, {})
            return
        # `config.json` is a common name: one that does not look like a model config is not ours to judge.
        foreign_ok = role == "config" and not _HF_HINT.search(probe.head)
        if probe.size > MAX_JSON_BYTES:
            if not foreign_ok:
                out.unreadable(probe, fmt, f"{probe.size} bytes is over the {MAX_JSON_BYTES}-byte limit for metadata")
            return
        raw = probe.read(0, probe.size)
        if len(raw) != probe.size:
            raise ReadError("file shrank while being read")
        try:
            doc = json.loads(raw.decode("utf-8-sig"))
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
            if not foreign_ok:
                out.unreadable(probe, fmt, f"not valid JSON ({exc.__class__.__name__})")
            return
        if not isinstance(doc, dict):
            if not foreign_ok:
                out.unreadable(probe, fmt, "not a JSON object")
            return
        if role == "config":
            if not any(k in doc for k in _CONFIG_KEYS):
                return  # some other program's config.json: not a model directory file
            facts = config_facts(doc, probe)
        elif role == "adapter-config":
            if "peft_type" not in doc and "base_model_name_or_path" not in doc:
                return
            facts = adapter_facts(doc)
        elif role == "tokenizer-config":
            facts = tokenizer_config_facts(doc, probe)
        elif role == "weight-index":
            try:
                facts = index_facts(doc)
            except BadIndex as exc:
                out.unreadable(probe, fmt, str(exc))
                return
        else:
            facts = {}
        self._emit(probe, fmt, out, role, facts)

    @staticmethod
    def _emit(probe: Probe, fmt: str, out: ScanOutput, role: str, facts: dict[str, Any]) -> None:
        artifact = out.file_artifact(probe, Kind.FILE, fmt)
        artifact.model_dir_file = ModelDirFile(role, {k: v for k, v in facts.items() if v not in (None, [], {})})
