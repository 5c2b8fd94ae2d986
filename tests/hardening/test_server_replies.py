"""Servers that answer wrong: every reply that is not a chat completion is named in one line; an empty
answer for speech is asked again, then flagged, never counted as covered and never cached; no server is
ever contacted that the user did not name."""

import pytest

import audiomm
from audiomm import BackendConfig, RunOptions
from audiomm.backends import load
from audiomm.backends.base import BackendError, Request
from tests.helpers.audio import clip, join, write
from tests.helpers.cli import run_cli
from tests.helpers.openai_server import OpenAIServer

MODEL = "qwen2-audio-7b-instruct"


def config(server, **kw) -> BackendConfig:
    return BackendConfig(
        "openai", MODEL, base_url=server.url, api_key="k", retries=kw.pop("retries", 0), **kw
    )


@pytest.fixture(scope="module")
def one(tmp_path_factory):
    """One chunk of speech: the first two requests are both for it."""
    return write(tmp_path_factory.mktemp("rec") / "one.flac", join([0.5, clip(), 0.5])[0])


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return write(tmp_path_factory.mktemp("rec") / "speech.flac", join([clip(), 1.0, clip(), 1.0, clip()])[0])


@pytest.mark.parametrize(
    "fault, message",
    [
        ("html", "not a chat completion"),
        ("garbage", "not a chat completion"),
        ("choices_string", "not a chat completion"),
        ("null_choices", "not a chat completion"),
        ("int_content", "content is int, not text"),
        ("no_message", "HTTP 500"),
    ],
)
def test_replies_that_are_not_chat_completions(fault, message):
    with OpenAIServer(faults=[(fault, 1)]) as srv:
        with pytest.raises(BackendError, match=message) as info:
            list(load(config(srv)).generate([Request("Hi.", clip()[:16000])]))
    assert "\n" not in str(info.value) and "AttributeError" not in str(info.value)


def test_a_bad_reply_is_one_line_from_the_cli(speech):
    with OpenAIServer(faults=[("html", 99)]) as srv:
        p = run_cli("run", str(speech), "--model", MODEL, "--base-url", srv.url, "--retries", "0")
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode != 0 and len(lines) == 1 and "not a chat completion" in lines[0], p.stderr


@pytest.mark.parametrize("fault", ["empty", "null"])
def test_an_empty_answer_is_asked_again(fault, speech):
    with OpenAIServer(faults=[(fault, 1)]) as srv:
        r = audiomm.run(speech, "transcript", config(srv), RunOptions(cache=False, log=False))
    assert all(c.text for c in r.chunks) and r.coverage.covered_ratio == 1.0 and not r.warnings


def test_an_empty_answer_twice_is_flagged_not_covered_not_cached(one):
    with OpenAIServer(faults=[("empty", 2)]) as srv:
        r = audiomm.run(one, "transcript", config(srv), RunOptions(log=False))
        [c] = r.chunks
        assert c.flags == ["empty"] and not c.text and len(srv.state.audio) == 0
        assert r.coverage.covered_ratio == 0.0 and any("empty answer" in w for w in r.warnings)
        again = audiomm.run(one, "transcript", config(srv), RunOptions(log=False))
    assert not again.chunks[0].cached and again.chunks[0].text  # asked again: nothing empty was cached
    assert again.coverage.covered_ratio == 1.0


def test_a_summary_says_which_chunks_it_could_not_use(one):
    with OpenAIServer(faults=[("null", 2)]) as srv:
        r = audiomm.run(one, "meeting-summary", config(srv), RunOptions(cache=False, log=False))
    assert any("empty answer" in w for w in r.warnings) and r.coverage.covered_ratio == 0.0


def test_the_cache_knows_the_server(speech):
    """An answer cached from one server is not an answer from another."""
    with OpenAIServer() as a:
        audiomm.run(speech, "transcript", config(a), RunOptions(log=False))
    with OpenAIServer() as b:
        r = audiomm.run(speech, "transcript", config(b), RunOptions(log=False))
    assert not any(c.cached for c in r.chunks) and len(b.state.audio) == len(r.chunks)


def test_no_server_named_is_one_line_before_any_connection(speech, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    p = run_cli("run", str(speech), "--model", MODEL, env={"OPENAI_API_KEY": "sk-real-key"})
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert (
        p.returncode != 0 and len(lines) == 1 and "--base-url" in lines[0] and "sk-real-key" not in p.stderr
    )
    with pytest.raises(BackendError, match="pass --base-url"):
        load(BackendConfig("openai", MODEL))
