"""Class: terminal (and plot) markup in data. Hub fields, model ids, names and error texts are data:
nothing prints them as Rich markup, emoji codes or terminal escape sequences, and no plot reads a
``$`` in them as mathtext. Every command exits as it would for plain text and prints the text as it is
(control characters shown as ``\\xNN``)."""

import io
import json

import pytest
from rich.console import Console

from audiomm.catalog.process import from_snapshot
from audiomm.catalog.render import render_pages
from audiomm.catalog.snapshots import bundled_snapshot
from audiomm.cli import console, present
from audiomm.rendering import plain, plot_text
from tests.helpers.audio import clip, write
from tests.helpers.cli import run_cli
from tests.helpers.hub_fixtures import HubFixtures, bundled_rows, list_item
from tests.helpers.hub_server import HubServer
from tests.helpers.openai_server import OpenAIServer
from tests.helpers.outcomes import ok, one_error

OOPS, LINK, BOLD, EMOJI = "[/oops]", "[link=http://x]y[/link]", "[bold]", ":thumbs_up:"
ESC = "\x1b[31mred\x1b]8;;http://x\x07z"  # a colour and a terminal hyperlink
ESC_SHOWN = "\\x1b[31mred\\x1b]8;;http://x\\x07z"
LICENCE = f"{OOPS} {EMOJI} $x^$ {ESC}"
MODEL = f"{OOPS} {LINK} {EMOJI}"
ENV = {"COLUMNS": "400"}  # no folding: each value on one line of a table


def literal(text: str, *expected: str) -> None:
    """Everything ``expected`` is in ``text`` as it is; no escape sequence reached it."""
    assert "\x1b" not in text and "\x07" not in text
    for e in expected:
        assert e in text, (e, text[-2000:])


def hostile_fixtures() -> HubFixtures:
    """The bundled fixtures plus two repos whose free-text fields are markup, and a bad record."""
    rows = bundled_rows()
    fx = HubFixtures(rows)
    base = next(r for r in rows if r["id"].endswith("Qwen2-Audio-7B-Instruct"))
    a = list_item(dict(base, id="evil-org/Markup-Audio-7B"))
    a.update(author=OOPS, lastModified=BOLD, tags=["transformers", f"license:{OOPS}", "en"])
    a["cardData"] = {"license": LICENCE, "language": [BOLD, "en"]}
    a["config"] = dict(a["config"], model_type=BOLD)
    b = list_item(dict(base, id="evil-org/Arch-Audio-3B"))
    b["config"] = {"architectures": [LINK], "model_type": "qwen2_audio"}
    for item in (a, b):
        fx.lists["audio-text-to-text"].insert(0, item)
        fx.by_id[item["id"]] = item
    fx.lists["audio-text-to-text"].append({"id": f"{LINK}{ESC}"})  # skipped, with a warning
    return fx


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """A snapshot database crawled from the hostile Hub."""
    d = tmp_path_factory.mktemp("hub")
    db = d / "snap.sqlite"
    with HubServer(hostile_fixtures()) as hub:
        p = ok(run_cli("catalog", "refresh", "--db", str(db), "--endpoint", hub.url, "--no-extras", env=ENV))
    literal(p.stdout + p.stderr, "skipped bad record", LINK)
    return db


def test_catalog_build_prints_hub_fields_literally(crawled, tmp_path):
    p = ok(run_cli("catalog", "build", "--db", str(crawled), "--out", str(tmp_path / "o"), env=ENV))
    literal(p.stdout + p.stderr, f"{OOPS} {EMOJI} $x^$ \\x1b[31mred", "markup-audio-7b")
    families = json.loads((tmp_path / "o" / "families.json").read_text())["families"]
    assert any(f["licence"] == LICENCE for f in families)


@pytest.mark.parametrize(
    "name, expected, field",
    [
        ("evil-org/Markup-Audio-7B", [OOPS, BOLD, EMOJI, ESC_SHOWN, "markup-audio-7b"], ("model", "licence")),
        ("evil-org/Arch-Audio-3B", [LINK, f"audio architecture {LINK}"], ("model", "architecture")),
        ("markup-audio-7b", [OOPS, EMOJI, ESC_SHOWN], ("family", "licence")),
    ],
)
def test_catalog_show_prints_hub_fields_literally(crawled, name, expected, field):
    p = ok(run_cli("catalog", "show", name, "--db", str(crawled), env=ENV))
    literal(p.stdout + p.stderr, *expected)
    shown = json.loads(ok(run_cli("catalog", "show", name, "--db", str(crawled), "--json")).stdout)
    assert shown[field[0]][field[1]] in (LICENCE, LINK)  # --json: the data exactly, JSON-escaped


