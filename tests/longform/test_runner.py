"""audiomm run with the openai backend against a local server that checks the wire format."""

import json

import pytest

import audiomm
from audiomm import BackendConfig, RunOptions
from audiomm.errors import AudiommError
from audiomm.longform import runlog
from audiomm.longform.merge import stitch
from tests.helpers.audio import clip, join, write
from tests.helpers.cli import run_cli
from tests.helpers.openai_server import OpenAIServer

MODEL = "qwen2-audio-7b-instruct"


@pytest.fixture(scope="module")
def minutes(tmp_path_factory):
    """~3.5 minutes of real speech with pauses."""
    audio, _ = join([x for _ in range(16) for x in (clip(), 1.5)])
    return write(tmp_path_factory.mktemp("rec") / "minutes.m4a", audio)


def go(server, path, preset="transcript", *, cache=True, **kw):
    """A run against ``server``; ``kw`` are BackendConfig fields."""
    kw.setdefault("retries", 2)
    config = BackendConfig("openai", MODEL, base_url=server.url, api_key="sk-test", **kw)
    return audiomm.run(path, preset, config, RunOptions(cache=cache))


def test_long_recording_many_chunks_exact_audio(minutes):
    with OpenAIServer() as srv:
        r = go(srv, minutes)
    assert len(r.chunks) > 6
    assert r.coverage.covered_ratio == 1.0 and r.coverage.longest_chunk_s <= 30
    assert not srv.state.errors
    heard = sorted(round(a["duration_s"], 3) for a in srv.state.audio)
    assert heard == sorted(round(c.end_s - c.start_s, 3) for c in r.chunks)
    assert all(a["rate"] == 16000 and a["channels"] == 1 and a["width"] == 2 for a in srv.state.audio)
    assert all(a["rms"] > 0.01 for a in srv.state.audio)  # real speech went over the wire
    assert [c.text for c in r.chunks] == [f"heard {c.end_s - c.start_s:.2f} seconds" for c in r.chunks]
    assert r.text.count("heard") == len(r.chunks)


def test_rerun_recomputes_nothing(minutes):
    with OpenAIServer() as srv:
        first = go(srv, minutes)
        n = len(srv.state.audio)
        second = go(srv, minutes)
    assert len(srv.state.audio) == n  # no new audio request
    assert all(c.cached for c in second.chunks) and second.text == first.text


def test_crash_mid_job_then_resume(minutes):
    with OpenAIServer(crash_after=3) as srv:
        with pytest.raises(AudiommError, match="HTTP 500"):
            go(srv, minutes, concurrency=1, retries=0)
        assert len(srv.state.audio) == 3
        srv.state.crash_after = None
        r = go(srv, minutes)
    total = len(r.chunks)
    assert sum(c.cached for c in r.chunks) == 3
    assert len(srv.state.audio) == 3 + (total - 3)  # finished chunks were not redone


def test_429_500_and_timeout_are_retried(minutes):
    with OpenAIServer(faults=[("429", 2), ("500", 2), ("timeout", 1)]) as srv:
        r = go(srv, minutes, retries=5, timeout=1.5, cache=False)
    assert r.coverage.covered_ratio == 1.0 and all(c.text.startswith("heard") for c in r.chunks)


def test_length_is_retried_then_flagged(tmp_path):
    audio, _ = join([0.5, clip(), 1.0])
    path = write(tmp_path / "one.wav", audio)
    with OpenAIServer(length_for=1) as srv:
        r = go(srv, path, cache=False)
    assert r.chunks[0].finish_reason == "stop" and len(srv.state.audio) == 2  # retried once
    with OpenAIServer(length_for=5) as srv:
        r = go(srv, path, cache=False)
    assert r.chunks[0].flags == ["truncated"] and any("token limit" in w for w in r.warnings)


def test_summary_reduces_hierarchically(minutes):
    from audiomm.backends import load
    from audiomm.longform import run
    from audiomm.tasks import presets

    with OpenAIServer() as srv:
        b = load(BackendConfig("openai", MODEL, base_url=srv.url, retries=1))
        r = run(minutes, presets.get("meeting-summary"), b, RunOptions(cache=False, reduce_budget_chars=200))
    assert len(srv.state.text_requests) > 2  # several groups, then a reduce of the reduces
    assert r.text.startswith("summary of")


