"""Class: secrets outside the key paths. Credentials travel inside URLs too (``HF_ENDPOINT`` with a user
and password, a ``base_url`` with userinfo or ``?key=``): no file audiomm writes (snapshot database,
exports, pages, ``eval.json``, results, judgements, reports, run log, cache) and no line it prints holds
them; URLs are recorded and shown as :func:`audiomm.config.public_url` gives them. The Hub token goes
only to the configured endpoint's origin, never to a host that a ``Link: rel="next"`` header names."""

import json
import subprocess
from pathlib import Path

import pytest

from audiomm.catalog.hub import origin
from audiomm.config import BackendConfig, RunOptions, public_url, scrub_urls
from audiomm.evaluate.runner import EvalManifest, SystemRecord, read_manifest, write_manifest
from audiomm.systems import System
from tests.helpers.audio import clip, write
from tests.helpers.cli import run_cli
from tests.helpers.hub_server import Fault, HubServer
from tests.helpers.openai_server import OpenAIServer
from tests.helpers.outcomes import ok, one_error

USER_SECRET, TOKEN, URL_SECRET, QUERY_SECRET = "pw-ENDPOINT-0001", "hf_TOKEN0002", "pw-URL-0003", "QKEY0004"
SECRETS = (USER_SECRET, TOKEN, URL_SECRET, QUERY_SECRET)
MODEL = "qwen2-audio-7b-instruct"
GOOD = '{"accuracy": 4, "depth": 3, "grounding": 4, "relevance": 5, "insight": 2, "rationale": "fine"}'


def with_userinfo(url: str, password: str = URL_SECRET) -> str:
    return url.replace("http://", f"http://user:{password}@", 1)


def with_query(url: str) -> str:
    return f"{with_userinfo(url)}?key={QUERY_SECRET}"


class Seen:
    """Every line printed by the commands run through it."""

    def __init__(self):
        self.lines: list[str] = []

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        p = run_cli(*args, env={"COLUMNS": "300", **(env or {})})
        assert "Traceback" not in p.stdout + p.stderr, p.stderr
        self.lines += (p.stdout + p.stderr).splitlines()
        return p

    def check(self, root: Path, inputs: tuple[Path, ...] = ()) -> int:
        """No secret in any line seen or any file under ``root`` but the user's own ``inputs``; returns
        how many files were read."""
        for line in self.lines:
            assert not any(s in line for s in SECRETS), line
        files = [f for f in root.rglob("*") if f.is_file() and f not in inputs]
        for f in files:
            data = f.read_bytes()
            assert not any(s.encode() in data for s in SECRETS), f
        return len(files)


# --------------------------------------------------------------------------- the pieces


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("https://hub.example/api", "https://hub.example:443/x?y=1", True),
        ("http://u:p@127.0.0.1:80/", "http://127.0.0.1/api/models", True),
        ("https://hub.example", "http://hub.example", False),
        ("https://hub.example", "https://hub.example.evil", False),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8001", False),
        ("http://127.0.0.1:8000", "http://localhost:8000", False),
    ],
)
def test_origin_is_scheme_host_and_port(a, b, same):
    assert (origin(a) == origin(b)) is same


def test_urls_in_text_lose_their_credentials():
    text = f"cannot reach {with_query('http://h:9/v1')} ('https://ok.example/v1') at {with_userinfo('ftp://x/y')}#frag"
    shown = scrub_urls(text)
    assert not any(s in shown for s in SECRETS)
    assert "http://h:9/v1" in shown and "'https://ok.example/v1'" in shown and "ftp://x/y" in shown
    broken = f"at {with_query('http://[::1:9/v1')} and [link=http://x]y[/link]\x1b[2J"  # do not parse
    assert scrub_urls(broken) == "at http://[::1:9/v1 and [link=http://x]y[/link]\x1b[2J"


def test_a_configuration_records_its_url_without_credentials():
    config = BackendConfig("openai", "m", base_url=with_query("http://h:8000/v1"), api_key="sk-" + TOKEN)
    classic = BackendConfig("classic", "tiny", llm=config)
    for shown in (config.public(), classic.public(), repr(config), repr(classic)):
        assert not any(s in str(shown) for s in SECRETS)
    assert config.public()["base_url"] == public_url(config.base_url) == "http://h:8000/v1"
    record = SystemRecord.of(System("s", config, RunOptions())).to_dict()
    assert record["base_url"] == "http://h:8000/v1" and not any(s in json.dumps(record) for s in SECRETS)


def test_an_eval_json_from_an_earlier_version_loses_its_credentials(tmp_path):
    llm = {"backend": "openai", "model": "t", "base_url": with_query("http://h:1/v1")}
    old = {
        "systems": [{"name": "a", "backend": "classic", "base_url": with_query("http://h:2/v1"), "llm": llm}]
    }
    (tmp_path / "eval.json").write_text(json.dumps(old))
    assert read_manifest(tmp_path).systems[0].settings["llm"]["base_url"] == "http://h:1/v1"
    write_manifest(tmp_path, EvalManifest())  # what every run does: merge with what is there
    assert not any(s in (tmp_path / "eval.json").read_text() for s in SECRETS)


