"""Memory estimates against hand-computed cases and published figures; hardware fit; the CLI."""

import json

import pytest

from audiomm import sizing
from audiomm.catalog.process import from_snapshot
from audiomm.catalog.snapshots import bundled_snapshot
from tests.helpers.cli import run_cli

GB = 1e9


@pytest.fixture(scope="module")
def cat():
    return from_snapshot(bundled_snapshot())


def est(cat, family, q="bf16", **kw):
    f = cat.family(family)
    return sizing.estimate(f.canonical_id, f.family, f.params_total, sizing.quant(q), **kw)


def terms(e):
    return {t.name: t.bytes for t in e.terms}


def test_qwen2_audio_hand_computed(cat):
    e = est(cat, "qwen2-audio-7b-instruct")
    t = terms(e)
    enc = 637e6  # Whisper-large-v3 encoder
    assert t["decoder weights"] == pytest.approx((8.4e9 - enc) * 2)
    assert t["audio encoder"] == pytest.approx(enc * 2)
    # 32 layers x 32 KV heads x 128 head dim, K and V, 2 bytes; 256 prompt + 30 s x 25/s + 512 output tokens
    assert t["KV cache"] == 2 * 32 * 32 * 128 * 2 * (256 + 750 + 512)
    assert t["runtime overhead"] == pytest.approx(
        1.0 * GB + 0.05 * (t["decoder weights"] + t["audio encoder"])
    )
    assert e.total_bytes == pytest.approx(sum(t.values()))
    assert not e.notes


def test_published_figures(cat):
    # Qwen2-Audio-7B: ~16.8 GB of bf16 safetensors ("about 16 GB")
    assert est(cat, "qwen2-audio-7b-instruct").weights_gb == pytest.approx(16.8, rel=0.05)
    # Voxtral model cards: ~9.5 GB of GPU memory (Mini, bf16), ~55 GB (Small, bf16), for short clips
    assert 9.5 <= est(cat, "voxtral-mini-3b-2507", window_s=30).total_gb <= 9.5 * 1.25
    assert est(cat, "voxtral-small-24b-2507", window_s=30).total_gb == pytest.approx(55, rel=0.10)
    # at its true window (40 min of audio in one call: 30,000 audio tokens) the KV cache needs ~3.7 GB more
    full = est(cat, "voxtral-mini-3b-2507")
    kv = terms(full)["KV cache"]
    assert full.window_s == 2400 and kv == 2 * 30 * 8 * 128 * 2 * (256 + 2400 * 12.5 + 1024)


def test_kv_cache_scales_with_batch_and_window(cat):
    one = terms(est(cat, "qwen2-audio-7b-instruct"))["KV cache"]
    four = terms(est(cat, "qwen2-audio-7b-instruct", batch=4))["KV cache"]
    short = terms(est(cat, "qwen2-audio-7b-instruct", window_s=10))["KV cache"]
    assert four == 4 * one
    assert one - short == 2 * 32 * 32 * 128 * 2 * (20 * 25)


def test_precisions_order_and_embeddings_kept(cat):
    totals = {q: est(cat, "qwen2-audio-7b-instruct", q).total_gb for q in sizing.QUANTS}
    assert totals["bf16"] > totals["int8"] > totals["nf4"]
    gguf = [totals[q] for q in sizing.GGUF_QUANTS]
    assert gguf == sorted(gguf, reverse=True)
    # nf4 keeps the 156032 x 4096 embedding and LM head (untied) at 16-bit
    e = terms(est(cat, "qwen2-audio-7b-instruct", "nf4"))["decoder weights"]
    emb = 156032 * 4096 * 2
    assert e == pytest.approx((8.4e9 - 637e6) * 4.13 / 8 + emb * (16 - 4.13) / 8)


def test_real_gguf_file_size_wins(cat):
    f = cat.family("qwen2-audio-7b-instruct")
    files = {"gguf_file_bytes": 4.68e9, "mmproj_bytes": 1.3e9}
    e = sizing.estimate(f.canonical_id, f.family, f.params_total, sizing.quant("Q4_K_M"), **files)
    t = terms(e)
    assert t["decoder weights"] == 4.68e9 and t["audio encoder"] == 1.3e9
    assert any("file size" in x.how for x in e.terms)


