"""Errors a person understands: one sentence on the page for a file that is not audio, a file too large, a
model server that is down, a gateway that cannot be reached; nothing already done is lost."""

from tests.helpers.gateway import recording
from tests.web.conftest import UPLOAD_MB


def sentence(page, box: str = "#form-error") -> str:
    page.wait_for_selector(f"{box}:not([hidden])")
    return page.locator(f"{box} > p").text_content()


def test_a_text_file_named_wav_is_said_to_be_no_recording(page, shot, tmp_path):
    notes = tmp_path / "notes.wav"
    notes.write_text("Buy milk.\nCall Ana about the budget.\n")
    page.wait_for_selector("#system option", state="attached")
    page.set_input_files("#file", str(notes))
    page.click("#start")
    said = sentence(page)
    assert said == "“notes.wav” is not a recording the gateway can read: choose an audio or video file."
    assert "Details" in page.text_content("#form-error")  # the decoder's own words, on request
    assert page.text_content("#chosen").startswith("Chosen: notes.wav") and page.evaluate(
        "location.hash"
    ) in ("", "#new")
    shot(page, "error-not-audio")


def test_a_file_too_large_is_refused_before_it_is_sent(page, tmp_path):
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * int((UPLOAD_MB + 0.5) * 1e6))
    sent = []
    page.on("request", lambda r: r.url.endswith("/v1/jobs") and r.method == "POST" and sent.append(r))
    page.wait_for_selector("#system option", state="attached")
    page.set_input_files("#file", str(big))
    page.click("#start")
    assert sentence(page).startswith(
        f"“big.wav” is larger than this gateway accepts ({UPLOAD_MB} MB at most)"
    )
    assert not sent


def test_a_model_server_that_is_down_is_said_so_and_the_job_can_be_tried_again(page, shot, tmp_path):
    path, _ = recording(tmp_path / "call.wav", 1, pause=1.95)
    page.wait_for_selector("#system option", state="attached")
    page.set_input_files("#file", str(path))
    page.select_option("#system", "down")
    page.click("#start")
    said = sentence(page, "#job-error")
    assert (
        said
        == "The model server behind “down” cannot be reached: start it (or ask whoever runs it), then try again."
    )
    assert "Failed" in page.text_content("#job-status") and page.is_visible("#retry")
    shot(page, "error-backend-down")
    failed = page.evaluate("location.hash")
    page.click("#retry")  # the same recording and settings, again
    page.wait_for_function(f"() => location.hash !== {failed!r}")
    page.wait_for_selector("#job-title:has-text('call.wav')")


def test_a_gateway_that_cannot_be_reached_is_said_so_and_the_form_is_kept(page, tmp_path):
    path, _ = recording(tmp_path / "memo.wav", 1, pause=2.05)
    page.wait_for_selector("#system option", state="attached")
    page.set_input_files("#file", str(path))
    page.select_option("#preset", "clean")
    page.route("**/v1/jobs", lambda route: route.abort())
    page.click("#start")
    assert (
        sentence(page)
        == "The gateway cannot be reached: check that audiomm serve is still running, then try again."
    )
    assert page.input_value("#preset") == "clean" and "memo.wav" in page.text_content("#chosen")
    page.unroute("**/v1/jobs")
    page.click("#start")  # the same form, sent again once the gateway answers
    page.wait_for_selector("#job-title:has-text('memo.wav')")
