"""audiomm eval: the prompt suite, WER, the rubric judge (recorded replies, retries), the runner
(JSONL, resumable, no secrets), and the report."""

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from audiomm import BackendConfig
from audiomm.backends import load
from audiomm.errors import AudiommError
from audiomm.evaluate.judge import (
    DIMENSIONS,
    JudgeReplyError,
    build_prompt,
    judge,
    judge_eval,
    parse_reply,
    read_judgements,
)
from audiomm.evaluate.report import build
from audiomm.evaluate.runner import load_recordings, read_manifest, read_results, run_eval, write_manifest
from audiomm.evaluate.suite import Task, load_suite, select
from audiomm.evaluate.wer import ErrorRates, error_rates, normalise
from audiomm.systems import load_systems
from tests.helpers.audio import DATA, clip, join, write
from tests.helpers.cli import run_cli
from tests.helpers.openai_server import OpenAIServer

MODEL = "qwen2-audio-7b-instruct"
GOOD = '{"accuracy": 4, "depth": 3, "grounding": 4, "relevance": 5, "insight": 2, "rationale": "fine"}'
REQUIRED = (
    "accent mood-dissonance nonverbal vocal-eq speakers environment pacing-fillers sarcasm recording-quality"
    " confidence turn-taking stress voice-profile language-switching sound-scene"
).split()


# --------------------------------------------------------------------------- suite and WER


def test_suite_has_the_understanding_tasks():
    suite = load_suite()
    judged = [t for t in suite.values() if t.score == "judge"]
    assert len(judged) >= 15
    assert set(REQUIRED) <= set(suite)
    for t in suite.values():
        assert len(t.tests) > 20 and len(t.prompt) > 20 and len(t.rubric) > 40
        p = t.to_preset()
        assert p.chunk_prompt and (p.kind == "transcript" or "{texts}" in p.reduce_prompt)
    assert suite["sound-scene"].no_vad and suite["transcript"].to_preset().verbatim


def test_user_suite_dir_and_bad_task(tmp_path):
    (tmp_path / "mine.toml").write_text(
        'tests = "my test"\nprompt = "my prompt {x}"\nrubric = "5: good. 1: bad."\n'
    )
    suite = load_suite(tmp_path)
    assert suite["mine"].source.endswith("mine.toml")
    assert [t.name for t in select(suite, "mine,accent")] == ["mine", "accent"]
    with pytest.raises(AudiommError, match="unknown task 'nope'"):
        select(suite, "nope")
    (tmp_path / "bad.toml").write_text('prompt = "x"\n')
    with pytest.raises(AudiommError, match="bad.toml: a task needs tests, rubric"):
        load_suite(tmp_path)


def test_normalise_and_error_rates():
    assert (
        normalise("And so, my fellow Americans—ask NOT “what”… don’t!")
        == "and so my fellow americans ask not what don't"
    )
    e = error_rates("the cat sat on the mat", "The cat, sat on a mat!")
    assert (e.wer, e.substitutions, e.deletions, e.insertions, e.ref_words) == (1 / 6, 1, 0, 0, 6)
    e = error_rates("a b c d", "a x c")
    assert e.wer == 0.5 and e.substitutions == 1 and e.deletions == 1
    assert error_rates("a b", "").wer == 1.0
    with pytest.raises(ValueError):
        error_rates("...", "a")


def judge_backend(server):
    return load(BackendConfig("openai", "judge-1", base_url=server.url, api_key="sk-test", retries=0))


# --------------------------------------------------------------------------- judge


REPLIES = json.loads((DATA / "judge_replies.json").read_text())["replies"]


@pytest.mark.parametrize("case", REPLIES, ids=[c["name"] for c in REPLIES])
def test_judge_parses_recorded_replies(case):
    if "scores" in case:
        s = parse_reply(case["reply"])
        assert {d: getattr(s, d) for d in DIMENSIONS} == case["scores"]
    else:
        with pytest.raises(JudgeReplyError, match=case["error"]):
            parse_reply(case["reply"])