def test_fallbacks_are_said(cat):
    e = est(cat, "omniaudio-2.6b", "Q4_K_M")
    assert any("decoder shape unknown" in n for n in e.notes)
    assert any("audio encoder size unknown" in n for n in e.notes)
    assert "estimated" in next(t.source for t in e.terms if t.name == "KV cache")


def test_fits(cat):
    big = {r.family: r for r in sizing.fits(cat, vram_gb=24, ram_gb=None)}
    assert big["qwen2-audio-7b-instruct"].quant == "bf16" and big["qwen2-audio-7b-instruct"].device == "gpu"
    small = {r.family: r for r in sizing.fits(cat, vram_gb=8, ram_gb=None)}
    q = small["qwen2-audio-7b-instruct"]
    assert q.quant not in ("bf16", "int8", "fp8") and q.total_gb <= 8
    assert "voxtral-small-24b-2507" not in small
    rows = sizing.fits(cat, vram_gb=8, ram_gb=None)
    assert [r.downloads for r in rows] == sorted((r.downloads for r in rows), reverse=True)
    # GGUF-only families are never offered in bf16 (no weights transformers could load)
    assert all(o.name.startswith("Q") for o in sizing.options(cat.family("omniaudio-2.6b")))
    assert not sizing.fits(cat, vram_gb=0.5, ram_gb=None)


def test_cli_size_and_fits(tmp_path):
    r = run_cli("size", "Qwen/Qwen2-Audio-7B-Instruct", "--quant", "nf4", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["estimate"]["quant"] == "nf4" and doc["estimate"]["family"] == "qwen2-audio-7b-instruct"
    names = {t["name"] for t in doc["estimate"]["terms"]}
    assert names == {"decoder weights", "audio encoder", "KV cache", "runtime overhead"}
    assert [a["quant"] for a in doc["all"]][:2] == ["bf16", "fp8"]
    r = run_cli("size", "qwen2-audio-7b-instruct")
    assert r.returncode == 0 and "KV cache" in r.stdout and "Q4_K_M" in r.stdout
    r = run_cli("catalog", "fits", "--vram", "8", "--json")
    rows = json.loads(r.stdout)
    assert rows and all(x["total_gb"] <= 8 for x in rows)
    r = run_cli("catalog", "fits-here")
    assert (
        r.returncode == 0 and r.stdout.startswith("fits this machine (") and len(r.stdout.splitlines()) == 1
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["size", "no-such-model"], "not in the catalog"),
        (["size", "qwen2-audio-7b", "--quant", "Q9"], "unknown quantization"),
        (["size", "qwen2-audio-7b", "--batch", "0"], "--batch must be 1 to 4096"),
        (["catalog", "fits"], "give --vram"),
        (["catalog", "fits", "--vram", "-3"], "--vram must be a number above 0"),
    ],
)
def test_cli_bad_input(args, message):
    r = run_cli(*args)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_live_crawl_gguf_file_sizes_are_used(hub):
    """A crawl (local Hub API server) knows each GGUF file's size: the estimate uses it, not bits x params."""
    from audiomm.catalog.hub import HubCrawler
    from audiomm.catalog.process import build, parse_records

    res = HubCrawler(None, endpoint=hub.url, base_wait=0.01, max_wait=0.05, timeout=5).crawl()
    raw, skipped = parse_records("hub-api", res.records)
    live = build(raw, res.facts, skipped)
    f = live.family("qwen2-audio-7b-instruct")
    files = [q for i in f.members for q in live.model(i).quant_files if q.quant == "Q4_K_M" and q.size_bytes]
    assert files
    e = sizing.estimate_family(live, f, sizing.quant("Q4_K_M"))
    t = terms(e)
    assert t["decoder weights"] in {float(q.size_bytes) for q in files}
    assert t["audio encoder"] == 1_280_000_000  # the mmproj file
    assert "file size" in e.terms[0].how
