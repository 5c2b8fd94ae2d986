"""audiomm batch --speakers: each recording diarized in its front-end process (the speaker maps ``audiomm
run`` keeps, shared with it), transcripts cut where the speaker changes and labelled, summaries told who
speaks when: the same outputs as ``audiomm run --speakers`` (real clips of two people taking turns)."""

from __future__ import annotations

import importlib.util
import json
import signal
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("scipy")
from tests.helpers.speakers import need_voice_encoder  # noqa: E402

need_voice_encoder()

from audiomm.audio.speakers import SpeakerMap, speakers_line  # noqa: E402
from audiomm.longform import speakers as run_speakers  # noqa: E402
from audiomm.paths import data_dir  # noqa: E402
from tests.batch.conftest import MODEL, batch_args  # noqa: E402
from tests.batch.test_batch import done_keys, lines  # noqa: E402
from tests.helpers.cli import run_cli, run_main, start_cli  # noqa: E402
from tests.helpers.openai_server import OpenAIServer  # noqa: E402
from tests.helpers.speakers import CASES  # noqa: E402

FORMATS = ("md", "vtt", "json")
VOLATILE = ("timings",)  # wall times: the only part of an output that two runs may not share


@pytest.fixture
def two(tmp_path):
    """The reader and JFK taking turns (recs/two.wav); the reference turns."""
    path = tmp_path / "recs" / "two.wav"
    path.parent.mkdir()
    return path, CASES[0].build(path)


def kept_maps() -> dict[str, int]:
    """The speaker maps kept under AUDIOMM_HOME (the test's own), with their modification times."""
    folder = data_dir() / "cache" / "speakers"
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.json")} if folder.is_dir() else {}


def steady(text: str, fmt: str) -> str:
    """An output without what differs between any two runs (wall times; whether a chunk was cached)."""
    if fmt != "json":
        return text
    d = json.loads(text)
    for k in VOLATILE:
        d.pop(k)
    for c in d["chunks"]:
        c.pop("seconds"), c.pop("cached")
    return json.dumps(d, sort_keys=True)


def run_outputs(monkeypatch, capsys, path, out, url: str, *more: str) -> dict[str, str]:
    """``audiomm run --speakers`` of ``path`` in each format (its files under ``out``)."""
    got = {}
    out.mkdir(exist_ok=True)
    for fmt in FORMATS:
        dest = out / f"{path.stem}.{fmt}"
        args = ("run", str(path), "--model", MODEL, "--base-url", url, "--speakers", *more)
        code, _, stderr = run_main(monkeypatch, capsys, *args, "--format", fmt, "--out", str(dest))
        assert code == 0, stderr
        got[fmt] = dest.read_text()
    return got


def test_a_batch_transcript_with_speakers_is_what_run_gives(two, tmp_path, monkeypatch, capsys):
    path, _ = two
    out, names = tmp_path / "out", ("--speaker-names", "S1=Ana")
    fmts = [x for f in FORMATS for x in ("--format", f)]
    with OpenAIServer() as srv:
        args = batch_args(path.parent, out, srv.url, "--speakers", *names, *fmts)
        code, stdout, stderr = run_main(monkeypatch, capsys, *args)
        assert code == 0, stderr
        assert "each recording is diarized first" in stdout
        asked = len(srv.state.audio)
        maps = kept_maps()
        assert len(maps) == 1  # diarized once, in the front-end process, and kept
        ran = run_outputs(monkeypatch, capsys, path, tmp_path / "run", srv.url, *names)
        assert len(srv.state.audio) == asked  # run found every chunk in the cache: the same chunks
    assert kept_maps() == maps  # and the speaker map batch kept: not diarized again
    for fmt in FORMATS:
        assert steady((out / f"two.{fmt}").read_text(), fmt) == steady(ran[fmt], fmt), fmt
    r = json.loads((out / "two.json").read_text())
    assert r["speakers"]["speakers"] == ["S1", "S2"] and r["speakers"]["names"] == {"S1": "Ana"}
    assert len(r["chunks"]) == asked >= 8  # a chunk per turn: cut where the speaker changes
    assert {c["speaker"] for c in r["chunks"] if c["text"]} == {"Ana", "S2"}
    assert all(p.startswith(("Ana: ", "S2: ")) for p in r["text"].split("\n\n"))
    assert "<v Ana>" in (out / "two.vtt").read_text() and "Ana:**" in (out / "two.md").read_text()
    line = lines(out)["two"]
    assert line["speakers"] == 2 and line["status"] == "done"


