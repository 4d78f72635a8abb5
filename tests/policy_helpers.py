"""Helpers for the policy tests: real projects on disk, and the check run through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from conftest import run_aibom

AGPL = "GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3, 19 November 2007\n\nCopyright (C) 2007 Free Software Foundation\n"
MIT = """MIT License

Copyright (c) 2024 Example

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
"""
LLAMA31 = (
    "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\nLlama 3.1 Version Release Date: July 23, 2024\n"
    "\u201cAgreement\u201d means the terms and conditions for use, reproduction, distribution and modification of the "
    "Llama Materials set forth herein.\n"
)


def weights(path: Path, shape: tuple[int, ...] = (4, 4)) -> Path:
    """A real safetensors file made by the safetensors library."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"layer.weight": np.zeros(shape, dtype=np.float32)}, str(path))
    return path


def check(target: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """`aibom check TARGET --format json ARGS`: (exit code, report)."""
    proc = run_aibom("check", str(target), "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def brief(report: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(rule, severity, location) of each finding, in report order."""
    return [(f["rule"], f["severity"], f["location"]) for f in report["findings"]]


def levels(report: dict[str, Any]) -> dict[str, str]:
    return {m["location"] or m["component"]: m["openness"] for m in report["summary"]["models"]}
