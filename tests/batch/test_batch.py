"""audiomm batch end to end against local OpenAI-compatible servers (requests counted)."""

import json
import signal
import sqlite3
import time

import psutil
import pytest

from tests.batch.conftest import MODEL, batch_args, recording
from tests.helpers.cli import error_line, run_cli, run_main, start_cli
from tests.helpers.openai_server import OpenAIServer


def lines(out) -> dict[str, dict]:
    return {x["key"]: x for x in map(json.loads, (out / "batch.jsonl").read_text().splitlines())}


def test_outputs_mirror_the_tree_and_a_bad_file_fails_alone(tree, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    with OpenAIServer() as srv:
        code, stdout, stderr = run_main(
            monkeypatch, capsys, *batch_args(tree, out, srv.url, "--format", "md", "--format", "srt")
        )
        assert code == 1  # some failed
        assert len(srv.state.audio) == 3 and not srv.state.errors
        for stem in ("a", "2024/b", "2024/jan/c"):
            assert "heard" in (out / f"{stem}.md").read_text() and (out / f"{stem}.srt").is_file()
        got = lines(out)
        assert set(got) == {"a", "2024/b", "2024/jan/c", "2024/broken"}
        c = got["2024/jan/c"]
        assert c["status"] == "done" and c["outputs"] == ["2024/jan/c.md", "2024/jan/c.srt"]
        assert c["chunks"] == 1 and c["covered_ratio"] == 1.0 and c["coverage"].startswith("coverage: input")
        assert c["seconds"] > 0 and c["rtf"] == round(c["seconds"] / c["audio_s"], 4) and c["error"] is None
        bad = got["2024/broken"]
        assert bad["status"] == "failed" and "not an audio file FFmpeg can read" in bad["error"]
        assert "\n" not in bad["error"] and bad["attempts"] == 1  # a bad file is not tried twice
        assert "failed: 2024/broken: " in stderr and "Traceback" not in stderr
        assert "batch: 3 of 4 recordings done, 1 failed" in stdout and "audio hours per wall hour" in stdout
        assert not list(tree.rglob("*.md"))  # outputs never go beside the inputs

        code, stdout, _ = run_main(
            monkeypatch, capsys, *batch_args(tree, out, srv.url, "--format", "md", "--format", "srt")
        )
        assert code == 1 and "3 of 4 recordings done (3 by an earlier run)" in stdout
        assert len(srv.state.audio) == 3  # nothing done is asked again
        assert lines(out)["2024/broken"]["attempts"] == 2  # a failed one is tried again by a rerun

        code, _, _ = run_main(monkeypatch, capsys, *batch_args(tree, out, srv.url, "--format", "json"))
        assert len(srv.state.audio) == 3 and json.loads((out / "a.json").read_text())["chunks"][0]["cached"]


def test_manifest_rows_pick_systems_presets_prompts_and_references(tmp_path, monkeypatch, capsys):
    recs = tmp_path / "recs"
    for n in range(4):
        recording(recs / f"r{n}.wav", n)
    (recs / "form.md").write_text("Mood: ...")
    manifest = recs / "list.csv"
    manifest.write_text(
        "path,system,preset,prompt,template,reference\n"
        "r0.wav,one,,,,heard 12.xx seconds\n"
        "r1.wav,two,,,,\n"
        'r2.wav,one,,"Who is speaking, and why?",,\n'
        "r3.wav,two,voice-journal,,form.md,\n"
    )
    with OpenAIServer() as one, OpenAIServer() as two:
        systems = tmp_path / "systems.toml"
        systems.write_text(
            f'[[system]]\nname = "one"\nmodel = "{MODEL}"\nbase_url = "{one.url}"\n\n'
            f'[[system]]\nname = "two"\nmodel = "{MODEL}"\nbase_url = "{two.url}"\n'
        )
        args = [
            "batch",
            str(manifest),
            "--out",
            str(tmp_path / "out"),
            "--systems",
            str(systems),
            "--workers",
            "1",
        ]
        code, stdout, stderr = run_main(monkeypatch, capsys, *args)
        assert code == 0, stderr
        assert len(one.state.audio) == 2 and len(two.state.audio) == 2
        assert sorted(a["prompt"] == "Who is speaking, and why?" for a in one.state.audio) == [False, True]
        assert any(
            "Mood: ..." in r["text"] for r in two.state.text_requests
        )  # the row's template, in the merge
    got = lines(tmp_path / "out")
    assert got["r0"]["system"] == "one" and got["r0"]["wer"] is not None and got["r1"]["wer"] is None
    assert got["r3"]["preset"] == "voice-journal" and got["r2"]["preset"] == "custom"


def test_resume_after_sigkill_redoes_nothing_finished(tmp_path):
    recs = tmp_path / "recs"
    for n in range(8):
        recording(recs / f"r{n}.wav", n, clips=2)  # two chunks each at a 12 s window
    out = tmp_path / "out"
    with OpenAIServer(delay=0.4) as srv:
        args = batch_args(recs, out, srv.url, "--max-chunk-seconds", "12", "--concurrency", "2")
        p = start_cli(*args)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(done_keys(out)) < 3:
            time.sleep(0.05)
        workers = psutil.Process(p.pid).children(recursive=True)
        p.send_signal(signal.SIGKILL)
        p.wait()
        time.sleep(0.8)  # requests in flight at the kill are still answered (and counted) by the server
        first, finished = len(srv.state.audio), done_keys(out)
        assert 3 <= len(finished) < 8
        assert wait_gone(workers), "front-end workers outlived their parent"
        r = run_cli(*args)
        assert r.returncode == 0, r.stderr
        second = len(srv.state.audio) - first
    got = lines(out)
    assert (
        all(x["status"] == "done" for x in got.values())
        and f"({len(finished)} by an earlier run)" in r.stdout
    )
    rerun = [x for k, x in got.items() if k not in finished]
    assert second == sum(x["chunks"] - x["cached"] for x in rerun)  # only the unfinished chunks went again
    assert (
        first + second - sum(x["chunks"] for x in got.values()) <= 2
    )  # at most the requests in flight at the kill


def done_keys(out) -> set[str]:
    """The recordings the job table has done (read while the batch runs)."""
    try:
        with sqlite3.connect(out / "batch.sqlite", timeout=5) as db:
            return {k for (k,) in db.execute("SELECT key FROM recordings WHERE status = 'done'")}
    except sqlite3.Error:
        return set()


def wait_gone(procs, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in procs):
            return True
        time.sleep(0.1)
    return False


def test_failed_recordings_are_retried_a_bounded_number_of_times(tmp_path, monkeypatch, capsys):
    recs = tmp_path / "recs"
    for n in range(3):
        recording(recs / f"r{n}.wav", n)
    out = tmp_path / "out"
    with OpenAIServer(faults=[("500", 1)]) as srv:  # one request fails: its recording goes again, last
        code, _, stderr = run_main(monkeypatch, capsys, *batch_args(recs, out, srv.url, "--retries", "0"))
        assert code == 0, stderr
        assert sorted(x["attempts"] for x in lines(out).values()) == [1, 1, 2]
    with OpenAIServer(faults=[("500", 100)]) as srv:  # a server that always fails
        code, stdout, stderr = run_main(
            monkeypatch,
            capsys,
            *batch_args(recs, tmp_path / "out2", srv.url, "--retries", "0", "--attempts", "3"),
        )
        assert code == 1 and "0 of 3 recordings done, 3 failed" in stdout
        assert len(srv.state.audio) == 0 and all(
            x["attempts"] == 3 for x in lines(tmp_path / "out2").values()
        )
        failed = [ln for ln in stderr.splitlines() if ln.startswith("failed: ")]
        assert len(failed) == 3 and all("HTTP 500" in ln or "500" in ln for ln in failed)


def test_several_base_urls_spread_the_load(tmp_path, monkeypatch, capsys):
    recs = tmp_path / "recs"
    for n in range(8):
        recording(recs / f"r{n}.wav", n)
    with OpenAIServer(delay=0.2) as a, OpenAIServer(delay=0.2) as b:
        args = batch_args(recs, tmp_path / "out", a.url, "--base-url", b.url, "--concurrency", "2")
        code, _, stderr = run_main(monkeypatch, capsys, *args)
        assert code == 0, stderr
        assert (
            len(a.state.audio) + len(b.state.audio) == 8
            and len(a.state.audio) >= 2
            and len(b.state.audio) >= 2
        )


def test_names_that_would_leave_out_and_outputs_that_are_inputs_fail_alone(tmp_path, monkeypatch, capsys):
    recs = tmp_path / "recs"
    recording(recs / "ok.wav", 0)
    recording(recs / "away" / "x.wav", 1)
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (out / "away").symlink_to(tmp_path / "elsewhere")  # a folder of the mirror that leads out of --out
    with OpenAIServer() as srv:
        code, _, stderr = run_main(monkeypatch, capsys, *batch_args(recs, out, srv.url))
    assert code == 1 and "resolves outside" in lines(out)["away/x"]["error"]
    assert (out / "ok.md").is_file() and not list((tmp_path / "elsewhere").iterdir())


@pytest.mark.parametrize(
    "args, message",
    [
        (["{recs}/missing"], "no such file, directory or manifest"),
        (["{recs}", "--format", "pdf"], "unknown --format 'pdf'"),
        (["{recs}", "--engine", "spark"], "unknown --engine 'spark'"),
        (["{recs}", "--workers", "0"], "--workers must be at least 1"),
        (["{recs}/list.csv"], "unknown column 'speaker'"),
        (["{recs}/sys.csv"], "system 'x' is a name in a systems file: pass --systems FILE"),
        (["{recs}", "--preset", "nope"], "unknown preset 'nope'"),
        (["{recs}", "--max-chunk-seconds", "0.5"], "--max-chunk-seconds must be at least 1 second"),
    ],
)
def test_bad_input_is_one_error_line(tmp_path, monkeypatch, capsys, args, message):
    recs = tmp_path / "recs"
    recording(recs / "a.wav", 0)
    (recs / "list.csv").write_text("path,speaker\na.wav,x\n")
    (recs / "sys.csv").write_text("path,system\na.wav,x\n")
    argv = [a.format(recs=recs) for a in args]
    code, _, stderr = run_main(
        monkeypatch,
        capsys,
        "batch",
        *argv,
        "--out",
        str(tmp_path / "out"),
        "--model",
        MODEL,
        "--base-url",
        "http://127.0.0.1:9/v1",
    )
    assert message in error_line(code, stderr)
