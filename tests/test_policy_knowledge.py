"""The license knowledge base (`licenses/`) and the generated rules reference are complete and up to date."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aibom.inventory import Category, License
from aibom.policy import docs
from aibom.policy.licensing import RANK, ai_license_for, classify, code_compatible
from aibom.policy.rules import RULES

ROOT = Path(__file__).resolve().parents[1]


def test_categories_file_is_generated_from_the_index() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "licenses" / "build_categories.py"), "--check"], check=False)
    assert proc.returncode == 0, "licenses/categories.json is stale: run python licenses/build_categories.py"


def test_every_spdx_license_has_a_category() -> None:
    from license_expression import get_spdx_licensing

    data = json.loads((ROOT / "licenses" / "categories.json").read_text())["licenses"]
    assert set(data.values()) <= set(RANK)
    symbols = get_spdx_licensing().known_symbols
    spdx_ids = {s.key for s in symbols.values() if not s.is_exception and not s.key.startswith("LicenseRef-")}
    assert spdx_ids <= set(data), sorted(spdx_ids - set(data))[:10]


@pytest.mark.parametrize(
    ("license_id", "category"),
    [
        ("MIT", "permissive"),
        ("Apache-2.0", "permissive"),
        ("CC0-1.0", "public-domain"),
        ("LGPL-2.1-only", "weak-copyleft"),
        ("MPL-2.0", "weak-copyleft"),
        ("GPL-3.0-or-later", "strong-copyleft"),
        ("AGPL-3.0-only", "network-copyleft"),
        ("CC-BY-NC-4.0", "non-commercial"),
        ("CC-BY-NC-ND-4.0", "non-commercial"),
        ("CC-BY-ND-4.0", "no-derivatives"),
        ("CC-BY-SA-4.0", "share-alike"),
        ("ODbL-1.0", "share-alike"),
        ("CC-BY-4.0", "permissive"),
    ],
)
def test_curated_categories(license_id: str, category: str) -> None:
    assert classify(License(expression=license_id)).category == category


def test_expressions_or_picks_the_best_choice_and_the_worst_part() -> None:
    assert classify(License(expression="GPL-3.0-only OR MIT")).category == "permissive"
    assert classify(License(expression="GPL-3.0-only AND MIT")).category == "strong-copyleft"
    assert classify(License(expression="(MIT OR CC-BY-NC-4.0) AND Apache-2.0")).category == "permissive"
    assert classify(License(expression="GPL-2.0-or-later WITH Classpath-exception-2.0")).category == "strong-copyleft"


def test_code_compatibility_from_the_osadl_data() -> None:
    mit, gpl2, gpl3 = (classify(License(expression=x)) for x in ("MIT", "GPL-2.0-only", "GPL-3.0-or-later"))
    assert code_compatible(mit, License(expression="GPL-3.0-only")) == "no"
    assert code_compatible(mit, License(expression="GPL-3.0-only OR MIT")) == "yes"
    assert code_compatible(mit, License(expression="MIT AND AGPL-3.0-only")) == "no"
    assert code_compatible(mit, License(expression="LGPL-2.1-only")) == "check"
    assert code_compatible(gpl2, License(expression="Apache-2.0")) == "no"
    assert code_compatible(gpl3, License(expression="Apache-2.0")) == "yes"
    assert code_compatible(gpl2, License(expression="GPL-3.0-only")) == "no"
    assert code_compatible(mit, License(expression="EUPL-1.2")) == "check"  # not in the table: by category
    assert code_compatible(mit, License(expression="OSL-3.0")) == "no"  # network copyleft by category
    source = json.loads((ROOT / "licenses" / "compatibility.json").read_text())
    assert "osadl.org" in source["source"] and source["license"] == "CC-BY-4.0"


AI_REQUIRED = {
    "llama2", "llama3", "llama3.1", "llama3.2", "llama3.3", "llama4", "gemma", "openrail", "creativeml-openrail-m",
    "openrail++", "bigscience-bloom-rail-1.0", "bigscience-openrail-m", "bigcode-openrail-m", "deepseek",
    "tongyi-qianwen", "qwen-research", "mistral-research", "falcon", "openmdw",
}  # fmt: skip


def test_ai_licenses_are_first_class_with_sourced_facts() -> None:
    data = json.loads((ROOT / "licenses" / "ai-licenses.json").read_text())
    entries = data["licenses"]
    assert set(entries) == AI_REQUIRED
    for key, entry in entries.items():
        assert entry["category"] in RANK, key
        assert set(entry["facts"]) == set(data["fact_keys"]), key
        for fact in entry["facts"].values():
            assert fact["source"].startswith("https://"), key
        assert entry["hf_tags"] or entry["hf_license_names"], key
    assert entries["llama3.1"]["facts"]["user_cap"]["value"] == 700_000_000
    assert entries["qwen-research"]["facts"]["commercial_use"]["value"] is False


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("llama3.1", "llama3.1"),
        ("Llama 3.1 Community License Agreement", "llama3.1"),
        ("LicenseRef-gemma", "gemma"),
        ("creativeml-openrail-m", "creativeml-openrail-m"),
        ("tongyi-qianwen", "tongyi-qianwen"),
        ("mrl", "mistral-research"),
        ("Apache-2.0", None),
    ],
)
def test_ai_license_names_and_tags(text: str, key: str | None) -> None:
    assert ai_license_for(text) == key


def test_ai_license_categories() -> None:
    llama = classify(
        License(name="Llama 3.1 Community License Agreement", url="https://www.llama.com/llama3_1/license/")
    )
    assert (llama.category, llama.ai, llama.known) == ("use-restricted", "llama3.1", True)
    assert classify(License(name="qwen-research")).category == "non-commercial"
    assert classify(License(name="Acme License")).known is False


def test_rules_reference_is_up_to_date() -> None:
    assert docs.OUT.read_text(encoding="utf-8") == docs.render(), "run: python -m aibom.policy.docs"


def test_every_rule_is_documented_with_a_fixed_category() -> None:
    for rule in RULES.values():
        assert rule.category in set(Category)
        assert rule.rationale and rule.remediation and rule.title
        assert f"### {rule.id}\n" in docs.render()


@pytest.mark.parametrize(
    ("repo", "key"),
    [
        ("meta-llama/Llama-3.1-8B", "llama3.1"),
        ("meta-llama/Meta-Llama-3.1-70B-Instruct", "llama3.1"),
        ("meta-llama/Meta-Llama-3-8B", "llama3"),
        ("google/gemma-2-9b", "gemma"),
        ("mistralai/Mistral-7B-v0.1", None),
    ],
)
def test_well_known_hub_bases(repo: str, key: str | None) -> None:
    from aibom.policy.licensing import hub_model_license

    assert hub_model_license(repo) == key
