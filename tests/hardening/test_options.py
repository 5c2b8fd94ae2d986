"""Option values: every value no run could take is one error line before any model call (never silently
accepted, never a raw exception); a broken user preset file costs only itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiomm.errors import AudiommError
from audiomm.tasks import presets
from tests.helpers.audio import speech
from tests.helpers.cli import one_error, run_cli
from tests.helpers.openai_server import MODEL, OpenAIServer


@pytest.fixture(scope="module")
def rec(tmp_path_factory) -> Path:
    return speech(tmp_path_factory.mktemp("rec") / "talk.wav")


@pytest.mark.parametrize(
    "args,message",
    [
        (["--max-chunk-seconds", "0"], "--max-chunk-seconds must be at least 1 second"),
        (["--max-chunk-seconds", "nan"], "--max-chunk-seconds must be at least 1 second"),
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--concurrency", "-3"], "--concurrency must be at least 1"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--batch-size", "-1"], "--batch-size must be at least 1"),
        (["--max-new-tokens", "0"], "--max-new-tokens must be at least 1"),
        (["--max-new-tokens", "-1"], "--max-new-tokens must be at least 1"),
        (["--retries", "-1"], "--retries must be at least 0"),
        (["--timeout", "-1"], "--timeout must be a positive number"),
        (["--timeout", "0"], "--timeout must be a positive number"),
        (["--timeout", "nan"], "--timeout must be a positive number"),
        (["--timeout", "inf"], "--timeout must be a positive number"),
        (["--concurrency", "many"], "Invalid value for '--concurrency'"),
        (["--no-such-option"], "No such option"),
    ],
)
def test_run_option_values(rec, args, message):
    with OpenAIServer() as srv:
        p = run_cli("run", str(rec), "--model", MODEL, "--base-url", srv.url, *args)
        assert srv.state.audio == [] and srv.state.text_requests == []
    line = one_error(p)
    assert message in line, line


@pytest.mark.parametrize(
    "args,message",
    [
        (["size", "qwen2-audio-7b-instruct", "--window", "nan"], "--window must be a number above 0"),
        (["size", "qwen2-audio-7b-instruct", "--window", "inf"], "--window must be a number above 0"),
        (["size", "qwen2-audio-7b-instruct", "--window", "-5"], "--window must be a number above 0"),
        (["size", "qwen2-audio-7b-instruct", "--batch", "0"], "--batch must be 1 to 4096"),
        (["size", "qwen2-audio-7b-instruct", "--batch", "1000000000000"], "--batch must be 1 to 4096"),
        (["size", "qwen2-audio-7b-instruct", "--batch", "1e12"], "Invalid value for '--batch'"),
        (["catalog", "fits", "--vram", "nan"], "--vram must be a number above 0"),
        (["catalog", "fits", "--vram", "inf"], "--vram must be a number above 0"),
        (["catalog", "fits", "--vram", "0"], "--vram must be a number above 0"),
        (["catalog", "fits", "--ram", "-inf"], "--ram must be a number above 0"),
        (["catalog", "fits", "--vram", "24", "--window", "nan"], "--window must be a number above 0"),
    ],
)
def test_catalog_option_values(args, message):
    line = one_error(run_cli(*args, "--snapshot", "bundled"))
    assert message in line, line


@pytest.mark.parametrize(
    "args,message",
    [
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--temperature", "nan"], "--temperature must be 0 or more"),
        (["--temperature", "-1"], "--temperature must be 0 or more"),
    ],
)
def test_eval_option_values(rec, tmp_path, args, message):
    with OpenAIServer() as srv:
        systems = tmp_path / "systems.toml"
        systems.write_text(f'[[system]]\nname = "a"\nmodel = "{MODEL}"\nbase_url = "{srv.url}"\n')
        base = [
            "eval",
            "run",
            "--systems",
            str(systems),
            "--recordings",
            str(rec),
            "--out",
            str(tmp_path / "ev"),
        ]
        p = run_cli(*base, *args)
        assert srv.state.audio == [] and srv.state.text_requests == []
    assert message in one_error(p)
    assert not (tmp_path / "ev").exists()


@pytest.fixture
def user_presets(tmp_path) -> Path:
    """The user's presets directory: one good preset, one broken TOML file."""
    d = tmp_path / "home" / "presets"
    d.mkdir(parents=True)
    (d / "food.toml").write_text(
        'kind = "summary"\nchunk_prompt = "List foods."\nreduce_prompt = "Merge {texts}"\n'
    )
    (d / "broken.toml").write_text('kind = "summary\nchunk_prompt = ')
    return d


def test_a_broken_user_preset_costs_only_itself(rec, user_presets):
    with OpenAIServer() as srv:
        for preset in ("transcript", "food"):
            p = run_cli("run", str(rec), "--model", MODEL, "--base-url", srv.url, "--preset", preset)
            assert p.returncode == 0, p.stderr
            lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1 and lines[0].startswith("warning: ") and "broken.toml" in lines[0]
            assert "skipped" in lines[0]
        p = run_cli("run", str(rec), "--model", MODEL, "--base-url", srv.url, "--preset", "broken")
        assert srv.state.audio and len(srv.state.audio) == 2
    line = one_error(p)
    assert str(user_presets / "broken.toml") in line and "not a valid preset file" in line
    p = run_cli("presets")
    assert p.returncode == 0 and "food" in p.stdout and "broken.toml" in p.stderr


def test_the_bundled_presets_stay_strict(tmp_path, monkeypatch):
    bundled = tmp_path / "bundled" / "presets"
    bundled.mkdir(parents=True)
    (bundled / "transcript.toml").write_text("kind = 'transcript'\n")  # no chunk_prompt

    class Files:
        def files(self, package):
            return tmp_path / "bundled"

    monkeypatch.setattr(presets, "resources", Files())
    with pytest.raises(AudiommError, match="needs chunk_prompt"):
        presets.get("transcript")
