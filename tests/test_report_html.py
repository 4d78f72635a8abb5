"""`aibom report --html`: the page's content and escaping (parsed), and the page in real headless Chromium."""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hf_fixtures import save_single, tiny_state_dict, write_card, write_json

from aibom.cli import main

DEMO = Path(__file__).resolve().parent.parent / "examples" / "sentiment-demo"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PAYLOADS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(2)>', "javascript:alert(5)")


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.parts) + "".join(c.text for c in self.children)

    def find(self, tag: str, **attrs: str) -> list[Element]:
        """Descendants with this tag whose attributes contain the given values (class: one of the classes)."""
        found = []
        for c in self.children:
            ok = c.tag == tag and all(
                (v in c.attrs.get("class", "").split()) if k == "class_" else c.attrs.get(k) == v
                for k, v in attrs.items()
            )
            if ok:
                found.append(c)
            found.extend(c.find(tag, **attrs))
        return found


class _Tree(HTMLParser):
    VOID = frozenset({"meta", "br", "img", "input", "link", "hr", "rect", "path"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Element("#root", {}, None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(el)
        if tag not in self.VOID:
            self.cur = el

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.cur.children.append(Element(tag, {k: v or "" for k, v in attrs}, self.cur))

    def handle_endtag(self, tag: str) -> None:
        el: Element | None = self.cur
        while el is not None and el.tag != tag:
            el = el.parent
        if el is not None and el.parent is not None:
            self.cur = el.parent

    def handle_data(self, data: str) -> None:
        self.cur.parts.append(data)


def parse(text: str) -> Element:
    tree = _Tree()
    tree.feed(text)
    tree.close()
    return tree.root


def report(target: Path, out: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["report", str(target), "--html", str(out), "-q", *args])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def hostile_project(root: Path) -> Path:
    """File/folder names and a model card full of markup, script URLs, ANSI escapes and a bidi override."""
    folder = root / "models" / '"><img src=x onerror=alert(2)>'
    save_single(folder, tiny_state_dict())
    write_json(folder / "config.json", {"model_type": "bert", "architectures": ["BertModel"]})
    write_card(
        folder,
        """
model_name: "<script>alert(1)</script>"
license: other
license_name: "\\"><img src=x onerror=alert(2)>"
license_link: "javascript:alert(4)"
base_model: "javascript:alert(5)"
datasets:
- "<script>alert(6)</script>"
- org/ok-data
""",
        "# <script>alert(1)</script>\n\n[click](javascript:alert(7)) \x1b[31mred\x1b[0m \u202eevil\n",
    )
    (root / "models" / "<svg onload=alert(3)> \x1b[31m\u202eevil.bin").write_bytes(b"\x80\x04junk" * 10)
    return root


def models_table(page: Element) -> dict[str, list[str]]:
    (table,) = page.find("table", class_="models")
    rows = {}
    for tr in table.find("tr")[1:]:
        cells = tr.find("td")
        rows[cells[0].find("span", class_="model-name")[0].text] = [c.text for c in cells[1:]]
    return rows


def graph(page: Element) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    (svg,) = page.find("svg", class_="lineage")
    nodes = [(g.attrs["data-kind"], g.find("title")[0].text) for g in svg.find("g", class_="node")]
    edges = [(p.attrs["data-from"], p.attrs["data-to"]) for p in svg.find("path", class_="edge")]
    return nodes, edges


# --- the page's content, parsed ---------------------------------------------------------------------------


def test_demo_page_lists_models_licenses_graph_and_csp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    text = report(DEMO, tmp_path / "r.html")
    page = parse(text)
    assert models_table(page) == {
        "sentiment-tiny": ["reproducible", "MIT (declared)", "33,155", "hf-model-directory", "none", "movie-reviews"]
    }
    (csp,) = page.find("meta", **{"http-equiv": "Content-Security-Policy"})
    assert csp.attrs["content"].startswith("default-src 'none'; style-src 'sha256-")
    assert "script-src" not in csp.attrs["content"] and not page.find("script")
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text  # the demo names no Hub ids: nothing links out
    nodes, edges = graph(page)
    assert sorted(nodes) == [
        ("code", "code: requirements-train.txt, requirements.txt"),
        ("dataset", "dataset: movie-reviews"),
        ("libraries", "libraries: numpy, pandas, safetensors, scikit-learn, tokenizers"),
        ("model", "model: sentiment-tiny (reproducible)"),
        ("project", "project: sentiment-demo"),
    ]
    assert len(edges) == 4 and ("code", "libraries") in edges and ("project", "code") in edges
    licenses = {
        tr.find("td")[0].text: tr.find("td")[2].text for tr in page.find("table", class_="licenses")[0].find("tr")[1:]
    }
    assert licenses["movie-reviews (dataset)data/movie-reviews/README.md"] == "permissive"
    assert licenses["numpy (library)requirements.txt"] == "none"
    assert licenses["sentiment-tiny (model)models/sentiment-tiny/README.md"] == "permissive"
    # the directory's weight file is covered by the model's own row, not listed as unlicensed
    assert not any("model.safetensors" in k for k in licenses)
    summary = {
        tr.find("td")[0].text: tr.find("td")[1].text for tr in page.find("table", class_="summary")[0].find("tr")[1:]
    }
    assert summary["Generated"].startswith("2023-11-14T22:13:20Z by aibom ")
    assert summary["Findings"] == "0 error, 0 warning, 0 info, 0 waived"
    assert summary["Components"] == "model: 1, dataset: 2, library: 5, file: 0"


def test_same_input_and_epoch_give_byte_identical_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert report(DEMO, tmp_path / "a.html") == report(DEMO, tmp_path / "b.html", "--no-cache")


def test_hostile_names_and_card_are_escaped_text(tmp_path: Path) -> None:
    text = report(hostile_project(tmp_path / "proj"), tmp_path / "r.html")
    page = parse(text)
    assert not page.find("script") and not page.find("img") and not page.find("svg", onload="alert(3)")
    assert all(not k.startswith("on") for el in _all(page) for k in el.attrs)
    hrefs = [a.attrs["href"] for a in page.find("a")]
    assert hrefs == ["https://huggingface.co/datasets/org/ok-data"] * 2  # models table + licenses table only
    (model,) = models_table(page).items()
    assert model[0] == "<script>alert(1)</script>"
    level, lic, params, fmt, base, datasets = model[1]
    assert level.startswith("proprietary-blob") and "to reach restricted-weights:" in level
    assert lic == '"><img src=x onerror=alert(2)> (declared)'
    assert (params, fmt, base, datasets) == (
        "56",
        "hf-model-directory",
        "javascript:alert(5)",
        "<script>alert(6)</script>, org/ok-data",
    )
    nodes, edges = graph(page)
    assert sorted(k for k, _ in nodes) == ["base-model", "dataset", "dataset", "model", "project"]
    assert len(edges) == 4
    # ANSI escapes and the RTL override are shown as visible escapes, never raw
    assert "\x1b" not in text and "\u202e" not in text
    errors = page.find("table", class_="error")[0].find("tr")[1:]
    assert [[td.text for td in tr.find("td")][:3] for tr in errors] == [
        [
            "unreadable-file",
            "<svg onload=alert(3)> \\x1b[31m\\u202eevil.bin",
            "models/<svg onload=alert(3)> \\x1b[31m\\u202eevil.bin",
        ]
    ]
    assert errors[0].find("td")[4].text.startswith("Replace the file with a valid one")


def _all(el: Element) -> list[Element]:
    return [el, *(d for c in el.children for d in _all(c))]


def test_findings_grouped_with_fixes_and_openness_gaps(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    save_single(root / "m", tiny_state_dict())
    write_card(root / "m", "license: apache-2.0\n")
    page = parse(report(root, tmp_path / "r.html"))
    level = models_table(page)["m"][0]
    assert level == (
        "open-weightsto reach open-source-ai:no training code is shipped (no source files or dependency manifests)"
        "no training dataset is named (list `datasets:` in the model card)"
    )
    headings = [h.text for h in page.find("h3")]
    assert headings == ["Warnings (2)"]
    warnings = page.find("table", class_="warning")[0].find("tr")[1:]
    rules = [tr.find("td")[0].text for tr in warnings]
    assert rules == ["missing-license", "no-training-data"]
    assert all(tr.find("td")[4].text for tr in warnings)  # every finding carries its fix


def test_forty_models_and_two_hundred_libraries_stay_readable(tmp_path: Path) -> None:
    root = tmp_path / "big"
    tensors = tiny_state_dict()
    for i in range(40):
        save_single(root / f"model-{i:02d}", tensors)
        write_card(root / f"model-{i:02d}", "license: mit\nbase_model: org/base\ndatasets:\n- org/shared-data\n")
    (root / "requirements.txt").write_text("".join(f"package-{i:03d}==1.0\n" for i in range(200)))
    page = parse(report(root, tmp_path / "r.html"))
    nodes, edges = graph(page)
    kinds = [k for k, _ in nodes]
    assert kinds.count("model") == 40 and kinds.count("base-model") == 1 and kinds.count("dataset") == 1
    assert kinds.count("libraries") == 1 and len(nodes) == 45
    assert len(edges) == 40 + 40 + 40 + 2  # project->model, model->base, model->dataset, project->code->libraries
    (svg,) = page.find("svg", class_="lineage")
    assert int(svg.attrs["width"]) == 12 * 2 + 3 * 210 + 2 * 90
    assert int(svg.attrs["height"]) == 12 * 2 + 41 * 28 + 40 * 12  # 40 models and the code node in one column
    assert [t.text for t in svg.find("text") if t.text.startswith("200")] == ["200 libraries"]


def test_report_from_a_bom_matches_the_tree(tmp_path: Path) -> None:
    bom = tmp_path / "bom.cdx.json"
    result = CliRunner().invoke(main, ["scan", str(DEMO), "-q", "-o", str(bom)])
    assert result.exit_code == 0, result.output
    page = parse(report(bom, tmp_path / "r.html"))
    assert models_table(page)["sentiment-tiny"][0] == "reproducible"
    summary = {
        tr.find("td")[0].text: tr.find("td")[1].text for tr in page.find("table", class_="summary")[0].find("tr")[1:]
    }
    assert summary["BOM specification"] == "CycloneDX 1.6 JSON"


def test_bad_input_is_one_line_and_keeps_the_old_page(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    out.write_text("old")
    missing = CliRunner().invoke(main, ["report", str(tmp_path / "nope"), "--html", str(out)])
    assert missing.exit_code == 2 and out.read_text() == "old"
    garbage = tmp_path / "bom.json"
    garbage.write_text("{not json")
    bad = CliRunner().invoke(main, ["report", str(garbage), "--html", str(out)])
    assert bad.exit_code == 2 and out.read_text() == "old"
    assert "Traceback" not in bad.output and len(bad.output.strip().splitlines()) == 1
    no_folder = CliRunner().invoke(main, ["report", str(DEMO), "--html", str(tmp_path / "no" / "r.html")])
    assert no_folder.exit_code == 2 and "does not exist" in no_folder.output


# --- the page in real headless Chromium --------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Any:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        why = f"headless Chromium test needs {', '.join(missing)} (.ci/run installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run", "--window-size=1280,1000"):  # fmt: skip
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    # Recorded before any page script could run (CDP scripts are not subject to the page's CSP).
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {
            "source": "window.__csp=[];document.addEventListener('securitypolicyviolation',"
            "e=>window.__csp.push(e.violatedDirective+' '+e.blockedURI));"
        },
    )
    yield driver
    driver.quit()


def _open(driver: Any, page: Path) -> dict[str, Any]:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    driver.get_log("browser")  # drop what an earlier page logged
    driver.get(page.as_uri())
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018  (the property raises when no alert fired)
    return {
        "severe": [e for e in driver.get_log("browser") if e["level"] == "SEVERE"],
        "csp": driver.execute_script("return window.__csp"),
        "boxes": driver.execute_script(
            "return [...document.querySelectorAll('svg.lineage g.node')].map(g=>{const b=g.getBBox();"
            "return [g.dataset.kind,b.width,b.height]})"
        ),
        "edges": driver.execute_script(
            "return [...document.querySelectorAll('svg.lineage path.edge')].filter(p=>p.getTotalLength()>0).length"
        ),
        "text": driver.find_element(By.TAG_NAME, "body").text,
        "imgs": len(driver.find_elements(By.TAG_NAME, "img")),
        "scripts": len(driver.find_elements(By.TAG_NAME, "script")),
    }


def png_facts(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the decoded image data (1-2: blank)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_demo_page_renders_in_chromium(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "demo.html"
    report(DEMO, page)
    seen = _open(browser, page)
    assert seen["severe"] == [] and seen["csp"] == []
    assert sorted(k for k, _, _ in seen["boxes"]) == ["code", "dataset", "libraries", "model", "project"]
    assert all(w > 100 and h > 20 for _, w, h in seen["boxes"])
    assert seen["edges"] == 4
    for text in ("sentiment-tiny", "reproducible", "MIT (declared)", "33,155", "movie-reviews", "No findings."):
        assert text in seen["text"]
    shot = tmp_path / "demo.png"
    assert browser.save_screenshot(str(shot))
    width, height, values = png_facts(shot)
    assert (width, height) == (1280, 1000) or (width >= 800 and height >= 600)
    assert values > 50 and shot.stat().st_size > 20_000
    if os.environ.get("AIBOM_KEEP_SCREENSHOTS"):
        shutil.copy(shot, os.environ["AIBOM_KEEP_SCREENSHOTS"])


def test_hostile_page_runs_nothing_in_chromium(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    report(hostile_project(tmp_path / "proj"), page)
    seen = _open(browser, page)
    assert seen["severe"] == [] and seen["csp"] == []
    assert seen["imgs"] == 0 and seen["scripts"] == 0
    assert browser.execute_script("return document.querySelectorAll('[onerror],[onload]').length") == 0
    assert len(seen["boxes"]) == 5 and all(w > 100 and h > 20 for _, w, h in seen["boxes"])
    assert seen["edges"] == 4
    for text in (*PAYLOADS, "\\x1b[31m\\u202eevil.bin", "to reach restricted-weights:"):
        assert text in seen["text"]
    shot = tmp_path / "hostile.png"
    assert browser.save_screenshot(str(shot))
    assert png_facts(shot)[2] > 50


def test_the_csp_blocks_a_script_that_escaped_escaping(browser: Any, tmp_path: Path) -> None:
    """The control: were a payload ever to reach the page raw, the Content-Security-Policy stops it."""
    page = tmp_path / "injected.html"
    text = report(DEMO, page)
    page.write_text(text.replace("<main>", "<main><script>alert(1)</script><img src=x onerror=alert(2)>"))
    seen = _open(browser, page)  # asserts no alert fired
    assert any(v.startswith("script-src") for v in seen["csp"]), seen["csp"]
    assert any("Content Security Policy" in e["message"] for e in seen["severe"])


def test_policy_and_exclude_are_applied_like_check(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    save_single(root / "m", tiny_state_dict())
    write_card(root / "m", "license: apache-2.0\n")
    save_single(root / "scratch", tiny_state_dict())
    policy = tmp_path / "policy.toml"
    policy.write_text('[[waivers]]\nrule = "no-training-data"\npath = "m/*"\nreason = "<b>data card later</b>"\n')
    page = parse(report(root, tmp_path / "r.html", "--policy", str(policy), "--exclude", "scratch/"))
    assert list(models_table(page)) == ["m"]
    (waived,) = page.find("table", class_="waived")
    assert [td.text for td in waived.find("tr")[1].find("td")][::3] == ["no-training-data", "<b>data card later</b>"]
    assert not page.find("b")