def test_judge_prompt_keeps_braces_in_answers():
    p = build_prompt(Task("t", "T", "P", "R"), "C", "answer with {rubric} and {{x}}")
    assert "answer with {rubric} and {{x}}" in p and '{"accuracy": n' in p and "\nR\n" in p


def test_judge_retries_once_then_records_everything():
    with OpenAIServer(model="judge-1", replies=["Accuracy: 4/5, depth 3", GOOD]) as server:
        j = judge(judge_backend(server), "k", "PROMPT")
        second = server.state.text_requests[1]["text"]
    assert j.valid and j.attempts == 2 and j.scores["relevance"] == 5 and j.overall == 3.6
    assert j.judge_model == "judge-1" and j.prompt == "PROMPT" and len(j.prompt_sha256) == 64
    assert j.replies == ["Accuracy: 4/5, depth 3", GOOD]
    assert second.startswith("PROMPT") and "no JSON object" in second  # the error is quoted back
    with OpenAIServer(model="judge-1", replies=["nope", '{"accuracy": 9}', GOOD]) as server:
        j = judge(judge_backend(server), "k", "PROMPT")
        asked = len(server.state.text_requests)
    assert (
        not j.valid and j.attempts == 2 and asked == 2 and j.scores == {} and "less than or equal" in j.error
    )


# --------------------------------------------------------------------------- runner, judge, report


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    d = tmp_path_factory.mktemp("recs")
    write(d / "one.flac", join([clip(), 0.5])[0])
    (d / "one.txt").write_text("And so my fellow Americans, ask not what your country can do for you.")
    (d / "one.notes.txt").write_text("JFK, one male speaker.")
    write(d / "two.m4a", join([clip(), 2.0, clip()])[0])
    return d


def systems_file(tmp_path, url, extra=""):
    f = tmp_path / "systems.toml"
    f.write_text(
        f'[[system]]\nname = "audio-a"\nmodel = "{MODEL}"\nbase_url = "{url}"\napi_key_env = "EVAL_TEST_KEY"\n'
        f'retries = 1\n\n[[system]]\nname = "audio-b"\nmodel = "{MODEL}"\nbase_url = "{url}"\n'
        f'api_key_env = "EVAL_TEST_KEY"\nretries = 1\n{extra}'
    )
    return f


