"""Who said what in a job: a real two-speaker conversation (joined from the clips of two real people) sent
with ``speakers=true`` finds its two speakers; the chunks as they finish, the transcript's segments and
the downloads (WebVTT voices, SRT and Markdown names) carry them, with the names the job gave; the
speaker turns and their coverage come with the end of the job. Bad speaker fields are a 400 of one line."""

import sqlite3

import pytest

pytest.importorskip("fastapi", reason="audiomm serve needs the [serve] extra")

from audiomm.config import RunOptions
from audiomm.longform import ChunkResult
from audiomm.serve.store import Job, JobStore
from audiomm.serve.work import Progress
from audiomm.tasks.presets import resolve
from tests.helpers.gateway import Gateway, systems_file
from tests.helpers.openai_server import MODEL, OpenAIServer
from tests.helpers.speakers import CASES, need_voice_encoder
from tests.serve.test_jobs import events, submit, wait_for

NAMES = {"S1": "Ana", "S2": "Ben"}


@pytest.fixture(scope="module")
def allowed(tmp_path_factory):
    return tmp_path_factory.mktemp("allowed")


@pytest.fixture(scope="module")
def gateway(allowed, tmp_path_factory):
    need_voice_encoder()
    root = tmp_path_factory.mktemp("speakers")
    with OpenAIServer() as server:
        systems = systems_file(root / "systems.toml", {"sys": server.url}, MODEL, max_chunk_seconds=12)
        with Gateway(systems, root / "data", "--files-root", str(allowed)) as gw:
            yield gw


@pytest.fixture(scope="module")
def conversation(allowed):
    """The first benchmark conversation (2 people, 16 short turns) and its reference turns."""
    path = allowed / "two.wav"
    return path, CASES[0].build(path)


def reference_speaker(ref, start: float, end: float) -> str:
    """Who of the reference speaks most in ``[start, end)``."""
    heard = {t.speaker: 0.0 for t in ref}
    for t in ref:
        heard[t.speaker] += max(0.0, min(t.end_s, end) - max(t.start_s, start))
    return max(heard, key=heard.get)


def test_a_job_with_speakers_labels_its_chunks_segments_and_downloads(gateway, conversation):
    path, ref = conversation
    names = ",".join(f"{k}={v}" for k, v in NAMES.items())
    job = submit(gateway, path, speakers="true", speaker_names=names)
    assert job["speakers"] is True
    live = events(gateway, job["id"])
    done = wait_for(gateway, job["id"])
    assert done["status"] == "done" and done["coverage"]["speakers"]["speakers"] == 2
    chunks = [d["chunk"] for n, d in live if n == "job.chunk"]
    assert chunks and all(c.get("speaker") in ("Ana", "Ben") for c in chunks)  # cut where the speaker changes
    end = live[-1][1]
    assert live[-1][0] == "job.done" and end["speakers"]["speakers"] == ["S1", "S2"]
    assert end["speakers"]["names"] == NAMES and len(end["speakers"]["turns"]) >= len(ref) // 2
    assert end["speakers"]["coverage"]["ratio"] > 0.9

    with gateway.http() as http:
        got = {
            f: http.get(f"/v1/jobs/{job['id']}/result", params={"format": f})
            for f in ("json", "vtt", "srt", "md")
        }
    result = got["json"].json()
    said = [s for s in result["segments"] if s["text"]]
    assert said and all(s["speaker"] in ("Ana", "Ben") for s in said)
    first = {"Ana": ref[0].speaker, "Ben": next(t.speaker for t in ref if t.speaker != ref[0].speaker)}
    right = [first[s["speaker"]] == reference_speaker(ref, s["start_s"], s["end_s"]) for s in said]
    assert sum(right) >= 0.8 * len(right), right  # the labels are who really speaks there
    assert result["speakers"]["turns"] == end["speakers"]["turns"]
    assert "<v Ana>" in got["vtt"].text and "<v Ben>" in got["vtt"].text
    assert "\nAna: " in got["srt"].text and "speakers: Ana " in got["md"].text
    assert "speakers=2" in got["json"].headers["x-audiomm-coverage"]

    late = events(gateway, job["id"])  # a client who comes after the end sees the same
    in_order = sorted(chunks, key=lambda c: c["index"])  # live, they come as they finish
    assert [d["chunk"] for n, d in late if n == "job.chunk"] == [
        {k: v for k, v in c.items() if k != "flags"} for c in in_order
    ]
    assert late[-1][1]["speakers"] == end["speakers"]


def test_a_json_job_with_speakers_and_no_names_gets_voices_s1_s2(gateway, conversation):
    with gateway.http() as http:
        r = http.post(
            "/v1/jobs", json={"system": "sys", "path": "two.wav", "speakers": True, "num_speakers": 2}
        )
        assert r.status_code == 202, r.text
        done = wait_for(gateway, r.json()["id"])
        vtt = http.get(f"/v1/jobs/{done['id']}/result", params={"format": "vtt"}).text
    assert done["status"] == "done" and done["coverage"]["speakers"]["estimated"] is False
    assert "<v S1>" in vtt and "<v S2>" in vtt


