"""The page by keyboard alone, on a phone-sized screen, and in front of a gateway with client keys."""

import httpx
import pytest

from tests.helpers.gateway import Gateway, recording
from tests.web.conftest import finished_job, no_sideways_scroll, open_page, systems

PHONE = {"width": 390, "height": 844}
KEY = "sk-web-test-key"
FOCUSED = "() => [document.activeElement.id, document.activeElement.className, getComputedStyle(document.activeElement).outlineStyle]"


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, audio')]
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
    .map((e) => e.id || e.outerHTML)"""


def tab_to(page, selector: str, limit: int = 40) -> None:
    """Press Tab until the element ``selector`` has the focus."""
    for _ in range(limit):
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus in {limit} presses of Tab")


def test_the_main_flow_by_keyboard_alone(page, shot, tmp_path):
    path, _ = recording(tmp_path / "by keyboard.wav", 3, pause=2.15)
    page.on("filechooser", lambda chooser: chooser.set_files(str(path)))  # the person picks the file
    page.wait_for_selector("#system option", state="attached")
    tab_to(page, "#file")
    page.keyboard.press("Space")
    page.wait_for_selector("#chosen:has-text('by keyboard.wav')")
    tab_to(page, "#system")
    page.keyboard.press("ArrowDown")
    assert page.input_value("#system") == "down"
    page.keyboard.press("ArrowUp")
    assert page.input_value("#system") == "qwen"
    tab_to(page, "#start")
    assert page.evaluate(FOCUSED)[2] == "solid"  # the focus can be seen
    assert page.evaluate(UNLABELLED) == []  # every control says what it is
    page.keyboard.press("Enter")
    page.wait_for_selector("#result:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "job-title"  # the focus follows to the job
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    tab_to(page, "#segments li:nth-child(2) .segment")
    page.keyboard.press("Enter")
    second = float(page.get_attribute("#segments li:nth-child(2)", "data-start"))
    assert (
        second > 10
        and second <= page.evaluate("document.getElementById('player').currentTime") < second + 0.5
    )
    shot(page, "keyboard", full_page=False)


def test_a_phone_sized_screen_never_scrolls_sideways(browser, gateway, shot, tmp_path):
    path, _ = recording(tmp_path / "a recording with a rather long name, from the phone.wav", 2, pause=2.25)
    job = finished_job(gateway, path)
    page = open_page(browser, f"{gateway.url}/", viewport=PHONE, is_mobile=True, has_touch=True)
    views = {
        "new": "#system option",
        f"job/{job['id']}": "#result:not([hidden])",
        "history": "#history-list li",
        "catalog": "#families-table tbody tr",
        "family/qwen2-audio-7b-instruct": "#family-page table",
    }
    for view, ready in views.items():
        page.goto(f"{gateway.url}/#{view}")
        page.wait_for_selector(ready, state="attached")
        assert no_sideways_scroll(page), view
        shot(page, f"phone-{view.split('/')[0]}", full_page=False)
    assert not page.problems, page.problems
    page.context.close()


@pytest.fixture(scope="module")
def keyed(server, reports, tmp_path_factory):
    """A gateway with a client key (on 127.0.0.1 still)."""
    root = tmp_path_factory.mktemp("keyed")
    options = ("--api-key-env", "WEB_KEY", "--reports", str(reports))
    with Gateway(systems(root, server), root / "data", *options, env={"WEB_KEY": KEY}) as gw:
        yield gw


def test_with_client_keys_the_page_asks_for_the_key_once(browser, keyed, shot, tmp_path):
    page = open_page(browser, f"{keyed.url}/")
    page.wait_for_selector("#key-dialog[open]")
    shot(page, "key", full_page=False)
    page.fill("#key", "not-the-key")
    page.keyboard.press("Enter")
    page.wait_for_selector("#key-why:has-text('did not accept')")  # asked again, saying why
    page.fill("#key", KEY)
    page.keyboard.press("Enter")
    page.wait_for_selector("#system option", state="attached")
    assert page.evaluate("sessionStorage.getItem('audiomm-key')") == KEY
    page.reload()  # the same tab: not asked again
    page.wait_for_selector("#system option", state="attached")
    assert not page.is_visible("#key-dialog")

    path, _ = recording(tmp_path / "private.wav", 2, pause=2.35)
    page.set_input_files("#file", str(path))
    page.click("#start")
    page.wait_for_selector("#result:not([hidden])")
    page.wait_for_function("() => document.getElementById('player').src.startsWith('blob:')")
    with page.expect_download() as d:
        page.click("[data-format=srt]")
    assert open(d.value.path()).read().count(" --> ") == 2
    page.click("nav >> text=Reports")
    url = page.get_attribute("#reports-list a", "href")
    assert "?sig=" in url and httpx.get(f"{keyed.url}{url}").status_code == 200
    assert httpx.get(f"{keyed.url}{url.split('?')[0]}").status_code == 401  # a report's link is signed
    assert not page.problems, page.problems
    page.context.close()
