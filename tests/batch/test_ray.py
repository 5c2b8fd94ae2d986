"""--engine ray on a local Ray instance (the [scale] extra): the same batch, and nothing but loopback.

Ray binds the machine's own address by default and its usage module asks a cloud metadata address what
machine it runs on; the engine starts a local instance that binds 127.0.0.1, without a dashboard, its head
processes with a HOME of their own that holds an empty ray_bootstrap_config.yaml (which stops that
request). The test's HOME holds one too, in case. While the batch runs, every socket of every Ray process
is looked at.
"""

import importlib.util
import ipaddress
import json
import threading

import psutil
import pytest

from tests.batch.conftest import batch_args
from tests.helpers.cli import run_main
from tests.helpers.openai_server import OpenAIServer

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="the [scale] extra (make test installs it)"
)


def addresses(seen: set[tuple[str, str]], homes: set[str], stop: threading.Event) -> None:
    """Every (kind, address) Ray's processes use until ``stop``: remote ends, and where they listen; and
    the HOME its dashboard process runs with."""
    me = psutil.Process()
    while not stop.wait(0.1):
        for p in me.children(recursive=True):
            try:
                if any("dashboard.py" in part for part in p.cmdline()):
                    homes.add(p.environ().get("HOME", ""))
                for c in p.net_connections(kind="inet"):
                    if c.raddr:
                        seen.add(("remote", c.raddr.ip))
                    if c.status == psutil.CONN_LISTEN:
                        seen.add(("listen", c.laddr.ip))
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue


def test_the_ray_engine_end_to_end_on_loopback_only(tree, tmp_path, monkeypatch, capsys):
    from audiomm.batch.ray_engine import SINGLE_NODE, connect
    from audiomm.paths import data_dir

    home = tmp_path / "home-ray"
    home.mkdir()
    (home / "ray_bootstrap_config.yaml").write_text("{}\n")  # in case: no cloud metadata request
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv(SINGLE_NODE, "0")  # as the engine sets it when it imports Ray first
    ray = pytest.importorskip("ray")
    out, seen, homes, stop = tmp_path / "out", set(), set(), threading.Event()
    assert connect(None)  # the engine uses the instance already running in this process and leaves it
    watcher = threading.Thread(target=addresses, args=(seen, homes, stop), daemon=True)
    watcher.start()
    try:
        with OpenAIServer() as srv:
            args = batch_args(
                tree, out, srv.url, "--engine", "ray", "--actors", "1", "--format", "md", "--format", "json"
            )
            code, stdout, stderr = run_main(monkeypatch, capsys, *args)
            assert code == 1 and "batch: 3 of 4 recordings done, 1 failed" in stdout, stderr
            assert len(srv.state.audio) == 3 and not srv.state.errors
            code, stdout, _ = run_main(monkeypatch, capsys, *args)  # resumable: the same job table
            assert "(3 by an earlier run)" in stdout and len(srv.state.audio) == 3
    finally:
        stop.set()
        watcher.join()
        ray.shutdown()
    got = {x["key"]: x for x in map(json.loads, (out / "batch.jsonl").read_text().splitlines())}
    assert got["2024/jan/c"]["status"] == "done" and got["2024/jan/c"]["outputs"] == [
        "2024/jan/c.md",
        "2024/jan/c.json",
    ]
    assert (
        "heard" in (out / "2024/jan/c.md").read_text()
        and "window 30 s" in (out / "2024/jan/c.md").read_text()
    )
    assert got["2024/broken"]["status"] == "failed" and "FFmpeg" in got["2024/broken"]["error"]
    assert got["2024/broken"]["attempts"] == 2  # tried once per run: a bad file is not tried again within one
    assert seen, "no Ray process sockets were seen"
    assert homes == {str(data_dir() / "ray-home")}  # the head's own HOME, with its empty bootstrap config
    assert all(ipaddress.ip_address(ip.removeprefix("::ffff:")).is_loopback for _, ip in seen), sorted(seen)
