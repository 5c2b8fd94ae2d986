"""What the web page needs from the gateway, over plain HTTP: the page and its files (same origin only, a
strict Content-Security-Policy, nosniff), the job listing, a job's recording with byte ranges and its
retention, the presets, the catalog (families, what fits, family pages), the evaluation reports."""

import re
import time
from dataclasses import asdict
from html.parser import HTMLParser

import pytest

pytest.importorskip("fastapi", reason="audiomm serve needs the [serve] extra")

from audiomm import sizing
from audiomm.catalog.process import from_snapshot
from audiomm.catalog.snapshots import bundled_snapshot
from audiomm.serve.web import STATIC
from tests.helpers.gateway import Gateway, recording, systems_file
from tests.helpers.openai_server import MODEL, OpenAIServer

KEEP_S = 2.0  # how long this gateway keeps a recording after its job ends


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    for folder in ("a", "b/c"):
        (root / folder).mkdir(parents=True)
        (root / folder / "report.html").write_text(f"<h1>{folder}</h1>")
    (root / "a" / "notes.html").write_text("not a report")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "report.html").write_text("private")
    (root / "link").symlink_to(outside)
    return root


@pytest.fixture(scope="module")
def gateway(reports, tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    with OpenAIServer() as server:
        systems = systems_file(root / "systems.toml", {"sys": server.url}, MODEL, max_chunk_seconds=12)
        options = ("--reports", str(reports), "--keep-audio-hours", str(KEEP_S / 3600))
        with Gateway(systems, root / "data", *options) as gw:
            yield gw


def job(gw: Gateway, path) -> dict:
    """A job submitted and waited for."""
    with gw.http() as http:
        sent = http.post("/v1/jobs", files={"file": (path.name, path.read_bytes())}, data={"system": "sys"})
        state = sent.json()
        while state["status"] not in ("done", "failed", "cancelled"):
            time.sleep(0.05)
            state = http.get(f"/v1/jobs/{state['id']}").json()
    return state


def attributes(html: str) -> list[str]:
    """Every attribute name in ``html``'s tags."""
    names: list[str] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            names.extend(name for name, _ in attrs)

    Collect().feed(html)
    return names


def test_the_page_and_its_files_are_same_origin_under_a_strict_policy(gateway):
    with gateway.http() as http:
        page, script, models = http.get("/"), http.get("/static/app.js"), http.get("/v1/models")
        health = http.get("/health").json()
    policy = page.headers["content-security-policy"]
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self';" in policy and "default-src 'none'" in policy and "unsafe" not in policy
    assert "frame-ancestors 'none'" in policy and page.headers["cache-control"] == "no-cache"
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert all(r.headers["x-content-type-options"] == "nosniff" for r in (page, script, models))
    assert health["keys"] is False and health["max_upload_mb"] == 500
    html = page.text
    assert re.findall(r"<script[^>]*>", html) == ['<script type="module" src="/static/app.js">']
    assert all(url.startswith(("/", "#", "data:")) for url in re.findall(r'(?:src|href)="([^"]*)"', html))
    assert not [
        a for a in attributes(html) if a == "style" or a.startswith("on")
    ]  # no inline style or handler
    for js in STATIC.glob("*.js"):
        text = js.read_text()
        assert all(m.startswith("./") for m in re.findall(r'from "([^"]+)"', text)), js.name
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "eval(" not in text, js.name


def test_jobs_are_listed_newest_first(gateway, tmp_path):
    first = job(gateway, recording(tmp_path / "first.wav", 1, pause=1.2)[0])
    second = job(gateway, recording(tmp_path / "second.wav", 1, pause=1.25)[0])
    with gateway.http() as http:
        listed = http.get("/v1/jobs").json()
        one = http.get("/v1/jobs", params={"limit": 1}).json()["data"]
        bad = [
            http.get("/v1/jobs", params={"limit": v}).status_code for v in ("0", "x", "501", "²", "9" * 5000)
        ]
    ids = [j["id"] for j in listed["data"]]
    assert listed["object"] == "list" and ids.index(second["id"]) < ids.index(first["id"])
    assert [j["id"] for j in one] == [second["id"]] and bad == [400] * 5
    shown = listed["data"][0]
    assert shown["kind"] == "transcript" and shown["prompt"] is None and shown["with_template"] is False


def test_a_recording_is_served_with_ranges_until_its_retention_runs_out(gateway, tmp_path):
    path = recording(tmp_path / "kept.wav", 1, pause=1.3)[0]
    data = path.read_bytes()
    done = job(gateway, path)
    url = f"/v1/jobs/{done['id']}/audio"
    with gateway.http() as http:
        whole = http.get(url)
        part = http.get(url, headers={"Range": "bytes=100-199"})
    assert (
        whole.status_code == 200 and whole.content == data and whole.headers["content-type"] == "audio/x-wav"
    )
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    time.sleep(KEEP_S + 0.2)
    job(gateway, recording(tmp_path / "next.wav", 1, pause=1.35)[0])  # its end removes what is past retention
    with gateway.http() as http:
        gone = http.get(url)
        result = http.get(f"/v1/jobs/{done['id']}/result")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "audio_gone"
    assert re.search(r"no longer kept \(the gateway keeps it [0-9.]+ h after its job ends\)", gone.text)
    assert result.status_code == 200  # the text stays


def test_the_presets_and_the_catalog(gateway):
    cat = from_snapshot(bundled_snapshot())
    with gateway.http() as http:
        presets = {p["name"]: p for p in http.get("/v1/presets").json()["data"]}
        families = http.get("/v1/catalog/families").json()
        fits = http.get("/v1/catalog/fits", params={"vram": "12"}).json()
        bad = [http.get("/v1/catalog/fits", params=q).status_code for q in ({}, {"vram": "-1"}, {"ram": "x"})]
        page = http.get("/v1/catalog/families/qwen2-audio-7b-instruct")
        missing = http.get("/v1/catalog/families/nothing-like-it")
    assert presets["voice-journal"]["needs_template"] and presets["transcript"]["kind"] == "transcript"
    assert len(families["data"]) == len(cat.families) and families["snapshot"]["date"] == "2025-12-07"
    assert [{k: f[k] for k in f if k != "slug"} for f in fits["data"]] == [
        asdict(f) for f in sizing.fits(cat, 12, None)
    ]
    assert fits["vram_gb"] == 12 and fits["ram_gb"] is None and bad == [400, 400, 400]
    assert page.headers["content-type"].startswith("text/markdown")
    assert page.text.startswith("# Qwen/Qwen2-Audio-7B-Instruct\n") and "## Memory" in page.text
    assert missing.status_code == 404


def test_only_the_reports_under_the_folder_are_listed_and_served(gateway):
    with gateway.http() as http:
        listed = http.get("/v1/reports").json()["data"]
        served = [http.get(r["url"]) for r in listed]
        refused = [
            http.get(p).status_code
            for p in ("/reports/a/notes.html", "/reports/link/report.html", "/reports/../x/report.html")
        ]
    assert sorted(r["name"] for r in listed) == ["a", "b/c"]
    assert all(r.status_code == 200 and "sandbox" in r.headers["content-security-policy"] for r in served)
    assert refused == [404, 404, 404]
