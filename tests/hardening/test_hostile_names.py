"""Class: names from data become paths. A recording, task or system name names a folder or file under
an eval directory's ``raw/``; a family names its page. Each name is checked where it is read (one
``error:`` line naming the file and the name, nothing written), every path written is joined under its
root (``..``, absolute names and symlinks out are refused), and the unusual names that are allowed are
escaped wherever a report shows them or links to them."""

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from audiomm.catalog.process import from_snapshot
from audiomm.catalog.render import render_pages
from audiomm.catalog.snapshots import bundled_snapshot
from audiomm.errors import AudiommError
from audiomm.evaluate.runner import Recording, run_eval
from audiomm.evaluate.suite import load_suite, select
from audiomm.safepath import check_name, name_problem, safe_join
from audiomm.systems import load_systems
from tests.helpers.audio import clip, write
from tests.helpers.cli import run_cli
from tests.helpers.openai_server import OpenAIServer
from tests.helpers.outcomes import ok, one_error

MODEL = "qwen2-audio-7b-instruct"
HOSTILE = ["../../../../tmp/x", "/tmp/abs", "a/b", "..", ".", "a\\b", "a\x00b", "two\nlines", " ", "x" * 300]
UNUSUAL = ["<img src=x onerror=alert(1)>", "[x](javascript:alert(1))", "a|b $x^$ ` * _ (1) & é"]


def files_under(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    return write(tmp_path_factory.mktemp("rec") / "speech.wav", clip()[: 16000 * 3])


def systems(tmp_path: Path, url: str = "http://127.0.0.1:9/v1") -> Path:
    f = tmp_path / "systems.toml"
    f.write_text(f'[[system]]\nname = "sys"\nmodel = "{MODEL}"\nbase_url = "{url}"\nretries = 0\n')
    return f


def manifest(tmp_path: Path, audio: Path, *names: str) -> Path:
    f = tmp_path / "recs.toml"
    rows = [f"[[recording]]\npath = {json.dumps(str(audio))}\nname = {json.dumps(n)}\n" for n in names]
    f.write_text("\n".join(rows))
    return f


def task_file(folder: Path, name: str, file: str = "mine.toml") -> Path:
    folder.mkdir(exist_ok=True)
    f = folder / file
    body = {"tests": "what it tests", "prompt": "Describe the voice.", "rubric": "5: good. 1: bad."}
    f.write_text(
        f"name = {json.dumps(name)}\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in body.items())
    )
    return f


# --------------------------------------------------------------------------- the checks themselves


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_name_is_never_a_path_part(name, tmp_path):
    assert name_problem(name)
    with pytest.raises(AudiommError, match="cannot name a file or folder"):
        check_name(name, "recording name")
    with pytest.raises(AudiommError):
        safe_join(tmp_path, "raw", name)


@pytest.mark.parametrize("name", [*UNUSUAL, "one", "my recording (2)", "…", "a.b-c_d+e"])
def test_unusual_names_are_fine_and_stay_under_the_root(name, tmp_path):
    assert check_name(name, "x") == name
    assert safe_join(tmp_path, "raw", name).parent == tmp_path / "raw"


def test_safe_join_refuses_a_symlink_out_of_its_root(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "root" / "link")
    with pytest.raises(AudiommError, match="resolves outside"):
        safe_join(tmp_path / "root", "link", "f.md")


# --------------------------------------------------------------------------- eval run, as a user runs it


@pytest.mark.parametrize("name", ["../../../../x", "{tmp}/abs", "a/../../b", ".."])
def test_eval_run_refuses_a_hostile_recording_name(tmp_path, audio, name):
    name = name.replace("{tmp}", str(tmp_path))
    recs = manifest(tmp_path, audio, name)
    before = files_under(tmp_path)
    out = tmp_path / "a" / "b" / "ev"
    args = ["--systems", str(systems(tmp_path)), "--recordings", str(recs), "--tasks", "accent"]
    p = run_cli("eval", "run", *args, "--out", str(out))
    one_error(p, str(recs), repr(name), "recording 1")
    assert files_under(tmp_path) - before == {tmp_path / "systems.toml"}


def test_eval_run_refuses_a_hostile_task_name(tmp_path, audio):
    f = task_file(tmp_path / "suite", "../../../escaped")
    args = ["--systems", str(systems(tmp_path)), "--recordings", str(audio), "--tasks", "all"]
    p = run_cli("eval", "run", *args, "--out", str(tmp_path / "ev"), "--suite-dir", str(tmp_path / "suite"))
    one_error(p, str(f), "'../../../escaped'")
    one_error(run_cli("eval", "tasks", "--suite-dir", str(tmp_path / "suite")), str(f))
    assert not (tmp_path / "ev").exists() and not (tmp_path / "escaped-r0.md").exists()


def test_eval_run_refuses_a_recording_file_whose_name_is_dots(tmp_path, audio):
    d = tmp_path / "recs"
    d.mkdir()
    (d / "...wav").write_bytes(audio.read_bytes())  # its stem is ".."
    args = ["--systems", str(systems(tmp_path)), "--recordings", str(d), "--tasks", "accent"]
    one_error(run_cli("eval", "run", *args, "--out", str(tmp_path / "ev")), "...wav", "'..'")


def test_run_eval_checks_every_name_before_anything_runs(tmp_path, audio):
    [system] = load_systems(systems(tmp_path))
    tasks = select(load_suite(), "accent")

    def no_backend(config):
        raise AssertionError("a model was loaded")

    for rec in (Recording("../../x", audio), Recording(str(tmp_path / "abs"), audio)):
        with pytest.raises(AudiommError, match="recording name"):
            run_eval(tmp_path / "ev", [system], [rec], tasks, make_backend=no_backend)
    bad_task = tasks[0].__class__(**{**tasks[0].to_dict(), "name": "../t"})
    with pytest.raises(AudiommError, match="task name '../t'"):
        run_eval(tmp_path / "ev", [system], [Recording("r", audio)], [bad_task], make_backend=no_backend)
    assert not (tmp_path / "ev").exists()


def test_a_raw_folder_symlinked_out_of_the_eval_dir_is_not_written(tmp_path, audio):
    out, elsewhere = tmp_path / "ev", tmp_path / "elsewhere"
    (out / "raw").mkdir(parents=True)
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "raw" / "sys")
    with OpenAIServer() as srv:
        [system] = load_systems(systems(tmp_path, srv.url))
        with pytest.raises(AudiommError, match="resolves outside"):
            run_eval(out, [system], [Recording("r", audio)], select(load_suite(), "accent"))
    assert list(elsewhere.iterdir()) == []