def test_catalog_pages_and_other_commands_take_markup(crawled, tmp_path):
    p = ok(run_cli("catalog", "pages", "--db", str(crawled), "--out", str(tmp_path / "p"), env=ENV))
    literal(p.stdout + p.stderr, "family pages")
    page = (tmp_path / "p" / "families" / "markup-audio-7b.md").read_text()
    assert "\\[/oops\\]" in page and "\\x1b\\[31mred" in page  # shown, escaped for Markdown
    literal("".join(f.read_text() for f in (tmp_path / "p").rglob("*.md")))
    assert (tmp_path / "p" / "charts" / "params_vs_downloads.svg").stat().st_size > 1000
    for cmd in (
        ["catalog", "snapshots"],
        ["catalog", "diff", "bundled", "latest"],
        ["size", "markup-audio-7b"],
    ):
        literal(ok(run_cli(*cmd, "--db", str(crawled), env=ENV)).stdout)


def test_an_unknown_name_with_markup_is_one_literal_error_line(crawled):
    p = run_cli("catalog", "show", f"{LINK}{ESC}\nsecond line", "--db", str(crawled), env=ENV)
    line = one_error(p, LINK, ESC_SHOWN, "second line")
    literal(line)


def test_run_with_a_markup_model_id_then_logs(tmp_path):
    rec = write(tmp_path / "a.wav", clip()[: 16000 * 3])
    with OpenAIServer(model=MODEL) as srv:
        p = ok(run_cli("run", str(rec), "--model", MODEL, "--base-url", srv.url, env=ENV))
        literal(p.stdout + p.stderr, "heard")
        bad = run_cli("run", str(rec), "--model", f"{BOLD}{ESC}", "--base-url", srv.url, env=ENV)
    literal(one_error(bad, BOLD, ESC_SHOWN))
    for _ in range(2):  # the log stays readable, run after run
        literal(ok(run_cli("logs", env=ENV)).stdout, MODEL)
    assert json.loads(ok(run_cli("logs", "--json")).stdout)[0]["model"] == MODEL


# --------------------------------------------------------------------------- the pieces, one by one


def test_tables_titles_and_lines_are_plain_text(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(present, "out", Console(file=buf, width=300, **console.LITERAL))
    present.show(f"title {LINK}", (f"col {OOPS}", "b"), [(LICENCE, None)])
    present.show_fields(f"model: {EMOJI} {BOLD}", {f"k {OOPS}": MODEL, "l": [LINK]})
    literal(buf.getvalue(), f"title {LINK}", f"col {OOPS}", plain(LICENCE), f"{EMOJI} {BOLD}", MODEL, LINK)


def test_progress_descriptions_are_plain_text(monkeypatch):
    buf = io.StringIO()
    term = Console(file=buf, width=200, force_terminal=True, **console.LITERAL)
    monkeypatch.setattr(console, "err", term)
    with console.progress(f"start {OOPS}") as update:
        update(1, 2, f"{LINK} {OOPS} {ESC}")
        update(2, 2, f"{LINK} {OOPS} {ESC}")
    shown = buf.getvalue()
    assert f"{LINK} {OOPS} {ESC_SHOWN}" in shown and ESC not in shown


def test_say_and_warn_never_send_markup_emoji_or_escapes(capsys, monkeypatch):
    monkeypatch.setattr(console, "out", Console(file=io.StringIO(), **console.LITERAL))
    monkeypatch.setattr(console, "err", Console(file=io.StringIO(), **console.LITERAL))
    console.say(MODEL + ESC)
    console.warn(LICENCE)
    literal(console.out.file.getvalue(), MODEL + ESC_SHOWN)
    literal(console.err.file.getvalue(), f"warning: {plain(LICENCE)}")


def test_plot_text_is_never_mathtext_or_control():
    assert plot_text("a $x^$ b\x1b") == "a \\$x^\\$ b\\x1b"


def test_chart_labels_with_dollars_and_escapes_draw(tmp_path):
    snap = bundled_snapshot()
    cat = from_snapshot(snap)
    for f in cat.families:
        f.licence = LICENCE  # the legend's first entry
    cat.families[0].family = f"fam {LICENCE}"  # the most downloaded family is labelled
    written = render_pages(cat, snap, tmp_path, with_charts=True)
    assert sum(p.suffix == ".svg" for p in written) == 2