def test_run_judge_report_end_to_end(tmp_path, recordings, monkeypatch):
    secret = "sk-secret-eval-0123456789"
    monkeypatch.setenv("EVAL_TEST_KEY", secret)
    out = tmp_path / "ev"
    tasks = select(load_suite(), "transcript,accent,sarcasm")
    with OpenAIServer(api_key=secret) as server:
        systems = load_systems(systems_file(tmp_path, server.url))
        recs = load_recordings([recordings])
        assert [r.name for r in recs] == ["one", "two"] and recs[0].reference and recs[0].notes
        new = run_eval(out, systems, recs, tasks, repeats=2)
        assert len(new) == 2 * 2 * 3 * 2 and all(r.status == "ok" for r in new)
        assert server.state.errors == []
        assert run_eval(out, systems, recs, tasks, repeats=2) == []  # resumed: nothing left to do
        lines = (out / "results.jsonl").read_text().splitlines()
        (out / "results.jsonl").write_text("\n".join(lines[:-3]) + "\n" + lines[-3][:40])  # crash mid-write
        again = run_eval(out, systems, recs, tasks, repeats=2)
        assert len(again) == 3 and len(read_results(out)) == 24
    res = read_results(out)
    r = res["audio-a/one/transcript/r0"]
    assert r.wer.ref_words == 14 and r.wer.wer == 1.0  # the test server does not transcribe
    assert res["audio-a/two/transcript/r0"].wer is None  # no reference for two
    assert r.rtf > 0 and r.covered_ratio == 1.0 and (out / r.raw).read_text().startswith("# transcript")

    replies = [GOOD] * 7 + ["not json", "still not json"] + [GOOD] * 20
    with OpenAIServer(model="judge-1", replies=replies) as server:
        b = judge_backend(server)
        js = judge_eval(out, b)
        assert len(js) == 2 * 2 * 2 * 2 and sum(not j.valid for j in js) == 1
        assert "JFK, one male speaker." in server.state.text_requests[0]["text"] or any(
            "JFK, one male speaker." in t["text"] for t in server.state.text_requests
        )
        assert [j.key for j in judge_eval(out, b)] == [
            next(j.key for j in js if not j.valid)
        ]  # only the invalid
    html, md = build(out)
    text = html.read_text()
    for f in out.rglob("*"):
        if f.is_file():
            assert secret not in f.read_text(errors="ignore"), f
    links = _links(text)
    raw = [x for x in links if x.startswith("raw/")]
    assert len(raw) == 24 and all((out / x).is_file() for x in raw)
    assert text.count("<svg") >= 4 and "<script" not in text and "http" not in text.split("<svg")[0]
    assert "Consistency across repeats" in text and "audio-a" in text and "judge-1" in text
    mdt = md.read_text()
    assert (
        "| **audio-a** |" in mdt
        and "![Rubric judge: mean score per dimension (1-5)](plots/rubric.png)" in mdt
    )
    for png in ("wer", "rubric", "rubric_by_task", "latency_rtf"):
        assert (out / "plots" / f"{png}.png").stat().st_size > 5000


def test_eval_files_load_as_records(tmp_path):
    # lines as another version wrote them: unknown keys are ignored, torn or incomplete lines skipped
    wer = {"wer": 0.5, "cer": 0.25, "ref_words": 4, "substitutions": 1, "deletions": 1, "insertions": 0}
    line = {"key": "s/r/t/r0", "system": "s", "backend": "openai", "model": "m", "recording": "r"}
    line |= {"task": "t", "repeat": 0, "status": "ok", "wer": wer, "retired": 1}
    lines = [json.dumps(line), json.dumps({"key": "s/r/t/r1", "system": "s"}), json.dumps(line)[:30]]
    (tmp_path / "results.jsonl").write_text("\n".join(lines))
    [r] = read_results(tmp_path).values()
    assert r.key == "s/r/t/r0" and r.wer == ErrorRates(**wer) and r.wer.errors == 2
    judged = {"key": "s/r/t/r0", "judge_model": "j", "judge_base_url": "u", "judge_version": "v"}
    judged |= {"prompt_sha256": "0", "prompt": "p", "valid": True, "scores": {"depth": 3}, "overall": 3.0}
    (tmp_path / "judgements.jsonl").write_text(json.dumps(judged) + "\n" + json.dumps({"key": "x"}) + "\n")
    [j] = read_judgements(tmp_path).values()
    assert j.valid and j.overall == 3.0 and j.scores == {"depth": 3}
    system = {"name": "s", "backend": "openai", "model": "m", "base_url": "http://h/v1", "retries": 1}
    recording = {"name": "r", "path": "/a.wav", "reference": "a b", "notes": None, "channel": "mix"}
    task = {"name": "t", "tests": "T", "prompt": "P", "rubric": "R", "score": "wer"}
    old = {"systems": [system], "recordings": [recording], "tasks": [task], "repeats": 2, "temperature": 0.5}
    (tmp_path / "eval.json").write_text(json.dumps(old))
    m = read_manifest(tmp_path)
    assert (m.systems[0].name, m.systems[0].settings) == ("s", {"base_url": "http://h/v1", "retries": 1})
    assert m.recordings[0].path == Path("/a.wav") and m.tasks[0].score == "wer" and m.repeats == 2
    write_manifest(tmp_path, m)
    assert read_manifest(tmp_path) == m
    assert json.loads((tmp_path / "eval.json").read_text())["systems"] == [system]
    (tmp_path / "eval.json").write_text('{"systems": [{"model": "m"}]}')
    with pytest.raises(AudiommError, match="not a valid eval.json"):
        read_manifest(tmp_path)


