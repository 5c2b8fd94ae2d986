"""Speaker diarization on real speech: turns, the speaker count, changes with no pause, the API the runner
uses, the command, the pyannote engine offline, bounded memory on a long file."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("scipy")
from tests.helpers.speakers import need_voice_encoder  # noqa: E402

need_voice_encoder()

from audiomm.audio.speaker_score import score  # noqa: E402
from audiomm.audio.speaker_windows import WindowCutter  # noqa: E402
from audiomm.audio.speakers import (  # noqa: E402
    SpeakerCoverage,
    SpeakerMap,
    SpeakerOptions,
    Turn,
    diarize,
    parse_speaker_names,
    speakers_line,
)
from audiomm.audio.vad import VadOptions  # noqa: E402
from audiomm.errors import AudiommError  # noqa: E402
from tests.audio.test_long import WRAPPER  # noqa: E402  (the child that reports its peak memory)
from tests.helpers.audio import DATA, RATE, write  # noqa: E402
from tests.helpers.cli import error_line, run_cli  # noqa: E402
from tests.helpers.long_audio import write_long  # noqa: E402
from tests.helpers.speakers import CASES, SOURCES, conversation, speech_of  # noqa: E402

TWO, THREE = CASES[0], CASES[1]  # reader + JFK; reader + JFK + a phone caller: turns of 1.5-4 s, 0.3 s pauses


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    path = tmp_path_factory.mktemp("two") / "two.wav"
    ref = TWO.build(path)
    return path, ref, diarize(path)


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    path = tmp_path_factory.mktemp("three") / "three.flac"
    ref = THREE.build(path)
    return path, ref, diarize(path)


def test_two_speakers_short_turns(two):
    _, ref, smap = two
    s = score(ref, smap.turns)
    assert smap.speakers == ["S1", "S2"]  # found, not given
    assert s.correct_ratio >= 0.9, s.to_dict()
    assert smap.coverage.ratio >= 0.99 and smap.coverage.estimated


def test_three_speakers_short_turns(three):
    _, ref, smap = three
    s = score(ref, smap.turns)
    assert len(smap.speakers) == 3, s.to_dict()
    assert s.correct_ratio >= 0.9, s.to_dict()
    assert s.der <= 0.2, s.to_dict()


def test_speakers_numbered_by_first_appearance_and_hold_across_the_recording(three):
    _, ref, smap = three
    firsts = [next(t.start_s for t in smap.turns if t.speaker == s) for s in smap.speakers]
    assert firsts == sorted(firsts) and smap.speakers == [f"S{i + 1}" for i in range(3)]
    s = score(ref, smap.turns)
    for who in ("reader", "jfk", "speaker90"):  # one label per person from the first turn to the last
        labels = [smap.label(t.start_s, t.end_s) for t in ref if t.speaker == who]
        assert len(set(labels)) == 1 and s.mapping[labels[0]] == who


def test_a_change_with_no_pause_is_found(tmp_path):
    """Two people, turns that touch: one VAD region holds several changes, each one is found."""
    audio, ref = conversation(["reader", "speaker91"] * 3, [3.0, 2.5, 3.5, 2.0, 3.0, 2.5], pause_s=0.0)
    smap = diarize(write(tmp_path / "touching.wav", audio))
    regions = [(t.start_s, t.end_s) for t in smap.turns]
    assert regions[0][0] < ref[0].end_s < regions[-1][1]
    changes = [t.start_s for t in ref[1:]]
    found = [b.start_s for a, b in zip(smap.turns, smap.turns[1:], strict=False) if a.speaker != b.speaker]
    assert len(smap.speakers) == 2
    assert all(min(abs(c - f) for f in found) <= 0.5 for c in changes), (changes, found)
    assert all(abs(a.end_s - b.start_s) < 1e-6 for a, b in zip(smap.turns, smap.turns[1:], strict=False))
    assert score(ref, smap.turns).correct_ratio >= 0.85


def test_one_speaker(tmp_path):
    smap = diarize(DATA / "jfk.flac")
    assert smap.speakers == ["S1"] and smap.coverage.speakers == 1
    assert smap.coverage.ratio == 1.0 and 5 < smap.coverage.speech_s < 11


def test_count_given_or_bounded(three):
    path, ref, _ = three
    assert len(diarize(path, SpeakerOptions(num_speakers=2)).speakers) == 2
    assert len(diarize(path, SpeakerOptions(max_speakers=2)).speakers) <= 2
    given = diarize(path, SpeakerOptions(num_speakers=3))
    assert not given.coverage.estimated and score(ref, given.turns).correct_ratio >= 0.9


def test_sources_are_distinct_people():
    """The people the test recordings are joined from: each one's own windows are closer to each other
    than to anyone else's (the voice encoder agrees they are different people)."""
    from audiomm.audio.voice import VoiceEncoder

    enc, w = VoiceEncoder(), RATE * 3 // 2
    emb = {
        n: enc.embed([speech_of(n)[i : i + w] for i in range(0, len(speech_of(n)) - w + 1, w // 2)])[:, 0]
        for n in SOURCES
    }
    for a in SOURCES:
        own = emb[a] @ emb[a].T
        within = own[~np.eye(len(own), dtype=bool)].mean() if len(own) > 1 else 1.0
        across = max(float((emb[a] @ emb[b].T).mean()) for b in SOURCES if b != a)
        assert within - across >= 0.09, (a, within, across)


def test_mel_frames_match_librosa():
    librosa = pytest.importorskip("librosa")
    from audiomm.audio.voice import mel_frames

    wav = speech_of("jfk")[: RATE * 2]
    ref = librosa.feature.melspectrogram(y=wav, sr=RATE, n_fft=400, hop_length=160, n_mels=40).T
    assert np.allclose(mel_frames(wav), ref, rtol=1e-4, atol=1e-4)


def test_window_cutter_streams_like_one_call():
    """Blocks of any size give the same windows; no window spans a pause of break_s or more."""
    from audiomm.audio.vad import get_backend

    audio, _ = conversation(["reader", "jfk", "reader"], [3.0, 2.0, 4.0], pause_s=0.6)
    probs = np.concatenate(list(get_backend()([audio])))

    def windows(block: int) -> list[tuple[int, int]]:
        cut = WindowCutter(24000, 6000, 6400, 8, VadOptions())
        out = []
        for i in range(0, len(audio), block):
            cut.add_audio(audio[i : i + block])
            j = i // 512
            out += cut.add_probs(probs[j : (i + block) // 512])
        out += cut.finish()
        assert len(cut.buf) < 3 * RATE  # only the last seconds are kept
        return [(w.start, w.end) for w in out]

    whole = windows(512 * 4000)
    assert whole == windows(512 * 37)
    silent = [i for i in range(len(probs)) if audio[i * 512 : (i + 1) * 512].std() == 0]
    assert all(not any(a <= s * 512 and (s + 1) * 512 <= b for s in silent[5:-5]) for a, b in whole[1:-1])


# ---- the API the runner uses -------------------------------------------------------------------


def _map() -> SpeakerMap:
    turns = [Turn(0.5, 4.0, "S1"), Turn(4.0, 9.0, "S2"), Turn(10.0, 12.0, "S1"), Turn(40.0, 41.0, "S3")]
    cov = SpeakerCoverage(60.0, 10.5, 10.5, 20, 3, True)
    return SpeakerMap(turns, ["S1", "S2", "S3"], cov, names={"S2": "Ben"})


def test_turns_in_a_chunk_absolute_or_relative():
    m = _map()
    assert m.turns_in(3.0, 11.0) == [Turn(3.0, 4.0, "S1"), Turn(4.0, 9.0, "S2"), Turn(10.0, 11.0, "S1")]
    assert m.turns_in(3.0, 11.0, relative=True) == [
        Turn(0.0, 1.0, "S1"),
        Turn(1.0, 6.0, "S2"),
        Turn(7.0, 8.0, "S1"),
    ]
    assert m.turns_in(13.0, 39.0) == []
    assert m.speaker_at(5.0) == "S2" and m.speaker_at(9.5) is None and m.speaker_at(0.5) == "S1"


def test_label_of_a_segment():
    m = _map()
    assert m.label(3.0, 6.0) == "S2"  # 1 s of S1, 2 s of S2
    assert m.label(9.2, 9.8) == "S2"  # silence: the nearest turn
    assert m.label(30.0, 31.0) == "S3"
    assert m.name("S2") == "Ben" and m.name("S1") == "S1"


def test_speakers_line_for_a_prompt():
    m = _map()
    assert speakers_line(m, 0.0, 30.0) == "Speakers in this part: S1 0:01-0:04, Ben 0:04-0:09, S1 0:10-0:12."
    assert speakers_line(m, 8.0, 11.0) == "Speakers in this part: Ben 0:00-0:01, S1 0:02-0:03."
    assert speakers_line(m, 20.0, 30.0) == "Speakers in this part: none detected."


def test_map_round_trips_and_takes_names():
    m = _map()
    back = SpeakerMap.from_dict(json.loads(json.dumps(m.to_dict())))
    assert back.turns == m.turns and back.coverage == m.coverage and back.names == {"S2": "Ben"}
    assert back.use_names({"S1": "Ana", "S9": "Zed"}) == ["S9"] and back.names == {"S1": "Ana"}
    assert back.turns_in(3.0, 5.0) == m.turns_in(3.0, 5.0)


def test_parse_speaker_names():
    assert parse_speaker_names("S1=Ana, S2 = Ben Okafor") == {"S1": "Ana", "S2": "Ben Okafor"}
    assert parse_speaker_names("S3=[b]Zoë[/b],") == {"S3": "[b]Zoë[/b]"}  # data, never markup
    for bad, says in [
        ("S1", "not LABEL=NAME"),
        ("S1=", "not LABEL=NAME"),
        ("=Ana", "not LABEL=NAME"),
        ("Ana=S1", "not a speaker label"),
        ("S0=Ana", "not a speaker label"),
        ("S1=Ana,S1=Ben", "named twice"),
        ("S1=A\x1bb", "control characters"),
        (",", "empty"),
    ]:
        with pytest.raises(AudiommError, match=says) as exc:
            parse_speaker_names(bad)
        assert "\n" not in str(exc.value)


def test_options_checked():
    for opts, says in [
        (SpeakerOptions(num_speakers=0), "at least 1"),
        (SpeakerOptions(min_speakers=3, max_speakers=2), "at most --max-speakers"),
        (SpeakerOptions(engine="nemo"), "unknown speaker engine"),
    ]:
        with pytest.raises(AudiommError, match=says):
            opts.validate()


# ---- the command ---------------------------------------------------------------------------------


def test_cli_table_and_names(two):
    path, _, _ = two
    p = run_cli("audio", "speakers", str(path), "--speaker-names", "S1=Ana,S2=[red]Ben[/red]")
    assert p.returncode == 0, p.stderr
    assert "speaker turns" in p.stdout and "Ana" in p.stdout and "[red]Ben[/red]" in p.stdout
    assert "S1 (Ana):" in p.stdout and "speakers: 2 (estimated)" in p.stdout
    assert "100.0%" in p.stdout or "99." in p.stdout


def test_cli_json(two):
    path, ref, _ = two
    p = run_cli("audio", "speakers", str(path), "--json", "--num-speakers", "2")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["speakers"] == ["S1", "S2"] and d["coverage"]["estimated"] is False
    assert set(d["turns"][0]) == {"start_s", "end_s", "speaker"}
    turns = [Turn(t["start_s"], t["end_s"], t["speaker"]) for t in d["turns"]]
    assert score(ref, turns).correct_ratio >= 0.9
    assert d["coverage"]["speech_s"] > 40 and d["coverage"]["ratio"] >= 0.99


@pytest.mark.parametrize(
    "args, says",
    [
        (["missing.wav"], "no such file"),
        (["{jfk}", "--num-speakers", "2", "--max-speakers", "3"], "not both"),
        (["{jfk}", "--min-speakers", "4", "--max-speakers", "2"], "at most --max-speakers"),
        (["{jfk}", "--num-speakers", "0"], "at least 1"),
        (["{jfk}", "--engine", "whisperx"], "unknown speaker engine"),
        (["{jfk}", "--speaker-names", "Ana"], "LABEL=NAME"),
        (["{jfk}", "--channel", "7"], "channel 7 does not exist"),
        (["{text}"], "not an audio file"),
    ],
)
def test_cli_bad_input_one_error_line(tmp_path, args, says):
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    args = [a.format(jfk=DATA / "jfk.flac", text=text) for a in args]
    p = run_cli("audio", "speakers", *args)
    assert says in error_line(p.returncode, p.stderr)


def test_cli_pyannote_offline_one_error_line():
    """No pyannote.audio here, or no Hub: one line that names HF_TOKEN and the Hub, no traceback."""
    p = run_cli(
        "audio", "speakers", str(DATA / "jfk.flac"), "--engine", "pyannote", env={"HF_HUB_OFFLINE": "1"}
    )
    line = error_line(p.returncode, p.stderr)
    assert "HF_TOKEN" in line and "Hub" in line and "pyannote" in line


STUB = '''
"""pyannote.audio's Pipeline.from_pretrained as far as the Hub goes: it downloads the config first."""
from huggingface_hub import hf_hub_download

class Pipeline:
    @classmethod
    def from_pretrained(cls, checkpoint, token=None):
        hf_hub_download(checkpoint, "config.yaml", token=token)
        raise AssertionError("offline: never reached")
'''


def test_pyannote_loader_offline_with_the_package(tmp_path):
    """With pyannote.audio importable (here a stand-in whose from_pretrained makes the real Hub call,
    huggingface_hub's hf_hub_download) and the Hub out of reach: one error line naming HF_TOKEN."""
    pkg = tmp_path / "pyannote" / "audio"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(STUB))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.argv = ['audiomm', 'audio', 'speakers', sys.argv[2], "
        "'--engine', 'pyannote']; from audiomm.cli import main; main()"
    )
    env = {"HF_HUB_OFFLINE": "1", "HF_TOKEN": "hf_secret_not_printed", "PYTHONPATH": ":".join(sys.path)}
    p = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), str(DATA / "jfk.flac")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    line = error_line(p.returncode, p.stderr)
    assert "Hugging Face Hub" in line and "HF_TOKEN" in line and "pyannote/speaker-diarization" in line
    assert "hf_secret_not_printed" not in p.stderr + p.stdout


def test_pyannote_output_becomes_turns(monkeypatch):
    """What the pipeline returns (pyannote 4 wraps the annotation in an output object; turns may overlap)
    becomes S1, S2... by first appearance, with the bounds passed on; the pipeline here is a stand-in."""
    import types

    seg = types.SimpleNamespace
    tracks = [(seg(start=5.0, end=9.0), "A", "SPEAKER_01"), (seg(start=1.0, end=6.0), "B", "SPEAKER_07")]
    seen = {}

    class Annotation:
        def itertracks(self, yield_label):
            return iter(tracks)

    class Pipeline:
        @classmethod
        def from_pretrained(cls, model, token=None):
            seen.update(model=model, token=token)
            return cls()

        def __call__(self, audio, **bounds):
            seen.update(bounds=bounds, rate=audio["sample_rate"], shape=tuple(audio["waveform"].shape))
            return types.SimpleNamespace(speaker_diarization=Annotation())

    module = types.ModuleType("pyannote.audio")
    module.Pipeline = Pipeline
    monkeypatch.setitem(sys.modules, "pyannote", types.ModuleType("pyannote"))
    monkeypatch.setitem(sys.modules, "pyannote.audio", module)
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    smap = diarize(DATA / "jfk.flac", SpeakerOptions(engine="pyannote", min_speakers=2, max_speakers=3))
    assert smap.turns == [Turn(1.0, 6.0, "S1"), Turn(5.0, 9.0, "S2")] and smap.speakers == ["S1", "S2"]
    assert seen["token"] == "hf_x" and seen["bounds"] == {"min_speakers": 2, "max_speakers": 3}
    assert seen["rate"] == RATE and seen["shape"] == (1, 11 * RATE)
    assert smap.coverage.speech_s == 8.0 and smap.engine == "pyannote"


# ---- a long recording ----------------------------------------------------------------------------


def _peak(path) -> tuple[dict, float]:
    from tests.helpers.cli import EXE

    p = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(EXE), "audio", "speakers", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    res = json.loads(p.stdout)
    assert res["rc"] == 0, res["err"]
    return json.loads(res["out"]), res["peak_mb"]


def test_long_file_bounded_memory(tmp_path):
    """Memory holds the embeddings, not the audio: 16 minutes take about what 2 take (holding the audio
    would take 61 MB more; measured here: +28 MB, and 502 MB for a whole hour against 447 MB for 2
    minutes), and every second of speech gets a speaker."""
    short, short_mb = _peak(write_long(tmp_path / "short.m4a", 120))
    long, long_mb = _peak(write_long(tmp_path / "long.m4a", 16 * 60))
    assert long["coverage"]["duration_s"] == pytest.approx(960, abs=0.1)
    assert long["coverage"]["ratio"] >= 0.99 and 2 <= len(long["speakers"]) <= 5
    assert long_mb - short_mb < 50, (short_mb, long_mb)