def test_batch_summaries_are_told_who_speaks_when(two, tmp_path, monkeypatch, capsys):
    path, _ = two
    out, names = tmp_path / "out", ("--speaker-names", "S1=Ana,S2=Ben")
    with OpenAIServer() as srv:
        preset = ("--preset", "meeting-summary", "--format", "json")
        args = batch_args(path.parent, out, srv.url, "--speakers", *names, *preset)
        code, _, stderr = run_main(monkeypatch, capsys, *args)
        assert code == 0, stderr
        r = json.loads((out / "two.json").read_text())
        smap = SpeakerMap.from_dict(r["speakers"])
        asked = [a["prompt"] for a in srv.state.audio]
        assert len(asked) == len(r["chunks"]) >= 2
        for c in r["chunks"]:
            assert sum(speakers_line(smap, c["start_s"], c["end_s"]) in p for p in asked) == 1
        assert all(run_speakers.ATTRIBUTE in p and "Ana" in p and "Ben" in p for p in asked)
        assert "Speakers in this recording: Ana, Ben." in srv.state.text_requests[-1]["text"]
        ran = run_outputs(monkeypatch, capsys, path, tmp_path / "run", srv.url, *names, *preset[:2])
        assert len(srv.state.audio) == len(asked)  # the same prompts: every chunk from the cache
    assert steady(ran["json"], "json") == steady((out / "two.json").read_text(), "json")
    assert lines(out)["two"]["speakers"] == 2


def test_resume_after_sigkill_does_not_diarize_again(two, tmp_path):
    path, _ = two
    out = tmp_path / "out"
    with OpenAIServer(delay=0.4) as srv:
        args = batch_args(path.parent, out, srv.url, "--speakers", "--concurrency", "1")
        p = start_cli(*args)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len(srv.state.audio) < 3 and p.poll() is None:
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
        time.sleep(0.8)  # a request in flight at the kill is still answered (and counted)
        first, maps = len(srv.state.audio), kept_maps()
        assert first >= 3 and not done_keys(out) and len(maps) == 1
        r = run_cli(*args)
        assert r.returncode == 0, r.stderr
        second = len(srv.state.audio) - first
    assert kept_maps() == maps  # the rerun read the speaker map the killed run kept
    line = lines(out)["two"]
    assert line["status"] == "done" and line["speakers"] == 2
    assert second == line["chunks"] - line["cached"] and line["cached"] >= first - 1


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the [scale] extra")
def test_the_ray_engine_gives_the_same_summary(two, tmp_path, monkeypatch, capsys):
    path, _ = two
    home = tmp_path / "home-ray"
    home.mkdir()
    (home / "ray_bootstrap_config.yaml").write_text("{}\n")  # as in test_ray: no cloud metadata request
    more = ("--speakers", "--speaker-names", "S2=Ben", "--preset", "meeting-summary", "--format", "json")
    with OpenAIServer() as srv:
        ray_args = batch_args(
            path.parent, tmp_path / "ray", srv.url, *more, "--engine", "ray", "--actors", "1"
        )
        p = run_cli(*ray_args, env={"HOME": str(home)})  # a Ray of its own (not one a test shut down)
        assert p.returncode == 0, p.stderr
        asked = [a["prompt"] for a in srv.state.audio]
        assert asked and all(run_speakers.ATTRIBUTE in p and "Ben" in p for p in asked)
        code, _, stderr = run_main(
            monkeypatch, capsys, *batch_args(path.parent, tmp_path / "local", srv.url, *more)
        )
        assert code == 0, stderr
        assert len(srv.state.audio) == len(asked)  # the same chunks, asked the same: all from the cache
    got = [steady((tmp_path / d / "two.json").read_text(), "json") for d in ("ray", "local")]
    assert got[0] == got[1] and lines(tmp_path / "ray")["two"]["speakers"] == 2


def test_the_classic_pipeline_labels_a_batch_as_run_does(two, tmp_path, monkeypatch, capsys):
    """Whisper tiny.en (decoding the chunks of a batch together): the same chunks, keys and labels as run."""
    from tests.helpers.offline_models import whisper_tiny_en

    path, _ = two
    model = ("--backend", "classic", "--model", whisper_tiny_en(), "--speakers", "--format", "json")
    args = ["batch", str(path.parent), "--out", str(tmp_path / "out"), "--workers", "1", *model]
    code, _, stderr = run_main(monkeypatch, capsys, *args)
    assert code == 0, stderr
    dest = tmp_path / "run.json"
    code, _, stderr = run_main(monkeypatch, capsys, "run", str(path), *model, "--out", str(dest))
    assert code == 0, stderr
    got = [json.loads(p.read_text()) for p in (tmp_path / "out" / "two.json", dest)]
    spans = [[(s["start_s"], s["end_s"], s["speaker"]) for s in r["segments"]] for r in got]
    assert spans[0] == spans[1] and {s for *_, s in spans[0]} == {"S1", "S2"}
    assert got[0]["speakers"] == got[1]["speakers"] and got[0]["text"] == got[1]["text"]
    assert all(c["cached"] for c in got[1]["chunks"])  # run found batch's chunks: the same keys
    assert all(p.startswith(("S1: ", "S2: ")) for p in got[0]["text"].split("\n\n"))
