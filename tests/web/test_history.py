"""History: earlier jobs listed with their settings and reopened with their plan and result; a job still
running when the page was closed is there when the page is opened again, and goes on to its end."""

from tests.helpers.gateway import recording
from tests.web.conftest import open_page


def test_a_job_running_when_the_page_closed_is_there_when_it_opens_again(
    browser, gateway, slow, shot, tmp_path
):
    path, _ = recording(tmp_path / "standup.wav", 6, pause=1.75)
    first = open_page(browser, f"{gateway.url}/")
    first.wait_for_selector("#system option", state="attached")
    first.set_input_files("#file", str(path))
    first.select_option("#preset", "clean")
    first.click("#start")
    first.wait_for_selector("#timeline .chunk.state-done")
    first.context.close()  # the page is gone; the job is not

    page = open_page(browser, f"{gateway.url}/")
    page.wait_for_selector("#running:not([hidden])")
    assert "standup.wav" in page.text_content("#running-list")
    page.click("nav >> text=History")
    line = page.locator("#history-list li", has_text="standup.wav").first
    assert "running" in line.text_content() and "qwen · clean" in line.text_content()
    shot(page, "history")
    line.locator("a").click()
    page.wait_for_selector("#result:not([hidden])")
    assert page.text_content("#job-title") == "standup.wav"
    assert page.locator("#timeline .chunk.state-done").count() == 6
    assert page.locator("#segments .segment").count() == 6  # the clean transcript, by segment
    assert not page.problems, page.problems
    page.context.close()


def test_an_earlier_job_reopens_with_its_plan_and_result(page, gateway, tmp_path):
    path, _ = recording(tmp_path / "interview.wav", 3, pause=1.85)
    page.wait_for_selector("#system option", state="attached")
    page.set_input_files("#file", str(path))
    page.click("#start")
    page.wait_for_selector("#result:not([hidden])")
    job_hash = page.evaluate("location.hash")
    page.goto(f"{gateway.url}/#history")
    page.locator(f"#history-list a[href='{job_hash}']").click()
    page.wait_for_selector("#result:not([hidden])")
    assert page.locator("#segments .segment").count() == 3  # the result again
    assert page.locator("#timeline .region").count() >= 3  # the speech regions, kept with the plan
    assert page.locator("#timeline .chunk.state-done").count() == 3
    page.go_back()  # the back button returns to the history
    page.wait_for_selector("#view-history:not([hidden])")
