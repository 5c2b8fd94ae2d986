"""audiomm run --speakers: who said what over a whole recording of real speech (real clips of two people,
turns of 1.5-4 s with 0.3 s pauses): transcripts cut and labelled by speaker, summaries told who speaks
when, the classic pipeline's transcript labelled, the speaker map kept for reruns."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("scipy")
from tests.helpers.speakers import need_voice_encoder  # noqa: E402

need_voice_encoder()

import audiomm  # noqa: E402
from audiomm import BackendConfig, RunOptions  # noqa: E402
from audiomm.audio.chunking import plan_chunks  # noqa: E402
from audiomm.audio.speakers import speakers_line  # noqa: E402
from audiomm.config import with_llm  # noqa: E402
from audiomm.errors import AudiommError  # noqa: E402
from audiomm.longform import speakers as run_speakers  # noqa: E402
from tests.helpers.cli import error_line, run_cli  # noqa: E402
from tests.helpers.offline_models import whisper_tiny_en  # noqa: E402
from tests.helpers.openai_server import MODEL, OpenAIServer  # noqa: E402
from tests.helpers.speakers import CASES  # noqa: E402

JFK_WORDS = ("country", "fellow")  # only JFK says these; the reader reads a software licence


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """The reader and JFK taking turns; the reference turns."""
    path = tmp_path_factory.mktemp("two") / "two.wav"
    return path, CASES[0].build(path)


def spoken_by(ref, start: float, end: float) -> str:
    """The reference speaker who talks most in [start, end)."""
    time: dict[str, float] = {}
    for t in ref:
        time[t.speaker] = time.get(t.speaker, 0.0) + max(0.0, min(t.end_s, end) - max(t.start_s, start))
    return max(time, key=time.get)


def test_a_transcript_chunk_never_spans_a_change_of_speaker():
    regions = [(0.0, 12.0), (12.3, 40.0), (41.0, 45.0)]
    plan = plan_chunks(regions, 46.0, 30.0, cuts=[5.0, 12.15, 20.0])
    spans = [(c.start_s, c.end_s) for c in plan.chunks]
    assert spans == [(0.0, 5.0), (5.0, 12.0), (12.3, 20.0), (20.0, 45.0)]
    for cut in (5.0, 12.15, 20.0):
        assert not any(c.start_s < cut < c.end_s for c in plan.chunks)
    assert plan.coverage.covered_ratio == 1.0
    assert all(c.duration_s <= 30.0 for c in plan.chunks)
    assert [c.cut for c in plan.chunks] == ["speaker-change"] * 3 + ["end-of-speech"]


def test_transcript_labelled_by_speaker_in_every_format(two, tmp_path):
    """The README's command: Whisper tiny.en labels nothing itself; every line gets its speaker."""
    path, ref = two
    base = ("run", str(path), "--backend", "classic", "--model", whisper_tiny_en(), "--speakers")
    outs = {}
    for fmt in ("json", "vtt", "srt", "md"):
        outs[fmt] = tmp_path / f"two.{fmt}"
        p = run_cli(*base, "--speaker-names", "S1=Ana", "--format", fmt, "--out", str(outs[fmt]))
        assert p.returncode == 0, p.stderr
        assert "speakers: 2 (estimated)" in p.stdout + p.stderr
    r = json.loads(outs["json"].read_text())
    assert r["speakers"]["speakers"] == ["S1", "S2"] and r["speakers"]["names"] == {"S1": "Ana"}
    segs = [s for s in r["segments"] if s["text"]]
    assert all(s["speaker"] in ("Ana", "S2") for s in segs)
    right = {}  # the label each reference speaker gets, by talk time
    for s in segs:
        who = spoken_by(ref, s["start_s"], s["end_s"])
        right.setdefault(who, {}).setdefault(s["speaker"], 0.0)
        right[who][s["speaker"]] += s["end_s"] - s["start_s"]
    labels = {who: max(v, key=v.get) for who, v in right.items()}
    assert sorted(labels.values()) == ["Ana", "S2"]
    good = sum(v[labels[who]] for who, v in right.items())
    assert good / sum(sum(v.values()) for v in right.values()) >= 0.9
    jfk = [s for s in segs if any(w in s["text"].lower() for w in JFK_WORDS)]
    assert jfk and {s["speaker"] for s in jfk} == {labels["jfk"]}  # his words under his label
    paragraphs = r["text"].split("\n\n")
    assert all(p.startswith(("Ana: ", "S2: ")) for p in paragraphs)
    assert all(a[:3] != b[:3] for a, b in zip(paragraphs, paragraphs[1:], strict=False))  # one per turn
    vtt, srt, md = (outs[f].read_text() for f in ("vtt", "srt", "md"))
    assert "<v Ana>" in vtt and f"<v {labels['jfk']}>" in vtt
    assert "\nAna: " in srt and "\nS2: " in srt
    assert "Ana:**" in md and "speakers: Ana " in md