def test_stitch_drops_repeated_words():
    assert stitch("and so my fellow Americans ask not", "Ask not what your country", 6) == "what your country"
    assert stitch("nothing shared here", "new words", 5) == "new words"


def test_cli_formats_and_logs(minutes, tmp_path):
    with OpenAIServer() as srv:
        for fmt in ("json", "srt", "vtt", "md"):
            out = tmp_path / f"out.{fmt}"
            args = ["--api-key", "sk-SECRET-123", "--format", fmt, "--out", str(out)]
            p = run_cli("run", str(minutes), "--model", MODEL, "--base-url", srv.url, *args)
            assert p.returncode == 0, p.stderr
            assert "sk-SECRET-123" not in out.read_text() + p.stdout + p.stderr
        d = json.loads((tmp_path / "out.json").read_text())
        assert {"text", "chunks", "coverage"} <= set(d)
        assert {"start_s", "end_s", "text", "finish_reason"} <= set(d["chunks"][0])
        assert d["coverage"]["covered_ratio"] == 1.0
        srt = (tmp_path / "out.srt").read_text()
        assert srt.startswith("1\n00:00:") and " --> " in srt
        assert (tmp_path / "out.vtt").read_text().startswith("WEBVTT")
        assert "coverage:" in (tmp_path / "out.md").read_text()
        p = run_cli("run", str(minutes), "--model", MODEL, "--base-url", srv.url)  # streams to the terminal
        assert p.returncode == 0 and "heard" in p.stdout and "coverage:" in p.stdout
    p = run_cli("logs", "--json")
    rows = json.loads(p.stdout)
    assert len(rows) >= 5 and rows[0]["model"] == MODEL
    assert "sk-SECRET-123" not in p.stdout


def test_user_preset_dir_and_template(tmp_path, minutes):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "food.toml").write_text(
        'name = "food"\nkind = "summary"\ndescription = "food log"\nchunk_prompt = "List foods. {template}"\n'
        'reduce_prompt = "Fill {template} from {texts}"\n'
    )
    p = run_cli("presets", "--presets-dir", str(d))
    assert "food" in p.stdout
    (tmp_path / "t.md").write_text("Breakfast: ...\nSymptoms: ...")
    with OpenAIServer() as srv:
        args = ["--preset", "voice-journal", "--template", str(tmp_path / "t.md"), "--format", "json"]
        p = run_cli("run", str(minutes), "--model", MODEL, "--base-url", srv.url, *args)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["text"].startswith("summary of")


@pytest.mark.parametrize(
    "args,message",
    [
        (["--preset", "nope"], "unknown preset"),
        (["--model", "other-model"], "has no model"),
        (["--preset", "voice-journal"], "--template"),
        (["--max-chunk-seconds", "60"], "over the 30 s window"),
        (["--format", "docx"], "unknown --format"),
        (["--backend", "tensorflow"], "unknown backend"),
    ],
)
def test_cli_bad_input(minutes, args, message):
    with OpenAIServer() as srv:
        base = ["run", str(minutes), "--base-url", srv.url, "--retries", "0"]
        if "--model" not in args:
            base += ["--model", MODEL]
        p = run_cli(*base, *args)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("error:") and message in lines[-1], p.stderr
    assert len(lines) == 1, p.stderr


def test_cli_unreachable_server_and_bad_file(tmp_path, minutes):
    p = run_cli(
        "run", str(minutes), "--model", MODEL, "--base-url", "http://127.0.0.1:9/v1", "--retries", "0"
    )
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode != 0 and lines == [lines[0]] and "cannot reach" in lines[0]
    (tmp_path / "x.wav").write_text("not audio")
    p = run_cli("run", str(tmp_path / "x.wav"), "--model", MODEL, "--base-url", "http://127.0.0.1:9/v1")
    assert p.returncode != 0 and p.stderr.strip().startswith("error:") and "x.wav" in p.stderr
    assert all(e.file != str(tmp_path / "x.wav") for e in runlog.read())


def test_retries_option_reaches_the_backend(tmp_path):
    audio, _ = join([0.5, clip(), 1.0])
    path = write(tmp_path / "r.wav", audio)
    with OpenAIServer(faults=[("500", 1)]) as srv:
        with pytest.raises(AudiommError, match="HTTP 500"):
            go(srv, path, retries=0, cache=False)
        assert srv.state.audio == []  # one failed request, not retried
