"""The jobs API: submit (an upload, or a local file under the allowed folder), poll, follow the events,
fetch the result in each format, cancel; a gateway killed (SIGKILL) mid-job resumes it on restart with
nothing finished computed again."""

import json
import sqlite3
import time

import pytest

pytest.importorskip("fastapi", reason="audiomm serve needs the [serve] extra")

from tests.helpers.gateway import Gateway, free_port, recording, systems_file
from tests.helpers.openai_server import MODEL, OpenAIServer

OVER = ("done", "failed", "cancelled")


@pytest.fixture(scope="module")
def server():
    with OpenAIServer() as s:
        yield s


@pytest.fixture(scope="module")
def allowed(tmp_path_factory):
    return tmp_path_factory.mktemp("allowed")


@pytest.fixture(scope="module")
def gateway(server, allowed, tmp_path_factory):
    root = tmp_path_factory.mktemp("jobs")
    named = {"sys": server.url, "down": f"http://127.0.0.1:{free_port()}/v1"}
    systems = systems_file(
        root / "systems.toml", named, MODEL, max_chunk_seconds=12, concurrency=2, retries=0
    )
    options = ("--files-root", str(allowed), "--max-jobs", "1", "--keep-audio-hours", "0")
    with Gateway(systems, root / "data", *options) as gw:
        yield gw


@pytest.fixture
def slow(server):
    server.state.delay = 0.2
    yield server
    server.state.delay = 0.0


def submit(gw: Gateway, path, **fields) -> dict:
    with gw.http() as http, open(path, "rb") as f:
        r = http.post(
            "/v1/jobs", files={"file": (path.name, f, "audio/wav")}, data={"system": "sys", **fields}
        )
    assert r.status_code == 202, r.text
    return r.json()


def state(gw: Gateway, job_id: str) -> dict:
    with gw.http() as http:
        return http.get(f"/v1/jobs/{job_id}").json()


