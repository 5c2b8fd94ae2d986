"""The real huggingface_hub HTTP layer against a local server speaking the Hub API, with faults."""

import time

import pytest

from audiomm.catalog.hub import EXPAND, HubCrawler
from audiomm.catalog.process import build, parse_records
from audiomm.catalog.snapshots import Store
from audiomm.errors import AudiommError
from tests.helpers.hub_server import Fault, HubServer


def crawl(hub, store=None, **kw):
    kw.setdefault("base_wait", 0.01)
    kw.setdefault("max_wait", 0.05)
    kw.setdefault("timeout", 5)
    return HubCrawler(store, endpoint=hub.url, **kw).crawl()


def catalog(res):
    raw, skipped = parse_records("hub-api", res.records)
    return build(raw, res.facts, skipped)


def test_full_crawl_in_a_few_pages(hub, tmp_path):
    res = crawl(hub, Store(tmp_path / "db.sqlite"))
    assert res.complete, res.missing
    assert len(res.records) == 151 + 2
    list_calls = [p for p in hub.state.requests if p.startswith("/api/models?")]
    assert len(list_calls) == 5  # 151 at 50 a page + one any-to-any page
    first = list_calls[0]
    for e in EXPAND:
        assert f"expand={e}" in first
    assert "pipeline_tag=audio-text-to-text" in first
    cat = catalog(res)
    # live facts: the composite's config.json names its components, whose sizes come from model info
    m = cat.model("fixie-ai/ultravox-v0_5-llama-3_2-1b")
    assert [c.source.startswith("Hub API model info") for c in m.components] == [True, False]
    assert round(m.params_total / 1e9, 2) == 1.92
    assert any(f.source.startswith("config.json of fixie-ai/ultravox-v0_5-llama-3_2-1b@") for f in res.facts)
    # GGUF: parameter count from the GGUF metadata, and each quant file with its size
    g = cat.model("NexaAI/Qwen2-Audio-7B-GGUF")
    assert g.params_source == "gguf-metadata" and g.params_total == 7_615_616_512
    quants = {q.quant: q.size_bytes for q in g.quant_files}
    assert quants["Q4_K_M"] == int(7_615_616_512 * 4.85 / 8)
    assert {"Q2_K", "Q8_0", "F16", "mmproj-F16"} <= set(quants)
    # any-to-any: kept when it takes audio, with the reason; excluded otherwise
    omni = cat.model("Qwen/Qwen2.5-Omni-7B")
    assert not omni.excluded and "Qwen2_5OmniModel" in omni.audio_reason
    assert cat.model("deepseek-ai/Janus-Pro-7B").excluded
    # the parent of midashenglm is now in the catalog
    assert cat.family("midashenglm-7b-0804").parent_family == "qwen2.5-omni-7b"


def test_second_crawl_uses_the_cache(hub, tmp_path):
    store = Store(tmp_path / "db.sqlite")
    cold = crawl(hub, store)
    warm = crawl(hub, store)
    assert warm.requests == 5 < cold.requests
    assert {f.repo for f in warm.facts} == {f.repo for f in cold.facts}


def test_429_storm_then_success(hub):
    hub.state.faults = [Fault(r"/api/models\?", "429", times=4)]
    res = crawl(hub)
    assert res.complete and len(res.records) == 153
    assert sum(p.startswith("/api/models?") for p in hub.state.requests) == 5 + 4


def test_500_and_timeout_and_drop_are_retried(hub):
    hub.state.faults = [
        Fault(r"cursor=50", "500", times=1),
        Fault(r"cursor=100", "timeout", times=1, delay=1.5),
        Fault(r"cursor=150", "drop", times=1),
        Fault(r"/resolve/", "500", times=2),
    ]
    res = crawl(hub, timeout=0.5)
    assert res.complete, res.missing
    assert len(res.records) == 153


def test_crawl_that_fails_part_way_keeps_what_it_has(hub, tmp_path):
    hub.state.faults = [Fault(r"cursor=100", "500", times=-1), Fault(r"/tree/", "drop", times=-1)]
    res = crawl(hub, max_retries=2)
    assert not res.complete
    assert len(res.records) == 100 + 2  # two audio-text-to-text pages + any-to-any
    assert res.missing[0].startswith("audio-text-to-text: page 3 and later not fetched")
    assert any("file sizes not fetched" in m for m in res.missing)
    store = Store(tmp_path / "db.sqlite")
    sid = store.save(
        source=hub.url,
        shape="hub-api",
        records=res.records,
        facts=res.facts,
        complete=False,
        missing=res.missing,
        skipped=res.skipped,
    )
    snap = store.load(sid)
    assert not snap.complete and snap.missing == res.missing


