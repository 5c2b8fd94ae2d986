"""The classic pipeline in batch mode: faster-whisper's batched decoding over the chunks of several
recordings, no less accurate than one chunk at a time (real speech, the PyPI-shipped Whisper tiny.en)."""

import json

import pytest

from audiomm import BackendConfig
from audiomm.audio.analyze import FrontEnd
from audiomm.audio.decode import decode_all
from audiomm.backends.classic import ClassicBackend
from audiomm.evaluate.wer import error_rates
from tests.helpers.audio import DATA, join, write
from tests.helpers.cli import run_main
from tests.helpers.offline_models import whisper_tiny_en

REFS = json.loads((DATA / "transcripts.json").read_text())


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """Two recordings of JFK and the wizard reading, in different orders, with their references."""
    jfk = (decode_all(DATA / "jfk.flac")[0], REFS["jfk.flac"]["text"])
    wiz = (
        decode_all(DATA / "stereo_diarization.wav", channel="left")[0],
        REFS["stereo_diarization.wav"]["text_left_channel"],
    )
    folder = tmp_path_factory.mktemp("speech")
    out = []
    for name, order in (("one", [jfk, wiz, jfk]), ("two", [wiz, jfk, wiz, wiz])):
        audio, _ = join([x for clip, _ in order for x in (clip, 1.2)])
        out.append((write(folder / f"{name}.flac", audio), " ".join(text for _, text in order)))
    return out


def test_batched_decoding_is_no_less_accurate_than_one_chunk_at_a_time(speech):
    whisper = ClassicBackend(BackendConfig("classic", whisper_tiny_en()))
    chunks, reference = [], []
    for path, text in speech:
        chunks += [p.audio for p in FrontEnd(path, window_s=12)]  # several chunks each, cut at pauses
        reference.append(text)
    one_by_one = " ".join(whisper.transcribe(a) for a in chunks)
    whisper.batch_mode()
    together = " ".join(whisper.transcribe_batched(chunks))
    ref = " ".join(reference)
    assert len(chunks) >= 4
    assert error_rates(ref, together).wer <= error_rates(ref, one_by_one).wer + 0.01


def test_batch_runs_the_classic_pipeline_in_batch_mode(speech, tmp_path, monkeypatch, capsys):
    calls = []
    real = ClassicBackend.heard_batched  # what generate() calls in batch mode (timed text, for --speakers)
    monkeypatch.setattr(
        ClassicBackend, "heard_batched", lambda self, a: calls.append(len(a)) or real(self, a)
    )
    folder = speech[0][0].parent
    args = [
        "batch",
        str(folder),
        "--out",
        str(tmp_path / "out"),
        "--backend",
        "classic",
        "--model",
        whisper_tiny_en(),
    ]
    more = ("--max-chunk-seconds", "12", "--workers", "1", "--format", "json")
    code, _, stderr = run_main(monkeypatch, capsys, *args, *more)
    assert code == 0, stderr
    assert calls and max(calls) > 1  # chunks decoded together
    for path, text in speech:
        result = json.loads((tmp_path / "out" / f"{path.stem}.json").read_text())
        assert error_rates(text, result["text"]).wer < 0.1
