"""The openai backend asks the server what it is, sends audio where the model's template puts it, and
turns the server's errors into one line."""

import pytest

import audiomm
from audiomm import BackendConfig, RunOptions
from audiomm.backends import load
from audiomm.backends.base import BackendError, Request
from audiomm.backends.openai_backend import server_info
from audiomm.tasks.presets import resolve
from tests.helpers.audio import clip, join, write
from tests.helpers.openai_server import OpenAIServer

ONCE = RunOptions(cache=False, log=False)


def config(server, model="qwen2-audio-7b-instruct", **kw) -> BackendConfig:
    return BackendConfig(
        "openai", model, base_url=server.url, api_key="k", retries=kw.pop("retries", 1), **kw
    )


def llama_listing(model: str, n_ctx: int) -> list[dict]:
    meta = {"vocab_type": 2, "n_vocab": 400, "n_ctx": n_ctx, "n_ctx_train": 32768, "n_params": 1, "size": 1}
    return [{"id": model, "aliases": [model], "object": "model", "owned_by": "llamacpp", "meta": meta}]


def test_server_info_reads_llama_server_and_vllm():
    llama = server_info(llama_listing("/m/model.gguf", 4096))
    assert (llama.runtime, llama.context_tokens, llama.models) == ("llama.cpp", 4096, ("/m/model.gguf",))
    vllm = server_info([{"id": "Qwen/Qwen2-Audio-7B-Instruct", "owned_by": "vllm", "max_model_len": 8192}])
    assert (vllm.runtime, vllm.context_tokens) == ("vllm", 8192)
    assert server_info([{"id": "gpt-4o", "owned_by": "openai"}]).runtime == ""


def test_runtime_and_context_come_from_the_server():
    model = "qwen2-audio-7b-instruct-q8_0.gguf"
    with OpenAIServer(model=model, models=llama_listing(model, 2048)) as srv:
        b = load(config(srv, model))
    assert b.spec.runtime == "llama.cpp" and b.spec.context_tokens == 2048
    # llama.cpp pads audio to whole 30 s windows: a chunk never passes 29.989 s (479,824 samples)
    assert b.spec.window().seconds == 29.989


def test_a_model_the_server_does_not_serve_is_an_error():
    with OpenAIServer(model="/m/model.gguf", models=llama_listing("/m/model.gguf", 4096)) as srv:
        with pytest.raises(BackendError, match="serves /m/model.gguf, not 'qwen2-audio'"):
            load(config(srv, "qwen2-audio"))


def test_ollamas_openai_layer_is_named():
    listing = [{"id": "gemma4:e4b", "object": "model", "owned_by": "library"}]
    with (
        OpenAIServer(model="gemma4:e4b", models=listing) as srv,
        pytest.raises(BackendError, match="--backend ollama"),
    ):
        load(config(srv, "gemma4:e4b"))


ORDERS = [("qwen2-audio-7b-instruct", ["input_audio", "text"]), ("audio-flamingo-3", ["text", "input_audio"])]


@pytest.mark.parametrize("model, order", ORDERS)
def test_audio_goes_where_the_models_template_puts_it(model, order):
    with OpenAIServer(model=model) as srv:
        b = load(config(srv, model))
        list(b.generate([Request("Transcribe.", clip()[:16000])]))
    assert srv.state.parts == [order]


def test_tiny_chunks_are_padded_never_sent_as_one_sample():
    with OpenAIServer() as srv:
        b = load(config(srv))
        list(b.generate([Request("Transcribe.", clip()[:1])]))
    assert srv.state.audio[0]["duration_s"] == pytest.approx(0.1)


def test_over_the_context_the_reduce_splits_and_never_loses_the_run(tmp_path):
    audio, _ = join([x for _ in range(20) for x in (clip(), 1.0)])
    path = write(tmp_path / "talk.flac", audio)
    preset = resolve(prompt="Summarise.")
    with OpenAIServer(context_limit_chars=400) as srv:  # ~200 tokens, as llama-server would say it
        r = audiomm.run(path, preset, config(srv), ONCE)
    refused = [t for t in srv.state.text_requests if t.get("refused")]
    assert (
        len(refused) == 1 and r.text.startswith("summary of") and not r.warnings
    )  # learned from one refusal
    assert all(len(t["text"]) <= 400 for t in srv.state.text_requests if not t.get("refused"))
    assert len(srv.state.text_requests) > 3  # split into groups, then a merge of the merges


