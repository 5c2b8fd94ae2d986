"""Who said what on the page: the speakers box ticked by keyboard, a real two-speaker conversation run, and
the result labelled: each transcript segment and chunk with its speaker's name, and the speakers line."""

from tests.helpers.speakers import CASES, need_voice_encoder
from tests.web.test_access import tab_to

need_voice_encoder()


def test_a_job_with_speakers_shows_who_said_what(page, tmp_path, shot):
    path = tmp_path / "two people.wav"
    CASES[0].build(path)
    page.wait_for_selector("#system option", state="attached")
    page.set_input_files("#file", str(path))
    assert page.is_hidden("#speaker-fields")  # asked for only once the box is ticked
    tab_to(page, "#speakers")
    page.keyboard.press("Space")
    page.get_by_label("Number of speakers (optional)").fill("2")
    page.get_by_label("Names (S1=Ana, S2=Ben)").fill("S1=Ana, S2=<b>Ben</b>")
    shot(page, "speakers-form")
    page.click("#start")
    page.wait_for_selector("#result:not([hidden])", timeout=90_000)
    shot(page, "speakers")
    said = page.eval_on_selector_all("#segments .segment .speaker", "xs => xs.map((x) => x.textContent)")
    assert said and set(said) == {"Ana:", "<b>Ben</b>:"}  # a name is text, never HTML
    assert page.locator("#segments b").count() == 0
    chunks = page.eval_on_selector_all("#chunks .chunk-head .speaker", "xs => xs.map((x) => x.textContent)")
    assert set(chunks) == {"Ana", "<b>Ben</b>"}
    line = page.text_content("#speakers-line")
    assert line.startswith("speakers: Ana ") and "<b>Ben</b> " in line and "(2, as given;" in line
    assert "who said what" in page.text_content("#job-meta")