# --------------------------------------------------------------------------- the Hub token


def test_the_hub_token_goes_only_to_the_endpoint_origin(tmp_path):
    seen = Seen()
    with HubServer() as other, HubServer(page_size=40) as hub:
        hub.state.next_base = other.url  # page 2 of each listing is "on" another host
        db = tmp_path / "snap.sqlite"
        seen.run("catalog", "refresh", "--db", str(db), "--endpoint", hub.url, env={"HF_TOKEN": TOKEN})
    assert hub.state.auth and all(a == f"Bearer {TOKEN}" for a in hub.state.auth)
    assert any(r.startswith("/api/models?") for r in other.state.requests)
    assert other.state.auth and all(a is None for a in other.state.auth)
    seen.check(tmp_path)


# --------------------------------------------------------------------------- every command, every file


def test_catalog_with_credentials_in_the_endpoint(tmp_path):
    seen = Seen()
    db, env = str(tmp_path / "snap.sqlite"), {"HF_TOKEN": TOKEN}
    with HubServer() as hub:
        hub.state.faults = [Fault(r"/tree/", "500", times=-1)]  # missing pieces, with their URLs
        env["HF_ENDPOINT"] = with_userinfo(hub.url, USER_SECRET)
        p = seen.run("catalog", "refresh", "--db", db, "--retries", "0", "--retry-wait", "0.01", env=env)
        assert p.returncode == 0 and "not fetched" in p.stderr
    ok(seen.run("catalog", "build", "--db", db, "--out", str(tmp_path / "cat"), env=env))
    ok(seen.run("catalog", "pages", "--db", db, "--out", str(tmp_path / "pages"), env=env))
    for args in (["show", "qwen2-audio-7b"], ["diff", "bundled", "latest"]):
        ok(seen.run("catalog", *args, "--db", db, env=env))
    assert hub.url in ok(seen.run("catalog", "snapshots", "--db", db, env=env)).stdout  # shown, publicly
    down = {"HF_TOKEN": TOKEN, "HF_ENDPOINT": with_query("http://127.0.0.1:9")}
    p = seen.run("catalog", "refresh", "--db", db, "--retries", "0", "--retry-wait", "0.01", env=down)
    one_error(p, "http://127.0.0.1:9")
    assert json.loads((tmp_path / "cat" / "models.json").read_text())["source"] == hub.url
    assert seen.check(tmp_path) > 50  # the database, exports, pages, charts


def test_eval_with_credentials_in_base_urls(tmp_path):
    seen = Seen()
    rec = write(tmp_path / "a.wav", clip()[: 16000 * 3])
    systems, out = tmp_path / "systems.toml", tmp_path / "ev"
    down = with_query("http://127.0.0.1:9/v1")
    with OpenAIServer() as srv:
        systems.write_text(
            f'[[system]]\nname = "a"\nmodel = "{MODEL}"\nbase_url = "{with_userinfo(srv.url)}"\nretries = 0\n\n'
            f'[[system]]\nname = "down"\nmodel = "m"\nbase_url = "{down}"\nretries = 0\n'
        )
        args = ["--systems", str(systems), "--recordings", str(rec), "--tasks", "accent,transcript"]
        p = seen.run("eval", "run", *args, "--out", str(out))
        assert p.returncode == 1 and "2 new results, 2 failed" in p.stdout and "127.0.0.1:9/v1" in p.stderr
        ok(seen.run("run", str(rec), "--model", MODEL, "--base-url", with_userinfo(srv.url)))
    one_error(seen.run("run", str(rec), "--model", MODEL, "--base-url", down), "127.0.0.1:9/v1")
    with OpenAIServer(model="judge-1", replies=[GOOD] * 4) as judge:
        p = seen.run(
            "eval", "judge", str(out), "--judge-model", "judge-1", "--base-url", with_userinfo(judge.url)
        )
        assert ok(p) and "1 judged" in p.stdout
        seen.run(
            "eval",
            "judge",
            str(out),
            "--again",
            "--judge-model",
            "judge-1",
            "--base-url",
            with_query(judge.url),
        )
    ok(seen.run("eval", "report", str(out)))
    ok(seen.run("logs"))
    manifest = json.loads((out / "eval.json").read_text())
    assert {s["base_url"] for s in manifest["systems"]} == {srv.url, "http://127.0.0.1:9/v1"}
    judged = [json.loads(x) for x in (out / "judgements.jsonl").read_text().splitlines()]
    assert judged[0]["judge_base_url"] == judge.url
    assert seen.check(tmp_path, inputs=(systems,)) > 5