def wait_for(gw: Gateway, job_id: str, done=lambda j: j["status"] in OVER, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = state(gw, job_id)
        if done(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not get there: {job}")


def events(gw: Gateway, job_id: str) -> list[tuple[str, dict]]:
    """The job's server-sent events, until the stream ends: (event name, data)."""
    out, name, data = [], None, []
    with gw.http() as http, http.stream("GET", f"/v1/jobs/{job_id}/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event:"):
                name = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                data.append(line.partition(":")[2].strip())
            elif not line and data:
                out.append((name, json.loads("\n".join(data))))
                name, data = None, []
    return out


def test_a_job_runs_to_its_results_in_every_format(gateway, tmp_path):
    path, _ = recording(tmp_path / "talk.wav", 14)
    job = submit(gateway, path)
    assert job["status"] == "queued" and job["id"].startswith("job_") and job["file"] == "talk.wav"
    done = wait_for(gateway, job["id"])
    assert done["status"] == "done" and done["result_url"] == f"/v1/jobs/{job['id']}/result"
    p = done["progress"]
    assert p["chunks_done"] == p["chunks_total"] == 14 and p["input_s"] == pytest.approx(175.0, abs=0.1)
    assert done["coverage"]["covered_ratio"] == 1.0 and done["attempts"] == 1
    with gateway.http() as http:
        got = {
            f: http.get(f"/v1/jobs/{job['id']}/result", params={"format": f})
            for f in ("md", "json", "srt", "vtt")
        }
        assert http.get(f"/v1/jobs/{job['id']}/result", params={"format": "pdf"}).status_code == 400
    assert all(
        r.status_code == 200 and r.headers["x-audiomm-coverage"].startswith("covered=1.000")
        for r in got.values()
    )
    result = got["json"].json()
    assert (
        result["file"] == "talk.wav"
        and len(result["chunks"]) == 14
        and result["coverage"]["covered_ratio"] == 1.0
    )
    assert got["md"].text.startswith("# transcript: talk.wav") and "coverage: input 175.0 s" in got["md"].text
    assert got["srt"].text.count(" --> ") == 14 and got["vtt"].text.startswith("WEBVTT")
    assert not any((gateway.log_path.parent / "data" / "uploads").iterdir())  # kept 0 h: gone with the job


def test_events_stream_progress_and_a_late_client_gets_the_state_first(gateway, slow, tmp_path):
    path, _ = recording(tmp_path / "meeting.wav", 8, pause=1.6)
    job = submit(gateway, path, preset="meeting-summary")
    live = events(gateway, job["id"])
    names = [n for n, _ in live]
    assert names[0] == "job.state" and names[-1] == "job.done" and "job.planned" in names
    chunks = [d for n, d in live if n == "job.chunk"]
    assert len(chunks) == 8 and [c["progress"]["chunks_done"] for c in chunks] == list(range(1, 9))
    # the plan grows as the recording is decoded: each chunk as it is planned, the total once complete
    planned = [d["chunk"]["index"] for n, d in live if n == "job.chunk_planned"]
    assert planned == list(range(8)) and names.index("job.chunk_planned") < names.index("job.chunk")
    after = names[names.index("job.planned") :]
    totals = [d["progress"]["chunks_total"] for n, d in live if n == "job.chunk" and n in after]
    assert all(t in (None, 8) for t in totals) and chunks[-1]["progress"]["chunks_total"] == 8
    assert chunks[-1]["progress"]["eta_s"] is not None
    assert all(c["chunk"]["text"].startswith("heard ") for c in chunks)
    assert live[-1][1]["job"]["status"] == "done"
    plan = next(d for n, d in live if n == "job.planned")
    assert plan["input_s"] == pytest.approx(8 * (11.0 + 1.6), abs=0.1) and len(plan["chunks"]) == 8
    assert all(s < e for s, e in plan["speech"]) and plan["speech"][0][0] < 0.5  # speech regions, in seconds
    late = events(gateway, job["id"])  # after the end: the state first, the plan, the chunks, the end
    assert [n for n, _ in late] == ["job.state", "job.planned"] + ["job.chunk"] * 8 + ["job.done"]
    assert late[0][1]["job"]["status"] == "done" and late[1][1]["speech"] == plan["speech"]
    with gateway.http() as http:
        md = http.get(f"/v1/jobs/{job['id']}/result").text
    assert md.startswith("# meeting-summary: meeting.wav") and "summary of 8 parts" in md


def test_a_job_may_name_a_local_file_only_under_the_allowed_folder(gateway, allowed, tmp_path):
    inside, _ = recording(allowed / "call.wav", 2)
    outside, _ = recording(tmp_path / "private.wav", 2)
    (allowed / "link.wav").symlink_to(outside)
    with gateway.http() as http:
        ok = http.post("/v1/jobs", json={"system": "sys", "path": "call.wav"})
        refused = [
            http.post("/v1/jobs", json={"system": "sys", "path": p})
            for p in (str(outside), "../private.wav", "link.wav")
        ]
        missing = http.post("/v1/jobs", json={"system": "sys", "path": "nothing.wav"})
    assert ok.status_code == 202, ok.text
    assert wait_for(gateway, ok.json()["id"])["status"] == "done" and inside.exists()  # the user's file stays
    assert all(r.status_code == 403 and r.json()["error"]["code"] == "path_not_allowed" for r in refused)
    assert missing.status_code == 400 and "no such file" in missing.json()["error"]["message"]


def test_cancel_a_running_and_a_queued_job(gateway, server, slow, tmp_path):
    path, _ = recording(tmp_path / "long.wav", 14, pause=1.4)
    running = submit(gateway, path)
    queued = submit(gateway, path, preset="clean")  # one slot (--max-jobs 1): this one waits
    wait_for(gateway, running["id"], lambda j: j["progress"]["chunks_done"] >= 2)
    with gateway.http() as http:
        assert state(gateway, queued["id"])["status"] == "queued"
        gone = http.delete(f"/v1/jobs/{queued['id']}").json()
        stopped = http.delete(f"/v1/jobs/{running['id']}").json()
        asked = len(server.state.audio)
        again = http.delete(f"/v1/jobs/{running['id']}")
        result = http.get(f"/v1/jobs/{running['id']}/result")
    assert gone["status"] == "cancelled" and gone["started_at"] is None
    assert stopped["status"] == "cancelled" and again.status_code == 409 and result.status_code == 409
    time.sleep(1.0)
    assert len(server.state.audio) <= asked + 2  # at most the requests in flight; nothing after
    assert state(gateway, running["id"])["status"] == "cancelled"
    assert [n for n, _ in events(gateway, queued["id"])] == ["job.state", "job.cancelled"]


def test_a_bad_job_is_refused_and_a_failing_one_says_why(gateway, tmp_path):
    path, _ = recording(tmp_path / "short.wav", 1)
    with gateway.http() as http, open(path, "rb") as f:
        data = f.read()

        def post(**fields):
            return http.post("/v1/jobs", files={"file": ("short.wav", data)}, data=fields)

        assert post(system="nope").status_code == 404
        assert post(system="sys", preset="nope").status_code == 400
        assert "template" in post(system="sys", preset="voice-journal").json()["error"]["message"]
        assert http.post("/v1/jobs", json={"system": "sys"}).status_code == 400
        assert http.get("/v1/jobs/job_nope").status_code == 404
        failed = post(system="down").json()
    job = wait_for(gateway, failed["id"])
    assert job["status"] == "failed" and job["error"]["code"] == "backend_unavailable"
    assert job["error"]["message"].startswith("system 'down': cannot reach")


def test_a_job_killed_mid_run_resumes_with_nothing_finished_recomputed(tmp_path):
    path, _ = recording(tmp_path / "hour.wav", 12, pause=1.3)
    with OpenAIServer(delay=0.25) as server:
        systems = systems_file(
            tmp_path / "systems.toml", {"sys": server.url}, MODEL, max_chunk_seconds=12, concurrency=1
        )
        gw = Gateway(systems, tmp_path / "data").start()
        try:
            job = submit(gw, path)
            wait_for(gw, job["id"], lambda j: j["progress"]["chunks_done"] >= 5)
            gw.kill()
            time.sleep(0.5)  # the request in flight at the kill reaches the server's count
            before = len(server.state.audio)
            upload = tmp_path / "data" / "uploads" / job["id"]
            assert upload.exists() and status_in_table(tmp_path, job["id"]) == "running"
            gw.start()
            done = wait_for(gw, job["id"])
            after = len(server.state.audio) - before
            gw.stop()
            gw.start()  # and its results outlive the gateway
            with gw.http() as http:
                srt = http.get(f"/v1/jobs/{job['id']}/result", params={"format": "srt"}).text
        finally:
            gw.stop()
    assert done["status"] == "done" and done["attempts"] == 2 and done["coverage"]["covered_ratio"] == 1.0
    cached = done["coverage"]["cached_chunks"]
    assert cached >= 5 and after == 12 - cached  # only what had not finished was asked again
    assert before + after <= 12 + 1  # at most the one request in flight at the kill was lost
    assert upload.exists() and srt.count(" --> ") == 12  # kept (24 h by default) for the page's player


def status_in_table(tmp_path, job_id: str) -> str:
    with sqlite3.connect(tmp_path / "data" / "jobs.sqlite") as db:
        return db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
