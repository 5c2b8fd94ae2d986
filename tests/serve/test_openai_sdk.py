"""The gateway through the real OpenAI SDK: transcriptions (every format, streaming), translations, chat
completions with minutes of audio, the model list, and errors as the SDK raises them. Behind it, local
OpenAI-compatible servers that answer "heard N seconds" for each chunk of audio they are sent."""

import base64
import re
import socket
import time

import httpx
import openai
import pytest

pytest.importorskip("fastapi", reason="audiomm serve needs the [serve] extra")

from tests.helpers.gateway import Gateway, free_port, recording, systems_file
from tests.helpers.openai_server import MODEL, OpenAIServer

WINDOW = 12.0  # the systems' max_chunk_seconds: a chunk per 11 s clip
HEARD = re.compile(r"heard (\d+\.\d+) seconds")


@pytest.fixture(scope="module")
def servers():
    with OpenAIServer() as good, OpenAIServer() as flaky:
        yield good, flaky


@pytest.fixture(scope="module")
def gateway(servers, tmp_path_factory):
    good, flaky = servers
    root = tmp_path_factory.mktemp("gw")
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    named = {"sys": good.url, "flaky": flaky.url, "down": down}
    systems = systems_file(root / "systems.toml", named, MODEL, max_chunk_seconds=WINDOW, retries=0)
    with Gateway(systems, root / "data") as gw:
        yield gw


@pytest.fixture(scope="module")
def minutes(tmp_path_factory):
    """~3 minutes of real speech: 14 clips of 11 s, 1.5 s apart."""
    return recording(tmp_path_factory.mktemp("rec") / "minutes.wav", 14)


def sent_since(server, n: int) -> list[dict]:
    """The audio requests the server saw after the first ``n``."""
    return server.state.audio[n:]


def test_models_lists_the_systems(gateway):
    models = gateway.client().models.list()
    assert [m.id for m in models.data] == ["sys", "flaky", "down"]
    assert all(m.object == "model" and m.owned_by == "audiomm" for m in models.data)
    assert gateway.client().models.retrieve("sys").id == "sys"


def test_verbose_json_segments_cover_the_recording(gateway, servers, minutes):
    path, clips = minutes
    before = len(servers[0].state.audio)
    raw = gateway.client().audio.transcriptions.with_raw_response.create(
        file=open(path, "rb"),
        model="sys",
        response_format="verbose_json",
        timestamp_granularities=["segment"],
    )
    r = raw.parse()
    assert raw.headers["x-audiomm-coverage"].startswith("covered=1.000; chunks=14; input_s=175.0")
    assert r.duration == pytest.approx(175.0, abs=0.1) and r.language == "unknown"
    assert len(r.segments) == 14 and [s.id for s in r.segments] == list(range(14))
    for s, (a, b) in zip(r.segments, clips, strict=True):  # one segment per clip, over its speech
        assert s.start <= a + 1.0 and s.end >= b - 1.0 and s.end - s.start <= WINDOW
        assert float(HEARD.fullmatch(s.text)[1]) == pytest.approx(s.end - s.start, abs=0.01)
    assert r.text == "\n\n".join(s.text for s in r.segments)
    assert r.audiomm["covered_ratio"] == 1.0 and r.audiomm["chunks"] == 14 and r.audiomm["warnings"] == []
    sent = sent_since(servers[0], before)
    assert len(sent) == 14 and all(a["duration_s"] <= WINDOW for a in sent)  # every request fits the window
    assert all(a["prompt"].startswith("Transcribe this audio verbatim") for a in sent)


def test_text_srt_and_vtt(gateway, minutes):
    path, _ = minutes
    client = gateway.client()
    text = client.audio.transcriptions.create(file=open(path, "rb"), model="sys", response_format="text")
    srt = client.audio.transcriptions.create(file=open(path, "rb"), model="sys", response_format="srt")
    vtt = client.audio.transcriptions.create(file=open(path, "rb"), model="sys", response_format="vtt")
    plain = client.audio.transcriptions.create(file=open(path, "rb"), model="sys")
    assert text == plain.text and len(HEARD.findall(text)) == 14
    assert srt.startswith("1\n00:00:00,") and srt.count(" --> ") == 14 and "\n14\n" in srt
    assert vtt.startswith("WEBVTT\n") and vtt.count(" --> ") == 14 and "NOTE coverage:" in vtt
    assert plain.audiomm["cached_chunks"] == 14  # the same recording again: every chunk from the cache


