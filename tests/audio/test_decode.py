"""The audio front end on real speech, on recordings built with known silences, and on bad input."""

import json
from pathlib import Path

import numpy as np
import pytest

from audiomm.audio.analyze import analyze
from audiomm.audio.decode import AudioError, decode_all, probe, stream_audio
from audiomm.audio.vad import VadOptions, get_backend, speech_regions
from tests.helpers.audio import DATA, clip, join, video_only, write, write_float_wav
from tests.helpers.cli import run_cli

TRANSCRIPTS = json.loads((DATA / "transcripts.json").read_text())


@pytest.mark.parametrize(
    "name,rate,channels,duration",
    [
        ("jfk.flac", 44100, 2, 11.0),
        ("multilingual.mp3", 24000, 1, 59.9),
        ("hotwords.mp3", 44100, 2, 4.0),
        ("stereo_diarization.wav", 16000, 2, 5.0),
    ],
)
def test_real_recordings_decode(name, rate, channels, duration):
    info = probe(DATA / name)
    assert (info.sample_rate, info.channels) == (rate, channels)
    audio, report = decode_all(DATA / name)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / 16000 - duration) < 0.05
    assert np.abs(audio).max() <= 1.0 and not report.warnings


def test_channel_pick_and_mix():
    path = DATA / "stereo_diarization.wav"
    left, _ = decode_all(path, channel="left")
    right, _ = decode_all(path, channel="right")
    mix, _ = decode_all(path)
    assert np.abs(left - right).mean() > 0.01  # one speaker per channel
    np.testing.assert_allclose(mix, (left + right) / 2, atol=1e-6)
    np.testing.assert_array_equal(decode_all(path, channel=1)[0], right)
    with pytest.raises(AudioError, match="channel 5 does not exist"):
        decode_all(path, channel=5)


def test_streaming_yields_blocks_as_decoded():
    blocks = stream_audio(DATA / "multilingual.mp3", block_s=10)
    first = next(blocks)
    assert len(first) == 160_000
    rest = list(blocks)
    assert len(rest) == 5 and len(rest[-1]) < 160_000


def test_speech_regions_on_real_speech():
    audio, _ = decode_all(DATA / "jfk.flac")
    probs = np.concatenate(list(get_backend("silero")([audio])))
    regions = speech_regions(probs, len(audio) / 16000, VadOptions())
    assert regions[0][0] < 0.5 and regions[-1][1] > 10.0
    speech = sum(e - s for s, e in regions)
    assert 7.0 < speech < 11.0


def test_vad_backends_agree():
    audio, _ = decode_all(DATA / "jfk.flac")
    a = np.concatenate(list(get_backend("silero")([audio])))
    b = np.concatenate(list(get_backend("pysilero")([audio])))
    assert len(a) == len(b)
    assert np.mean((a > 0.5) == (b > 0.5)) > 0.95


def test_vad_streaming_equals_whole():
    audio, _ = decode_all(DATA / "multilingual.mp3")
    vad = get_backend("silero")
    whole = np.concatenate(list(vad([audio])))
    pieces = np.concatenate(list(vad([audio[i : i + 7777] for i in range(0, len(audio), 7777)])))
    np.testing.assert_allclose(whole, pieces, atol=1e-5)


def test_joined_recording_cuts_in_silences(tmp_path):
    jfk = clip()
    parts = [1.0, jfk, 3.0, jfk, 0.5, jfk, 2.0, jfk, 4.0, jfk, 1.0]
    audio, spans = join(parts)
    path = write(tmp_path / "joined.flac", audio)
    a = analyze(path, window_s=30)
    chunks = a.plan.chunks
    assert a.plan.coverage.covered_ratio == 1.0
    assert all(c.duration_s <= 30 for c in chunks)
    assert len(chunks) >= 2
    silences = [(spans[i][1], spans[i + 1][0]) for i in range(len(spans) - 1)]
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert nxt.overlap_s == 0
        # the cut lies in one of the known silences between clips (padding allowed)
        assert any(s - 0.3 <= prev.end_s and nxt.start_s <= e + 0.3 for s, e in silences), (prev, nxt)
    for s, e in spans:  # every clip is fully inside the chunks
        assert any(c.start_s <= s + 0.35 and c.end_s >= e - 0.35 for c in chunks)


def test_speech_run_longer_than_window_is_split_with_overlap(tmp_path):
    audio, _ = decode_all(DATA / "multilingual.mp3")  # ~58 s of continuous speech
    a = analyze(write(tmp_path / "long.wav", audio), window_s=10, overlap_s=1.0)
    split = [c for c in a.plan.chunks if c.overlap_s]
    assert split and all(abs(c.overlap_s - 1.0) < 1e-9 for c in split)
    assert all(c.duration_s <= 10 for c in a.plan.chunks)
    assert a.plan.coverage.covered_ratio == 1.0


def test_several_minutes_become_many_chunks(tmp_path):
    jfk = clip()
    audio, _ = join([x for _ in range(16) for x in (jfk, 1.5)])  # ~3.5 minutes
    a = analyze(write(tmp_path / "minutes.m4a", audio), window_s=30)
    assert len(a.plan.chunks) > 6
    assert a.plan.coverage.covered_ratio == 1.0 and a.plan.coverage.longest_chunk_s <= 30


@pytest.mark.parametrize("ext", ["wav", "flac", "mp3", "m4a", "ogg", "opus", "webm", "mka", "mp4", "mkv"])
def test_containers(tmp_path, ext):
    audio, _ = join([0.5, clip(), 1.0])
    path = write(tmp_path / f"speech.{ext}", audio, video=ext in ("mp4", "mkv"))
    a = analyze(path, window_s=30)
    assert abs(a.duration_s - 12.5) < 0.15
    assert a.info.has_video == (ext in ("mp4", "mkv"))
    assert len(a.plan.chunks) == 1 and a.plan.coverage.covered_ratio == 1.0
    assert 7.0 < a.plan.coverage.speech_s < 11.5