def test_a_page_that_is_not_json_is_reported(hub):
    hub.state.faults = [Fault(r"pipeline_tag=any-to-any", "bad-json", times=-1)]
    res = crawl(hub)
    assert len(res.records) == 151
    assert res.missing == [res.missing[0]] and res.missing[0].startswith("any-to-any: page 1")


def test_malformed_and_hostile_records_are_skipped_one_line_each(hub):
    bad = [
        {"id": "../../x", "downloads": 1},
        {"id": "ok/unicode-ñame", "downloads": 1},
        {"id": "ok/huge", "downloads": 10**40},
        {
            "id": "ok/nulls",
            "downloads": None,
            "likes": None,
            "tags": None,
            "safetensors": None,
            "config": None,
        },
        {
            "id": "ok/weird-dtype",
            "safetensors": {"parameters": {"F3_WHAT": 5}},
            "tags": ["audio-text-to-text"],
        },
        {"id": "ok/bad-st", "safetensors": {"parameters": "lots"}},
        {"downloads": 5},
        "just a string",
        None,
    ]
    hub.state.extra_items = {"audio-text-to-text": bad}
    res = crawl(hub)
    assert res.complete
    ids = {r["id"] for r in res.records}
    assert {"ok/nulls", "ok/weird-dtype"} <= ids
    assert not ids & {"../../x", "ok/unicode-ñame", "ok/huge", "ok/bad-st"}
    assert len(res.skipped) == 7
    assert all("\n" not in s for s in res.skipped)
    assert any("invalid repo id '../../x'" in s for s in res.skipped)


def test_list_models_would_die_on_one_malformed_item(hub):
    """Why the crawler pages itself: huggingface_hub's list_models raises inside its generator."""
    from huggingface_hub import HfApi

    hub.state.extra_items = {"audio-text-to-text": [{"id": "ok/bad", "safetensors": {"parameters": {}}}]}
    hub.state.page_size = 500
    with pytest.raises(KeyError):
        list(HfApi(endpoint=hub.url).list_models(pipeline_tag="audio-text-to-text", expand=["safetensors"]))
    assert len(crawl(hub).records) == 154


def test_token_is_sent_but_never_stored(hub, tmp_path, monkeypatch):
    secret = "hf_SECRETtokenVALUE123"
    monkeypatch.setenv("HF_TOKEN", secret)
    store = Store(tmp_path / "db.sqlite")
    res = HubCrawler(store, endpoint=hub.url, token=secret).crawl()
    assert all(a == f"Bearer {secret}" for a in hub.state.auth)
    store.save(
        source=hub.url,
        shape="hub-api",
        records=res.records,
        facts=res.facts,
        complete=True,
        missing=[],
        skipped=[],
    )
    store.close()
    assert secret.encode() not in (tmp_path / "db.sqlite").read_bytes()
    for p in tmp_path.glob("db.sqlite*"):
        assert secret.encode() not in p.read_bytes()


def test_offline_mode_refuses_to_crawl(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AudiommError, match="offline mode"):
        crawl(hub)
    assert hub.state.requests == []


def test_unreachable_endpoint_reports_missing_not_traceback():
    t = time.time()
    res = HubCrawler(None, endpoint="http://127.0.0.1:9", max_retries=1, base_wait=0.01, timeout=1).crawl()
    assert res.records == [] and len(res.missing) == 2
    assert "ConnectError" in res.missing[0]
    assert time.time() - t < 30


def test_hf_endpoint_env_is_respected(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    c = HubCrawler(None, base_wait=0.01, extras=False, pipeline_tags=("any-to-any",))
    assert c.endpoint == hub.url
    assert len(c.crawl().records) == 2


def test_latency_server_serves_slowly():
    with HubServer(latency=0.05) as slow:
        t = time.time()
        HubCrawler(None, endpoint=slow.url, extras=False, pipeline_tags=("any-to-any",)).crawl()
        assert time.time() - t >= 0.05