def test_streaming_text_arrives_before_the_end(gateway, servers, tmp_path):
    path, _ = recording(tmp_path / "stream.wav", 12, pause=1.7)
    good = servers[0]
    good.state.delay = 0.15
    before = len(good.state.audio)
    try:
        stream = gateway.client().audio.transcriptions.create(file=open(path, "rb"), model="sys", stream=True)
        events, asked_at_first = [], None
        for event in stream:
            if asked_at_first is None:
                asked_at_first = len(good.state.audio) - before
            events.append(event)
    finally:
        good.state.delay = 0.0
    deltas, done = events[:-1], events[-1]
    assert all(e.type == "transcript.text.delta" for e in deltas) and done.type == "transcript.text.done"
    assert asked_at_first < 12  # the first text came while chunks were still being asked for
    assert len(deltas) == 12 and "".join(e.delta for e in deltas) == done.text
    assert done.audiomm["covered_ratio"] == 1.0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks translations deprecated
def test_translations_ask_for_english(gateway, servers, tmp_path):
    path, _ = recording(tmp_path / "fr.wav", 2, pause=1.1)
    before = len(servers[0].state.audio)
    r = gateway.client().audio.translations.create(
        file=open(path, "rb"), model="sys", prompt="Names: Kennedy."
    )
    assert len(HEARD.findall(r.text)) == 2
    prompts = [a["prompt"] for a in sent_since(servers[0], before)]
    assert all("into English" in p and "Names: Kennedy." in p for p in prompts)


def test_chat_with_minutes_of_input_audio(gateway, servers, minutes):
    path, _ = minutes
    good = servers[0]
    before, merges = len(good.state.audio), len(good.state.text_requests)
    data = base64.b64encode(path.read_bytes()).decode()
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="sys",
        messages=[
            {"role": "system", "content": "You take minutes."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Who is speaking, and what do they ask for?"},
                    {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}},
                ],
            },
        ],
    )
    r = raw.parse()
    assert r.object == "chat.completion" and r.choices[0].message.content == "summary of 14 parts"
    assert r.audiomm["covered_ratio"] == 1.0 and r.audiomm["chunks"] == 14
    assert raw.headers["x-audiomm-coverage"].startswith("covered=1.000; chunks=14;")
    sent = sent_since(good, before)
    assert len(sent) == 14 and all(a["duration_s"] <= WINDOW for a in sent)
    assert all(a["prompt"].endswith("Who is speaking, and what do they ask for?") for a in sent)
    merge = good.state.text_requests[merges:]
    assert merge and merge[-1]["system"] == "You take minutes."


def test_chat_streams_the_merged_answer(gateway, tmp_path):
    path, _ = recording(tmp_path / "two.mp3", 3, pause=1.3)  # any container FFmpeg reads
    uri = "data:audio/mpeg;base64," + base64.b64encode(path.read_bytes()).decode()
    chunks = list(
        gateway.client().chat.completions.create(
            model="sys",
            stream=True,
            stream_options={"include_usage": True},
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "audio_url", "audio_url": {"url": uri}},
                        {"type": "text", "text": "Sum up."},
                    ],
                }
            ],
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "summary of 3 parts"
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(final) == 1 and final[0].audiomm["covered_ratio"] == 1.0
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 300


def test_chat_without_audio_is_a_plain_text_request(gateway, servers):
    good = servers[0]
    good.state.replies.append("Paris.")
    r = gateway.client().chat.completions.create(
        model="sys", messages=[{"role": "user", "content": "Capital of France?"}], max_tokens=20
    )
    assert r.choices[0].message.content == "Paris." and not hasattr(r, "audiomm")
    assert good.state.text_requests[-1]["text"] == "Capital of France?"


def test_a_text_file_named_wav_is_a_bad_request(gateway, tmp_path):
    notes = tmp_path / "notes.wav"
    notes.write_text("these are my notes, not a recording\n" * 50)
    with pytest.raises(openai.BadRequestError) as exc:
        gateway.client().audio.transcriptions.create(file=open(notes, "rb"), model="sys")
    e = exc.value
    assert e.status_code == 400 and e.body["param"] == "file" and e.body["code"] == "invalid_audio"
    assert "file 'notes.wav': not an audio file FFmpeg can read" in e.message
    assert "uploads" not in e.message  # the gateway's own paths are never shown
    with pytest.raises(openai.BadRequestError, match="not base64"):
        gateway.client().chat.completions.create(
            model="sys",
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "input_audio", "input_audio": {"data": "%%%", "format": "wav"}}],
                }
            ],
        )


