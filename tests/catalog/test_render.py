"""Model pages: generated from data, readable with missing facts, valid links, real charts, changes."""

import copy
import re
from pathlib import Path

import pytest

from audiomm.catalog.facts import Facts
from audiomm.catalog.snapshots import Store, bundled_snapshot
from tests.helpers.cli import run_cli

LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("pages")
    r = run_cli("catalog", "pages", "--snapshot", "bundled", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "wrote 77 family pages, 4 chart files, index.md, index.html" in r.stdout
    return out


def md_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.md"))


def test_one_page_per_family_and_index(pages):
    fams = list((pages / "families").glob("*.md"))
    assert len(fams) == 77
    index = (pages / "index.md").read_text()
    assert index.count("](families/") == 77
    assert (
        "## Audio-text-to-text" in index
        and "![Parameters vs downloads by family](charts/params_vs_downloads.png)" in index
    )


def test_no_none_no_empty_rows_no_empty_tables(pages):
    for p in md_files(pages):
        text = p.read_text()
        assert "None" not in text and "nan" not in text.split(), p
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("|"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                assert all(cells), f"{p.name}: empty cell in {line!r}"
                if set(line) <= set("|-: "):  # a table's separator row must be followed by a row
                    assert i + 1 < len(lines) and lines[i + 1].startswith("|"), (
                        f"{p.name}: table without rows"
                    )


def test_page_with_missing_facts_reads_correctly(pages):
    text = (pages / "families" / "tinyoctopus.md").read_text()
    assert "parameter count unknown" in text and "no memory estimate" in text
    assert "| Parameters |" not in text and "| Licence |" not in text  # unknown facts are left out
    assert "| precision |" not in text


def test_rich_page_has_the_profile(pages):
    text = (pages / "families" / "qwen2-audio-7b-instruct.md").read_text()
    expected = [
        "[Paper](https://arxiv.org/abs/2407.10759)",
        "| Developer | Qwen team, Alibaba Cloud |",
        "| Max audio per call | 30 s (model card) |",
        "| audiomm chunks at | 30 s |",
        "| bf16 |",
        "| Q4_K_M |",
        "**vLLM**",
        "**llama.cpp**: GGUF in 4",
        "## Known limits",
        "knowledge base:",
        "fine-tuned as [stresslm](stresslm.md)",
    ]
    for line in expected:
        assert line in text, line


EXTERNAL = r"https://(huggingface\.co/[\w.-]+/[\w.-]+|arxiv\.org/abs/[\d.]+|github\.com/[\w./-]+)"


def test_links_resolve(pages):
    for p in md_files(pages):
        for target in LINK.findall(p.read_text()):
            if target.startswith("https://"):
                assert re.fullmatch(EXTERNAL, target), target
            else:
                assert (p.parent / target).resolve().exists(), f"{p.name}: broken link {target}"


def test_charts_are_real_images(pages):
    for name in ("params_vs_downloads", "families_by_size"):
        png = (pages / "charts" / f"{name}.png").read_bytes()
        svg = (pages / "charts" / f"{name}.svg").read_text()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
        assert "<svg" in svg and len(svg) > 20_000
    svg = (pages / "charts" / "params_vs_downloads.svg").read_text()
    assert "qwen2-audio-7b-instruct" in svg and "apache-2.0" in svg  # labels and legend drawn


def test_changes_page_from_two_snapshots(tmp_path):
    snap = bundled_snapshot()
    records = copy.deepcopy(snap.records)
    gone = next(r for r in records if r["id"] == "nvidia/music-flamingo-hf")
    newer = copy.deepcopy([r for r in records if r is not gone])
    for r in newer:
        if r["id"] == "Qwen/Qwen2-Audio-7B-Instruct":
            r["downloads"] = r["downloads"] + 5000
    db = tmp_path / "db.sqlite"
    with Store(db) as store:
        for recs, day in ((records, "2026-01-01"), (newer, "2026-02-01")):
            at = f"{day}T00:00:00+00:00"
            empty = {"facts": Facts(), "missing": [], "skipped": []}
            store.save(source="test", shape=snap.shape, records=recs, complete=True, taken_at=at, **empty)
    out = tmp_path / "pages"
    r = run_cli("catalog", "pages", "--db", str(db), "--out", str(out), "--no-charts")
    assert r.returncode == 0, r.stderr
    text = (out / "changes.md").read_text()
    assert "## Families gone" in text and "music-flamingo" in text
    assert "qwen2-audio-7b-instruct: 204,740 -> 209,740 (+5,000)" in text
    assert not (out / "charts").exists()


def test_pages_bad_out(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = run_cli("catalog", "pages", "--snapshot", "bundled", "--out", str(f))
    assert r.returncode != 0 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1


def test_html_index_sorts_and_filters(pages):
    from html.parser import HTMLParser

    class Rows(HTMLParser):
        rows, links, script = 0, [], False

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                Rows.rows += 1
            if tag == "a":
                Rows.links.append(dict(attrs)["href"])
            if tag == "script":
                Rows.script = True

    html = (pages / "index.html").read_text()
    Rows().feed(html)
    assert Rows.rows == 78 and Rows.script  # header + 77 families
    assert (
        "function sortBy" in html and "function filter" in html and "<script src" not in html
    )  # self-contained
    for href in Rows.links:
        assert href.startswith("https://huggingface.co/") or (pages / href).exists(), href


def test_pages_show_what_the_knowledge_base_says(pages):
    text = (pages / "families" / "qwen2-audio-7b-instruct.md").read_text()
    assert "GGUF in 4 repo(s)" in text and "very poor" in text  # llama.cpp's own docs
    text = (pages / "families" / "midashenglm-7b-0804.md").read_text()
    assert "| Audio tokens per second | 5 |" in text  # its own line, not Qwen2.5-Omni's 25
    text = (pages / "families" / "music-flamingo.md").read_text()
    assert "| audiomm chunks at | 600 s |" in text  # the preview is an Audio Flamingo 3 checkpoint
