"""The web page of ``audiomm serve`` in a real browser: Debian's chromium (``/usr/bin/chromium``, which
``make test`` installs when it runs as root) driven by Playwright's Python package (no browser download),
in front of a gateway (the console script) and the fake model server, all on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers.gateway import Gateway, free_port, systems_file
from tests.helpers.openai_server import MODEL, OpenAIServer

HERE = Path(__file__).parent
CHROMIUM = Path(os.environ.get("AUDIOMM_CHROMIUM", "/usr/bin/chromium"))
SHOTS_ENV = "AUDIOMM_SCREENSHOTS"  # a folder to copy the screenshots to too (docs/screenshots for the README)
UPLOAD_MB = 3
DESKTOP = {"width": 1100, "height": 900}
IGNORED_CONSOLE = ("Failed to load resource",)  # the browser's own line for an answer the page expected (4xx)


def missing() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    if importlib.util.find_spec("fastapi") is None:
        return "audiomm serve needs the [serve] extra"
    if importlib.util.find_spec("playwright") is None:
        return "the browser tests need playwright (the [dev] extra: pip install -e '.[dev]')"
    if not CHROMIUM.is_file():
        return (
            f"{CHROMIUM} is missing: 'make test' installs Debian's chromium when it runs as root"
            " (apt-get install chromium); install it, or point AUDIOMM_CHROMIUM at a Chromium"
        )
    return None


def pytest_collection_modifyitems(config, items):
    """Every test here is skipped, saying why, where the browser cannot run."""
    why = missing()
    for item in items if why else ():
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="session")
def server():
    with OpenAIServer() as s:
        yield s


@pytest.fixture(autouse=True)
def fresh(server):
    """Each test starts with a model server that answers at once, as asked (no fault left over)."""
    yield
    server.state.delay, server.state.length_for, server.state.replies = 0.0, 0, []


@pytest.fixture
def slow(server):
    """The model takes a moment per chunk, so progress can be seen (longer than the progress screenshot
    takes, or the page's first done chunk can pass before the test starts watching)."""
    server.state.delay = 0.6
    return server


@pytest.fixture(scope="session")
def reports(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reports")
    (root / "2026-01-eval").mkdir()
    (root / "2026-01-eval" / "report.html").write_text(
        "<!doctype html><title>eval</title><style>h1{color:teal}</style><h1>Evaluation report</h1>"
    )
    return root


def systems(root: Path, server: OpenAIServer) -> Path:
    named = {"qwen": server.url, "down": f"http://127.0.0.1:{free_port()}/v1"}
    return systems_file(root / "systems.toml", named, MODEL, max_chunk_seconds=12, concurrency=1, retries=0)


@pytest.fixture(scope="session")
def gateway(server, reports, tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    options = ("--max-upload-mb", str(UPLOAD_MB), "--reports", str(reports))
    with Gateway(systems(root, server), root / "data", *options) as gw:
        yield gw


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
        )
        yield b
        b.close()


class Shots:
    """Screenshots of each state, under the test's tmp dir (and ``$AUDIOMM_SCREENSHOTS`` when set)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __call__(self, page, name: str, full_page: bool = True) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if os.environ.get(SHOTS_ENV):
            target = Path(os.environ[SHOTS_ENV])
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target / path.name)
        return path


@pytest.fixture
def shot(tmp_path) -> Shots:
    return Shots(tmp_path)


def open_page(browser, url: str, viewport=DESKTOP, **context):
    """A page in a fresh context (its own sessionStorage), its console errors and CSP refusals collected."""
    ctx = browser.new_context(viewport=viewport, accept_downloads=True, **context)
    page = ctx.new_page()
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and not m.text.startswith(IGNORED_CONSOLE)
            and page.problems.append(f"console: {m.text}")
        ),
    )
    page.set_default_timeout(20_000)
    page.goto(url)
    return page


@pytest.fixture
def page(browser, gateway):
    """The gateway's page on a desktop-sized screen; no script error and no CSP refusal by the end."""
    page = open_page(browser, f"{gateway.url}/", permissions=["clipboard-read", "clipboard-write"])
    yield page
    problems = page.problems
    page.context.close()
    assert not problems, problems


def finished_job(gw: Gateway, path: Path, system: str = "qwen", **fields) -> dict:
    """A job submitted through the API and waited for (the page then opens it as any earlier job)."""
    with gw.http() as http, open(path, "rb") as f:
        job = http.post("/v1/jobs", files={"file": (path.name, f)}, data={"system": system, **fields}).json()
        deadline = time.monotonic() + 60
        while job["status"] not in ("done", "failed", "cancelled") and time.monotonic() < deadline:
            time.sleep(0.05)
            job = http.get(f"/v1/jobs/{job['id']}").json()
    assert job["status"] == "done", job
    return job


def no_sideways_scroll(page) -> bool:
    """Nothing wider than the screen: the page never scrolls sideways (tables scroll inside their box)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