def test_unknown_model_and_bad_parameters(gateway, minutes):
    path, _ = minutes
    client = gateway.client()
    with pytest.raises(openai.NotFoundError) as exc:
        client.audio.transcriptions.create(file=open(path, "rb"), model="whisper-1")
    assert exc.value.body["code"] == "model_not_found" and "it serves sys, flaky, down" in exc.value.message
    with pytest.raises(openai.BadRequestError, match="response_format 'diarized_json'"):
        client.audio.transcriptions.create(
            file=open(path, "rb"), model="sys", response_format="diarized_json"
        )
    url = {"type": "audio_url", "audio_url": {"url": "http://169.254.169.254/latest"}}
    with pytest.raises(openai.BadRequestError, match="fetches no URLs"):
        client.chat.completions.create(model="sys", messages=[{"role": "user", "content": [url]}])


def test_a_backend_that_is_down_is_503_naming_the_system(gateway, minutes):
    path, _ = minutes
    with pytest.raises(openai.InternalServerError) as exc:
        gateway.client().audio.transcriptions.create(file=open(path, "rb"), model="down")
    assert exc.value.status_code == 503 and exc.value.body["code"] == "backend_unavailable"
    assert exc.value.body["message"].startswith("system 'down': cannot reach http://127.0.0.1:")
    with pytest.raises(openai.InternalServerError, match="system 'down': cannot reach"):  # a stream too
        gateway.client().audio.transcriptions.create(file=open(path, "rb"), model="down", stream=True)
    assert httpx.get(f"{gateway.url}/health").json()["systems"]["down"] == "unavailable"


def test_a_backend_failing_mid_run_is_502_naming_the_system(gateway, servers, tmp_path):
    path, _ = recording(tmp_path / "crash.wav", 4, pause=1.2)
    flaky = servers[1]
    flaky.state.crash_after = len(flaky.state.audio) + 2
    with pytest.raises(openai.InternalServerError) as exc:
        gateway.client().audio.transcriptions.create(file=open(path, "rb"), model="flaky")
    assert exc.value.status_code == 502 and exc.value.body["code"] == "backend_error"
    assert exc.value.body["message"].startswith("system 'flaky': ") and "HTTP 500" in exc.value.message
    flaky.state.crash_after = None
    t0 = time.monotonic()
    again = gateway.client().audio.transcriptions.create(file=open(path, "rb"), model="flaky")
    assert len(HEARD.findall(again.text)) == 4 and time.monotonic() - t0 < 30


def leave_after(gateway, path, asked) -> None:
    """A client that sends a transcription request, then hangs up once ``asked()`` is true."""
    req = httpx.Request(
        "POST",
        f"{gateway.url}/v1/audio/transcriptions",
        files={"file": ("a.wav", path.read_bytes())},
        data={"model": "sys"},
    )
    head = "".join(f"{k}: {v}\r\n" for k, v in req.headers.items())
    with socket.create_connection(("127.0.0.1", gateway.port)) as s:
        s.sendall(f"POST /v1/audio/transcriptions HTTP/1.1\r\n{head}\r\n".encode() + req.read())
        deadline = time.monotonic() + 30
        while not asked() and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_stops_its_work(gateway, servers, tmp_path, stream):
    path, _ = recording(tmp_path / "left.wav", 14, pause=1.9 + stream / 10)
    good = servers[0]
    good.state.delay = 0.5  # four chunks at a time: 14 chunks take 2 s
    before = len(good.state.audio)
    try:
        if stream:
            events = gateway.client().audio.transcriptions.create(
                file=open(path, "rb"), model="sys", stream=True
            )
            next(iter(events))  # the first text came: then the client goes
            events.close()
        else:
            leave_after(gateway, path, lambda: len(good.state.audio) - before >= 4)
        time.sleep(1.0)  # the requests in flight when it left come back; nothing new is asked
        asked = len(good.state.audio) - before
        time.sleep(1.0)
    finally:
        good.state.delay = 0.0
    assert 4 <= len(good.state.audio) - before == asked < 14
    assert httpx.get(f"{gateway.url}/health").json()["running"] == 0
