"""BackendConfig and RunOptions: one default each, validated once, secrets kept out, one window rule."""

from dataclasses import fields

import pytest

from audiomm import BackendConfig, RunOptions
from audiomm.backends import FACTORIES
from audiomm.config import BACKENDS, public_url, resolve_api_key, with_llm
from audiomm.errors import AudiommError
from audiomm.knowledge import spec_for


def test_every_backend_has_a_factory():
    assert set(FACTORIES) == set(BACKENDS)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"backend": "tensorflow"}, "unknown backend"),
        ({"concurrency": 0}, "--concurrency must be at least 1"),
        ({"concurrency": -3}, "--concurrency"),
        ({"batch_size": 0}, "--batch-size"),
        ({"retries": -1}, "--retries must be at least 0"),
        ({"timeout": -1}, "--timeout"),
        ({"timeout": float("nan")}, "--timeout"),
        ({"timeout": 0}, "--timeout"),
    ],
)
def test_backend_config_refuses_bad_values(kw, message):
    with pytest.raises(AudiommError, match=message):
        BackendConfig(model="m", **kw)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"max_chunk_seconds": 0}, "--max-chunk-seconds"),
        ({"max_chunk_seconds": float("inf")}, "--max-chunk-seconds"),
        ({"max_new_tokens": 0}, "--max-new-tokens"),
        ({"max_new_tokens": -1}, "--max-new-tokens"),
        ({"temperature": -0.1}, "--temperature"),
    ],
)
def test_run_options_refuse_bad_values(kw, message):
    with pytest.raises(AudiommError, match=message):
        RunOptions(**kw)


def test_public_never_holds_the_key():
    c = with_llm(BackendConfig("classic", "w", api_key="sk-SECRET"), "llm-model", "openai")
    c = BackendConfig(**{**{f.name: getattr(c, f.name) for f in fields(c)}, "api_key": "sk-SECRET"})
    assert "sk-SECRET" not in repr(c) and "sk-SECRET" not in str(c.public())
    assert c.public()["llm"]["model"] == "llm-model" and c.llm.backend == "openai"


def test_keys_resolved_in_one_place(monkeypatch):
    monkeypatch.delenv("AUDIOMM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "from-openai")
    assert resolve_api_key(BackendConfig(model="m")) == "from-openai"
    monkeypatch.setenv("AUDIOMM_API_KEY", "from-audiomm")
    assert resolve_api_key(BackendConfig(model="m")) == "from-audiomm"
    monkeypatch.setenv("MY_KEY", "named")
    assert resolve_api_key(BackendConfig(model="m", api_key_env="MY_KEY")) == "named"
    assert resolve_api_key(BackendConfig(model="m", api_key="given", api_key_env="MY_KEY")) == "given"
    with pytest.raises(AudiommError, match="NOT_SET_ANYWHERE"):
        resolve_api_key(BackendConfig(model="m", api_key_env="NOT_SET_ANYWHERE"))


def test_text_backend_of_the_classic_llm(tmp_path):
    gguf = tmp_path / "m.gguf"
    assert with_llm(BackendConfig("classic", "w"), str(gguf)).llm.backend == "transformers"
    assert with_llm(BackendConfig("classic", "w"), "llama3.1").llm.backend == "openai"
    assert with_llm(BackendConfig("openai", "w"), "ignored").llm is None
    with pytest.raises(AudiommError, match="unknown --llm-backend"):
        with_llm(BackendConfig("classic", "w"), "x", "vllm")


def test_one_window_rule():
    spec = spec_for("Qwen/Qwen2-Audio-7B-Instruct")
    assert RunOptions().window(spec).seconds == spec.window_s == 30
    assert RunOptions(max_chunk_seconds=12).window(spec).seconds == 12
    with pytest.raises(
        AudiommError, match="over the 30 s window of qwen2-audio models .the processor takes 30 s"
    ):
        RunOptions(max_chunk_seconds=31).window(spec)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://user:TOKEN@host:8000/v1?key=SECRET", "http://host:8000/v1"),
        ("https://api.example.com/v1", "https://api.example.com/v1"),
        ("http://[::1]:9/v1", "http://[::1]:9/v1"),
    ],
)
def test_public_url_drops_credentials(url, shown):
    assert public_url(url) == shown
