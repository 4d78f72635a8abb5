"""What a Keras model config says: its layers, and which of them would run code when loaded.

Shared by the `.keras` (zip) and HDF5 scanners. The config is JSON that Keras turns back into
objects by importing `module` and calling `class_name`: a `Lambda` layer carries marshalled Python
bytecode, and any `module` outside Keras/TensorFlow is arbitrary code imported at load time.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 64
MAX_NODES = 1_000_000
MAX_CONFIG = 64 << 20

#: Top-level packages whose objects Keras may legitimately deserialise.
KERAS_PACKAGES = ("keras", "tensorflow", "tf_keras", "keras_hub", "keras_nlp", "keras_cv")


class ConfigError(ValueError):
    """The config is not readable JSON of a sane size and shape."""


@dataclass
class KerasConfig:
    class_name: str | None = None
    name: str | None = None
    layers: Counter[str] = field(default_factory=Counter)
    unsafe: list[str] = field(default_factory=list)  # one message per code-on-load object


def is_keras_module(module: str) -> bool:
    return module.split(".", 1)[0] in KERAS_PACKAGES


def parse_config(raw: bytes | str) -> KerasConfig:
    if len(raw) > MAX_CONFIG:
        raise ConfigError(f"config larger than {MAX_CONFIG} bytes")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"config is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise ConfigError("config is not a JSON object")
    return analyse(doc)


def _layer_name(obj: dict[str, Any]) -> str:
    cfg = obj.get("config")
    name = cfg.get("name") if isinstance(cfg, dict) else None
    return f"{obj.get('class_name')!s} {name!r}" if isinstance(name, str) else str(obj.get("class_name"))


def _custom_name(obj: dict[str, Any]) -> str | None:
    """`package>Name` of a registered custom object (Keras 3 `registered_name`, Keras 2 `class_name`)."""
    for key in ("registered_name", "class_name"):
        name = obj.get(key)
        if isinstance(name, str) and ">" in name and not is_keras_module(name.split(">", 1)[0]):
            return name
    return None


def analyse(doc: dict[str, Any]) -> KerasConfig:
    """Walk the whole config (iteratively, bounded) for layers and code-on-load objects."""
    out = KerasConfig()
    if isinstance(doc.get("class_name"), str):
        out.class_name = doc["class_name"]
    cfg = doc.get("config")
    if isinstance(cfg, dict) and isinstance(cfg.get("name"), str):
        out.name = cfg["name"]
    # (value, depth, is it a list of layers or a layer in one, is it inside a Lambda layer)
    stack: list[tuple[Any, int, bool, bool]] = [(doc, 0, False, False)]
    nodes = 0
    while stack:
        obj, depth, in_layers, in_lambda = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ConfigError(f"config has more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise ConfigError(f"config nested deeper than {MAX_DEPTH}")
        if isinstance(obj, list):
            stack.extend((item, depth + 1, in_layers, in_lambda) for item in obj)
            continue
        if not isinstance(obj, dict):
            continue
        class_name = obj.get("class_name")
        if in_layers and isinstance(class_name, str):
            out.layers[class_name] += 1
        module = obj.get("module")
        if class_name == "Lambda":
            out.unsafe.append(f"layer {_layer_name(obj)} holds serialized Python bytecode that runs on load")
            in_lambda = True
        elif class_name == "__lambda__" and not in_lambda:
            out.unsafe.append("a serialized Python lambda (marshalled bytecode) is rebuilt on load")
        elif isinstance(module, str) and not is_keras_module(module):
            out.unsafe.append(f"{_layer_name(obj)} is imported from non-Keras module {module!r} on load")
        elif module is None and (custom := _custom_name(obj)):
            out.unsafe.append(f"{_layer_name(obj)} is the custom object {custom!r}: loading runs non-Keras code")
        for key, value in obj.items():
            if isinstance(value, dict | list):
                stack.append((value, depth + 1, key == "layers", in_lambda))
    out.unsafe.sort()
    return out
