from pathlib import Path

from conftest import component_at, prop, scan_json

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sentiment-demo"


def test_example_model_component(tmp_path: Path) -> None:
    bom = scan_json(EXAMPLE)
    # The model directory is one model; its weight file is a nested part.
    (model,) = [c for c in bom["components"] if c["bom-ref"] == "model-dir:models/sentiment-tiny"]
    assert model["type"] == "machine-learning-model"
    assert prop(model["modelCard"], "cdx:ai-ml:model:parameter:count") == "33155"
    assert prop(model["modelCard"], "cdx:ai-ml:model:dtype") == "F32"
    assert {o["location"] for o in model["evidence"]["occurrences"]} == {
        "models/sentiment-tiny/README.md",
        "models/sentiment-tiny/config.json",
        "models/sentiment-tiny/model.safetensors",
    }
    weights = component_at(model, "models/sentiment-tiny/model.safetensors")
    assert weights["type"] == "file"
    assert prop(weights, "aibom:model:parameter:count") == "33155"