def _links(html: str) -> list[str]:
    hrefs = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "a":
                hrefs.append(dict(attrs)["href"])

    P().feed(html)
    return hrefs


def test_a_failing_system_is_recorded_and_the_others_run(tmp_path, recordings, monkeypatch):
    monkeypatch.setenv("EVAL_TEST_KEY", "k")
    with OpenAIServer(api_key="k") as server:
        extra = '\n[[system]]\nname = "down"\nmodel = "m"\nbase_url = "http://127.0.0.1:9/v1"\nretries = 0\n'
        f = systems_file(tmp_path, server.url, extra)
        args = ["--systems", str(f), "--recordings", str(recordings / "one.flac"), "--tasks", "accent"]
        p = run_cli("eval", "run", *args, "--out", str(tmp_path / "ev"), env={"EVAL_TEST_KEY": "k"})
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "down/one/accent/r0: cannot load the system: cannot reach http://127.0.0.1:9/v1" in p.stderr
    assert "2 new results, 1 failed" in p.stdout
    p = run_cli("eval", "report", str(tmp_path / "ev"))
    assert (
        p.returncode == 0
        and "cannot reach http://127.0.0.1:9/v1" in (tmp_path / "ev" / "report.html").read_text()
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--systems", "{tmp}/none.toml", "--recordings", "{data}", "--out", "{tmp}/o"], "none.toml"),
        (
            ["run", "--systems", "{tmp}/bad.toml", "--recordings", "{data}", "--out", "{tmp}/o"],
            "not valid TOML",
        ),
        (
            ["run", "--systems", "{tmp}/noname.toml", "--recordings", "{data}", "--out", "{tmp}/o"],
            "name: Field required",
        ),
        (
            ["run", "--systems", "{tmp}/ok.toml", "--recordings", "{tmp}/nowhere", "--out", "{tmp}/o"],
            "no such file",
        ),
        (
            [
                "run",
                "--systems",
                "{tmp}/ok.toml",
                "--recordings",
                "{data}",
                "--out",
                "{tmp}/o",
                "--tasks",
                "x",
            ],
            "unknown task",
        ),
        (["report", "{tmp}"], "not an eval directory"),
        (["judge", "{tmp}", "--judge-model", "j"], "not an eval directory"),
    ],
)
def test_cli_bad_input(tmp_path, args, message):
    (tmp_path / "bad.toml").write_text("[[system]\n")
    (tmp_path / "noname.toml").write_text('[[system]]\nmodel = "m"\n')
    (tmp_path / "ok.toml").write_text('[[system]]\nname = "a"\nmodel = "m"\n')
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{data}", str(DATA / "jfk.flac")) for a in args]
    p = run_cli("eval", *argv)
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert p.returncode != 0 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], (
        p.stderr
    )


def test_cli_tasks_lists_the_suite():
    p = run_cli("eval", "tasks")
    assert p.returncode == 0 and "sound-scene" in p.stdout and "wer" in p.stdout


def test_example_files_load(monkeypatch):
    root = Path(__file__).resolve().parents[2] / "examples" / "eval"
    monkeypatch.setenv("AUDIOMM_WHISPER", "/w")
    monkeypatch.setenv("AUDIOMM_SMOLLM", "/s.gguf")
    [s] = load_systems(root / "systems.toml")
    assert (s.config.backend, s.config.model, s.config.llm.model) == ("classic", "/w", "/s.gguf")
    recs = load_recordings([root / "recordings.toml"])
    assert [r.name for r in recs] == ["jfk", "wizard-left", "multilingual"] and all(
        r.path.is_file() for r in recs
    )
    assert recs[1].channel == "left"