# --------------------------------------------------------------------------- unusual names in the report


class Tags(HTMLParser):
    """The start tags of an HTML page, with their attributes."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def injected(self) -> list:
        """Scripts, handlers, and images other than the report's own plots."""
        bad = [(t, a) for t, a in self.tags if t == "script" or any(k.startswith("on") for k in a)]
        return bad + [
            (t, a) for t, a in self.tags if t == "img" and not a.get("src", "").startswith("plots/")
        ]

    def links(self) -> list[str]:
        return [a.get("href", "") for t, a in self.tags if t == "a"]


def markdown_html(text: str) -> str:
    """Markdown as a renderer that passes raw HTML through shows it."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def test_unusual_names_are_escaped_in_report_links_and_text(tmp_path, audio):
    recs = manifest(tmp_path, audio, UNUSUAL[0], UNUSUAL[1])
    task_file(tmp_path / "suite", UNUSUAL[2])
    out = tmp_path / "ev"
    with OpenAIServer() as srv:
        args = ["--systems", str(systems(tmp_path, srv.url)), "--recordings", str(recs)]
        args += ["--suite-dir", str(tmp_path / "suite"), "--tasks", UNUSUAL[2]]
        ok(run_cli("eval", "run", *args, "--out", str(out)))
    ok(run_cli("eval", "report", str(out)))
    raw = sorted(p for p in (out / "raw").rglob("*.md"))
    assert len(raw) == 2 and all(p.resolve().is_relative_to(out.resolve()) for p in raw)
    for page in (
        Tags(markdown_html((out / "report.md").read_text())),
        Tags((out / "report.html").read_text()),
    ):
        assert page.injected() == []
        raw_links = [unquote(h) for h in page.links() if h.startswith("raw/")]
        assert len(raw_links) == 2 and all((out / h).is_file() for h in raw_links)
        assert all(h.startswith(("raw/", "plots/")) for h in page.links())
    md_rows = [ln for ln in (out / "report.md").read_text().splitlines() if ln.startswith("| sys |")]
    cells = [len(re.findall(r"(?<!\\)\|", ln)) - 1 for ln in md_rows]
    assert cells == [8, 8]  # a | in a name is no new cell


# --------------------------------------------------------------------------- model pages


def test_family_pages_stay_in_their_folder(tmp_path):
    snap = bundled_snapshot()
    cat = from_snapshot(snap)
    cat.families[0].family = "../../../../escaped"
    written = render_pages(cat, snap, tmp_path / "pages", with_charts=False)
    assert all(p.resolve().is_relative_to((tmp_path / "pages").resolve()) for p in written)
    [page] = (tmp_path / "pages" / "families").glob("*escaped.md")
    assert page.parent == tmp_path / "pages" / "families"
    assert not list(tmp_path.glob("escaped*"))
    (tmp_path / "other").mkdir()
    (tmp_path / "p2").mkdir()
    os.symlink(tmp_path / "other", tmp_path / "p2" / "families")
    with pytest.raises(AudiommError, match="resolves outside|replaced whole"):  # refused either way
        render_pages(cat, snap, tmp_path / "p2", with_charts=False)
    assert list((tmp_path / "other").iterdir()) == []