def test_summary_prompts_say_who_speaks_when(two, monkeypatch):
    path, _ = two
    opts = RunOptions(speakers=True, speaker_names="S1=Ana,S2=Ben")
    with OpenAIServer() as srv:
        config = BackendConfig("openai", MODEL, base_url=srv.url, api_key="sk-test", retries=1)
        r = audiomm.run(path, "meeting-summary", config, opts)
        first = list(srv.state.audio)
        asked = [a["prompt"] for a in first]
        assert len(asked) == len(r.chunks) >= 2  # chunks of a summary span several speakers
        for c in r.chunks:  # answered in any order
            assert sum(speakers_line(r.speakers, c.start_s, c.end_s) in p for p in asked) == 1
        assert all(run_speakers.ATTRIBUTE in p and "Ana" in p and "Ben" in p for p in asked)
        reduce = srv.state.text_requests[-1]["text"]
        assert "Speakers in this recording: Ana, Ben." in reduce

        def no_second_pass(*a, **k):
            raise AssertionError("diarized again")

        monkeypatch.setattr(run_speakers, "diarize", no_second_pass)
        audiomm.run(path, "meeting-summary", config, opts)  # a rerun: chunks and speakers kept
        assert len(srv.state.audio) == len(first)
        renamed = RunOptions(speakers=True, speaker_names="S1=Ada,S2=Bo")
        again = audiomm.run(path, "meeting-summary", config, renamed)  # other names: asked again
        assert len(srv.state.audio) == 2 * len(first)
        assert "Ada" in srv.state.audio[-1]["prompt"] and again.speakers.names == {"S1": "Ada", "S2": "Bo"}


def test_classic_gives_the_llm_a_labelled_transcript(two):
    path, ref = two
    with OpenAIServer(model="smollm2") as srv:
        base = BackendConfig("classic", whisper_tiny_en(), base_url=srv.url, api_key="sk-test")
        config = with_llm(base, "smollm2", "openai")
        r = audiomm.run(path, "meeting-summary", config, RunOptions(speakers=True, num_speakers=2))
        chunk_prompts = [t["text"] for t in srv.state.text_requests[: len(r.chunks)]]
    transcript = chunk_prompts[0].split("<transcript>\n", 1)[1].split("\n</transcript>")[0]
    lines = transcript.splitlines()
    assert len(lines) >= 4 and all(line.startswith(("S1: ", "S2: ")) for line in lines)
    jfk = [line[:2] for line in lines if any(w in line.lower() for w in JFK_WORDS)]
    assert jfk and len(set(jfk)) == 1
    assert not r.speakers.coverage.estimated and r.speakers.speakers == ["S1", "S2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--speaker-names", "S1=Ana"), "add --speakers"),
        (("--num-speakers", "2"), "add --speakers"),
        (("--speakers", "--no-vad"), "leave out --no-vad"),
        (("--speakers", "--speaker-names", "Ana"), "is not LABEL=NAME"),
        (("--speakers", "--num-speakers", "0"), "at least 1"),
        (("--speakers", "--min-speakers", "3", "--max-speakers", "2"), "--min-speakers (3)"),
        (("--speakers", "--num-speakers", "2", "--min-speakers", "3"), "not both"),
    ],
)
def test_bad_speaker_options_are_one_line(two, args, message):
    path, _ = two
    p = run_cli("run", str(path), "--model", MODEL, "--base-url", "http://127.0.0.1:9/v1", *args)
    assert message in error_line(p.returncode, p.stderr)


def test_names_for_speakers_that_are_not_there_are_a_warning(two):
    path, _ = two
    with OpenAIServer() as srv:
        config = BackendConfig("openai", MODEL, base_url=srv.url, api_key="sk-test")
        opts = RunOptions(speakers=True, speaker_names="S1=Ana,S7=Zed")
        r = audiomm.run(path, "transcript", config, opts)
    assert any("no speaker S7" in w for w in r.warnings)
    assert {s.speaker for s in r.segments if s.text} <= {"Ana", "S2"}


def test_run_options_refuse_speaker_fields_without_speakers():
    with pytest.raises(AudiommError, match="add --speakers"):
        RunOptions(speaker_names="S1=Ana")