@pytest.mark.parametrize(
    "fields, param, words",
    [
        ({"speakers": "maybe"}, "speakers", "speakers must be true or false"),
        ({"num_speakers": "2"}, "num_speakers", "add speakers=true"),
        ({"speaker_names": "S1=Ana"}, "speaker_names", "add speakers=true"),
        ({"speakers": "true", "num_speakers": "0"}, "num_speakers", "at least 1"),
        ({"speakers": "true", "num_speakers": "two"}, "num_speakers", "whole number"),
        ({"speakers": "true", "max_speakers": "²"}, "max_speakers", "whole number"),
        ({"speakers": "true", "max_speakers": "9" * 5000}, "max_speakers", "whole number"),
        ({"speakers": "true", "min_speakers": "4", "max_speakers": "2"}, "min_speakers", "at most"),
        ({"speakers": "true", "num_speakers": "2", "min_speakers": "3"}, "num_speakers", "not both"),
        ({"speakers": "true", "speaker_names": "Ana"}, "speaker_names", "is not LABEL=NAME"),
        ({"speakers": "true", "speaker_names": "X1=Ana"}, "speaker_names", "not a speaker label"),
        ({"speakers": "true", "speaker_names": "S1=Ana,S1=Bo"}, "speaker_names", "named twice"),
    ],
)
def test_bad_speaker_fields_are_a_400_of_one_line(gateway, conversation, fields, param, words):
    path, _ = conversation
    with gateway.http() as http:
        r = http.post(
            "/v1/jobs", files={"file": ("two.wav", path.read_bytes())}, data={"system": "sys", **fields}
        )
    error = r.json()["error"]
    assert r.status_code == 400 and error["param"] == param and words in error["message"], error
    assert "\n" not in error["message"] and "--" not in error["message"]


def test_a_json_job_with_bad_speaker_values_is_refused(gateway, conversation):
    with gateway.http() as http:
        zero = http.post(
            "/v1/jobs", json={"system": "sys", "path": "two.wav", "speakers": True, "num_speakers": 0}
        )
        listed = http.post("/v1/jobs", json={"system": "sys", "path": "two.wav", "speakers": [True]})
    assert zero.status_code == 400 and zero.json()["error"]["param"] == "num_speakers"
    assert listed.status_code == 400 and "true/false" in listed.json()["error"]["message"]


def test_the_transcriptions_endpoint_takes_speakers_too(gateway, conversation):
    path, _ = conversation
    fields = {"model": "sys", "response_format": "verbose_json", "speakers": "true"}
    with gateway.http() as http:
        r = http.post("/v1/audio/transcriptions", files={"file": ("two.wav", path.read_bytes())}, data=fields)
        streamed = http.post(
            "/v1/audio/transcriptions",
            files={"file": ("two.wav", path.read_bytes())},
            data={**fields, "stream": "true"},
        )
    body = r.json()
    assert r.status_code == 200 and body["audiomm"]["speakers"]["speakers"] == 2
    assert {s["speaker"] for s in body["segments"]} == {"S1", "S2"} and body["text"].startswith("S1: ")
    assert streamed.status_code == 400 and streamed.json()["error"]["param"] == "stream"


def test_a_jobs_table_of_an_earlier_version_gets_the_speaker_column(tmp_path):
    path = tmp_path / "jobs.sqlite"
    with sqlite3.connect(path) as db:  # the chunks table as audiomm made it before speakers
        db.execute(
            "CREATE TABLE chunks (job TEXT NOT NULL, idx INTEGER NOT NULL, start_s REAL NOT NULL,"
            " end_s REAL NOT NULL, text TEXT NOT NULL, cached INTEGER NOT NULL, PRIMARY KEY (job, idx))"
        )
        db.execute("INSERT INTO chunks VALUES ('job_old', 0, 0.0, 5.0, 'before', 0)")
    store = JobStore(path)
    store.add(
        Job("job_new", "running", "sys", resolve("transcript"), RunOptions(speakers=True), "f", "f", False)
    )
    store.progress("job_new", Progress(), ChunkResult(0, 0.0, 4.0, "hello", "stop", speaker="Ana"))
    assert store.chunks("job_old") == [
        {"index": 0, "start": 0.0, "end": 5.0, "text": "before", "cached": False}
    ]
    assert store.chunks("job_new")[0]["speaker"] == "Ana"
    again = JobStore(path)  # opened again: nothing to add; the job's options as they were
    assert again.speakers("job_new") is None and again.get("job_new").options.speakers is True
