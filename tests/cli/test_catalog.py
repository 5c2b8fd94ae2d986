"""The console script, as a user runs it."""

import json

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.hub_server import Fault


def no_traceback(p):
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout


def test_build_bundled_offline(tmp_path):
    out = tmp_path / "cat"
    p = run_cli("catalog", "build", "--snapshot", "bundled", "--out", str(out), env={"HF_HUB_OFFLINE": "1"})
    assert p.returncode == 0, p.stderr
    assert "fixie-ai/ultravox-v0_5-llama-3_2-1b" in p.stdout
    assert "151 repos" in p.stdout and "families" in p.stdout
    lines = [ln for ln in p.stdout.splitlines() if ln.strip().startswith("│")]
    assert "ultravox-v0_5-llama-3_2-1b" in lines[0]  # largest downloads first
    assert (out / "families.csv").exists() and (out / "raw" / "models.json").exists()


def test_refresh_then_build_latest_show_diff(hub, tmp_path):
    db = tmp_path / "snap.sqlite"
    p = run_cli("catalog", "refresh", "--db", str(db), "--endpoint", hub.url, "--retry-wait", "0.01")
    assert p.returncode == 0, p.stderr
    assert "snapshot 1 saved" in p.stdout
    hub.state.fixtures.lists["audio-text-to-text"] = hub.state.fixtures.lists["audio-text-to-text"][:-10]
    p = run_cli("catalog", "refresh", "--db", str(db), "--endpoint", hub.url, "--retry-wait", "0.01")
    assert p.returncode == 0, p.stderr
    p = run_cli("catalog", "diff", "--db", str(db), "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert len(d["removed_models"]) > 0 and d["new_models"] == []
    p = run_cli("catalog", "diff", "bundled", "latest", "--db", str(db))
    assert p.returncode == 0 and "new families" in p.stdout
    p = run_cli(
        "catalog", "build", "--db", str(db), "--snapshot", "latest", "--out", str(tmp_path / "o"), "-q"
    )
    assert p.returncode == 0, p.stderr
    fams = json.loads((tmp_path / "o" / "families.json").read_text())
    assert any(f["canonical_id"] == "Qwen/Qwen2.5-Omni-7B" for f in fams["families"])
    p = run_cli("catalog", "show", "NexaAI/Qwen2-Audio-7B-GGUF", "--json", "--db", str(db))
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["model"]["family"] == "qwen2-audio-7b" and data["model"]["quant_files"]
    p = run_cli("catalog", "show", "qwen2-audio-7b", "--db", str(db))
    assert p.returncode == 0 and "NexaAI/Qwen2-Audio-7B-GGUF" in p.stdout
    p = run_cli("catalog", "snapshots", "--db", str(db))
    assert p.returncode == 0 and "bundled" in p.stdout


def test_refresh_partial_crawl_warns_and_saves(hub, tmp_path):
    hub.state.faults = [Fault(r"cursor=100", "500", times=-1)]
    db = tmp_path / "snap.sqlite"
    p = run_cli(
        "catalog", "refresh", "--db", str(db), "--endpoint", hub.url, "--retry-wait", "0.01", "--retries", "1"
    )
    assert p.returncode == 0
    assert "page 3 and later not fetched" in p.stderr and "incomplete" in p.stderr
    no_traceback(p)


def test_token_never_printed(hub, tmp_path):
    secret = "hf_TOPSECRET0987654321"
    db = tmp_path / "snap.sqlite"
    p = run_cli("catalog", "refresh", "--db", str(db), "--endpoint", hub.url, env={"HF_TOKEN": secret})
    assert p.returncode == 0
    assert secret not in p.stdout + p.stderr
    p = run_cli("catalog", "build", "--db", str(db), "--out", str(tmp_path / "o"), env={"HF_TOKEN": secret})
    for f in (tmp_path / "o").rglob("*"):
        if f.is_file():
            assert secret not in f.read_text()


@pytest.mark.parametrize(
    "args,message",
    [
        (["catalog", "show", "nobody/nothing", "--snapshot", "bundled"], "no model or family named"),
        (["catalog", "build", "--snapshot", "1999-01-01", "--db", "{tmp}/x.sqlite"], "no snapshot matches"),
        (["catalog", "build", "--snapshot", "latest", "--db", "{tmp}/x.sqlite"], "audiomm catalog refresh"),
        (["catalog", "build", "--db", "{tmp}"], "is a directory"),
        (["catalog", "build", "--snapshot", "bundled", "--out", "{tmp}/file.txt"], "is a file"),
        (
            [
                "catalog",
                "refresh",
                "--db",
                "{tmp}/x.sqlite",
                "--endpoint",
                "http://127.0.0.1:9",
                "--retries",
                "0",
            ],
            "returned no models",
        ),
        (["catalog", "diff", "--db", "{tmp}/x.sqlite"], "audiomm catalog refresh"),
    ],
)
def test_bad_input_is_one_error_line(tmp_path, args, message):
    (tmp_path / "file.txt").write_text("x")
    p = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert p.returncode != 0
    no_traceback(p)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], p.stderr


def test_offline_refresh_is_one_error_line(tmp_path):
    p = run_cli("catalog", "refresh", "--db", str(tmp_path / "x.sqlite"), env={"HF_HUB_OFFLINE": "1"})
    assert p.returncode != 0 and p.stderr.startswith("error: offline mode is on")
    no_traceback(p)