def test_a_merge_that_cannot_be_had_still_gives_the_result(tmp_path):
    path = write(tmp_path / "talk.flac", join([clip(), 1.0, clip()])[0])
    with OpenAIServer(context_limit_chars=10) as srv:  # no reduce request can ever fit
        r = audiomm.run(path, "meeting-summary", config(srv), ONCE)
    assert "heard" in r.text and any("the merge failed" in w for w in r.warnings)
    assert r.coverage.covered_ratio == 1.0


def test_verbatim_presets_may_use_the_transcription_endpoint(tmp_path):
    path = write(tmp_path / "talk.flac", join([clip(), 1.0, clip(), 1.0, clip()])[0])
    with OpenAIServer() as srv:
        r = audiomm.run(path, "transcript", config(srv, transcriptions=True), ONCE)
        audiomm.run(path, "clean", config(srv, transcriptions=True), ONCE)  # not verbatim: chat completions
    st = srv.state
    assert (
        len(st.transcriptions) == len(r.chunks) and st.transcriptions[0]["model"] == "qwen2-audio-7b-instruct"
    )
    assert r.text.count("transcribed") == len(r.chunks) and len(st.audio) > 0


def test_a_key_in_the_query_string_stays_a_query_parameter():
    with OpenAIServer() as srv:
        b = load(
            BackendConfig("openai", "qwen2-audio-7b-instruct", base_url=f"{srv.url}?key=SECRET-Q", retries=0)
        )
        list(b.generate([Request("Hi.", clip()[:16000])]))
    assert set(srv.state.queries) == {"key=SECRET-Q"} and "SECRET" not in b.endpoint + b.cache_id


def test_the_key_is_a_bearer_token_and_a_wrong_one_is_one_line_without_it():
    with OpenAIServer(api_key="sk-right") as srv:
        good = load(BackendConfig("openai", "qwen2-audio-7b-instruct", base_url=srv.url, api_key="sk-right"))
        [(_, r)] = list(good.generate([Request("Hi.", clip()[:16000])]))
        bad = load(BackendConfig("openai", "qwen2-audio-7b-instruct", base_url=srv.url, api_key="sk-wrong"))
        with pytest.raises(BackendError, match="rejected the API key") as info:
            list(bad.generate([Request("Hi.", clip()[:16000])]))
    assert r.text.startswith("heard") and srv.state.authorizations == ["Bearer sk-right", "Bearer sk-wrong"]
    assert "sk-" not in str(info.value)


def test_a_user_and_password_in_the_url_are_basic_auth_and_never_shown():
    import base64

    with OpenAIServer() as srv:
        url = srv.url.replace("http://", "http://ana:s%40cret@")
        b = load(BackendConfig("openai", "qwen2-audio-7b-instruct", base_url=url, retries=0))
        list(b.generate([Request("Hi.", clip()[:16000])]))
    assert srv.state.authorizations == ["Basic " + base64.b64encode(b"ana:s@cret").decode()]
    assert "cret" not in b.endpoint + b.cache_id


@pytest.mark.parametrize("fault", ["429", "500", "timeout"])
def test_a_server_fault_is_asked_again(fault):
    with OpenAIServer(faults=[(fault, 1)]) as srv:
        b = load(config(srv, retries=1, timeout=1.0))
        [(_, r)] = list(b.generate([Request("Hi.", clip()[:16000])]))
    assert r.text.startswith("heard") and len(srv.state.authorizations) == 2


def test_an_unreachable_server_is_one_line_without_its_secrets():
    url = "http://ana:pw-SECRET@127.0.0.1:9/v1?key=KEY-SECRET"
    with pytest.raises(BackendError, match="cannot reach http://127.0.0.1:9/v1;") as info:
        load(BackendConfig("openai", "m", base_url=url, retries=0))
    assert "SECRET" not in str(info.value)


def test_a_retry_logs_nothing_of_the_url(caplog):
    """urllib3 names the URL (and so a key in its query) when it retries: nothing of it is logged."""
    with OpenAIServer(faults=[("500", 1)]) as srv:
        b = load(
            BackendConfig("openai", "qwen2-audio-7b-instruct", base_url=f"{srv.url}?key=SECRET-Q", retries=1)
        )
        with caplog.at_level("DEBUG"):
            list(b.generate([Request("Hi.", clip()[:16000])]))
    assert len(srv.state.authorizations) == 2 and "SECRET" not in caplog.text