def test_eight_channels_and_192k(tmp_path):
    audio, _ = join([0.5, clip(), 1.0])
    a = analyze(write(tmp_path / "eight.wav", audio, channels=8), window_s=30)
    assert a.info.channels == 8 and a.plan.chunks
    hi = np.repeat(audio, 12)
    a = analyze(write(tmp_path / "hi.flac", hi, rate=192_000, out_rate=192_000), window_s=30)
    assert a.info.sample_rate == 192_000 and abs(a.duration_s - 12.5) < 0.05 and a.plan.chunks


def test_nan_and_inf_samples_are_replaced_and_reported(tmp_path):
    audio, _ = join([0.5, clip(), 1.0])
    audio[::1000] = np.nan
    audio[5::2000] = np.inf
    a = analyze(write_float_wav(tmp_path / "nan.wav", audio), window_s=30)
    assert any("non-finite" in w for w in a.plan.coverage.warnings)
    assert a.plan.chunks


def test_silence_only_is_a_result_with_a_note(tmp_path):
    a = analyze(write(tmp_path / "silence.flac", np.zeros(16000 * 5, np.float32)), window_s=30)
    assert a.plan.chunks == [] and a.plan.coverage.notes
    assert a.plan.coverage.covered_ratio == 1.0


def test_one_sample(tmp_path):
    a = analyze(write_float_wav(tmp_path / "one.wav", np.array([0.3], np.float32)), window_s=30)
    assert a.duration_s == pytest.approx(1 / 16000) and a.plan.chunks == []


def test_truncated_mp3_is_decoded_as_far_as_possible_and_said(tmp_path):
    audio, _ = join([0.5, clip(), 1.0])
    data = write(tmp_path / "full.mp3", audio).read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 2])
    a = analyze(cut, window_s=30)
    assert 4 < a.duration_s < 8
    assert any("declares" in w or "stopped" in w for w in a.plan.coverage.warnings)


def test_no_vad_covers_everything(tmp_path):
    audio, _ = join([0.5, clip(), 30.0, clip()])
    a = analyze(write(tmp_path / "scene.flac", audio), use_vad=False, window_s=20, overlap_s=2)
    assert a.plan.coverage.mode == "fixed" and a.plan.coverage.covered_ratio == 1.0
    assert a.plan.chunks[0].start_s == 0 and a.plan.chunks[-1].end_s == pytest.approx(a.duration_s, abs=1e-3)


def bad_files(tmp: Path) -> dict[str, Path]:
    (tmp / "empty.wav").write_bytes(b"")
    (tmp / "text.wav").write_text("this is not audio\n" * 50)
    (tmp / "folder").mkdir()
    audio, _ = join([0.5, clip()])
    data = write(tmp / "x.mp3", audio).read_bytes()
    (tmp / "garbage.mp3").write_bytes(data[:300])
    video_only(tmp / "novoice.mp4")
    return {
        "empty": tmp / "empty.wav",
        "text": tmp / "text.wav",
        "missing": tmp / "missing.flac",
        "directory": tmp / "folder",
        "garbage": tmp / "garbage.mp3",
        "video": tmp / "novoice.mp4",
    }


@pytest.mark.parametrize(
    "kind,message",
    [
        ("empty", "empty file"),
        ("text", "not an audio file"),
        ("missing", "no such file"),
        ("directory", "is a directory"),
        ("garbage", "not an audio file"),
        ("video", "no audio track"),
    ],
)
def test_bad_input_cli_is_one_error_line(tmp_path, kind, message):
    path = bad_files(tmp_path)[kind]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    p = run_cli("audio", "inspect", str(path), cwd=tmp_path)
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and str(path) in lines[0] and message in lines[0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing left behind


def test_cli_json(tmp_path):
    p = run_cli("audio", "inspect", str(DATA / "multilingual.mp3"), "--max-chunk-seconds", "20", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    for key in (
        "duration_s",
        "sample_rate",
        "channels",
        "codec",
        "speech_s",
        "chunks",
        "covered_speech_ratio",
    ):
        assert key in d
    assert d["covered_speech_ratio"] == 1.0 and d["codec"].startswith("mp3")
    assert all(c["end_s"] - c["start_s"] <= 20 for c in d["chunks"])
    assert {"start_s", "end_s"} <= set(d["chunks"][0])


def test_cli_text_and_silence_note(tmp_path):
    p = run_cli("audio", "inspect", str(DATA / "jfk.flac"))
    assert p.returncode == 0 and "coverage:" in p.stdout and "flac" in p.stdout
    silent = write(tmp_path / "silent.wav", np.zeros(16000 * 3, np.float32))
    p = run_cli("audio", "inspect", str(silent))
    assert p.returncode == 0 and "no speech detected" in p.stdout and "0 chunks" in p.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["--max-chunk-seconds", "0"], "--max-chunk-seconds"),
        (["--overlap", "50"], "overlap"),
        (["--channel", "9"], "does not exist"),
        (["--channel", "front"], "--channel must be"),
        (["--threshold", "2"], "threshold"),
        (["--vad-backend", "nope"], "unknown VAD backend"),
    ],
)
def test_cli_bad_options(args, message):
    p = run_cli("audio", "inspect", str(DATA / "jfk.flac"), *args)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert p.stderr.startswith("error:") and message in p.stderr
