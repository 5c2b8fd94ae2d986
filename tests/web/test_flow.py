"""The page's main flow in the browser: a real recording uploaded, its progress as it happens (the plan over
the recording, chunks turning done one by one, the ETA), the result (segments that seek the player,
downloads that are valid SRT and WebVTT, copy), the answer of a summary rendered as Markdown and never as
HTML, a chunk cut short shown as such, and a recording made with the microphone."""

import base64
import re
import time

from tests.helpers.gateway import recording

SRT_CUE = re.compile(r"(\d+)\n(\d\d:\d\d:\d\d,\d{3}) --> (\d\d:\d\d:\d\d,\d{3})\n(.+)\n")
VTT_CUE = re.compile(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(.+)\n")
PROGRESS = """() => [
    document.querySelectorAll('#timeline .chunk').length,
    document.querySelectorAll('#timeline .chunk.state-done').length,
    document.querySelectorAll('#timeline .region').length,
    document.getElementById('job-status').textContent,
    !document.getElementById('result').hidden]"""


def start(page, path, system: str = "qwen", preset: str | None = None) -> None:
    page.wait_for_selector("#system option", state="attached")
    page.set_input_files("#file", str(path))
    page.select_option("#system", system)
    if preset is not None:
        page.select_option("#preset", preset)
    page.click("#start")


def watch(page, timeout: float = 60) -> list[tuple]:
    """What the page shows while the job runs, polled: (chunks planned, done, speech regions, status line)."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        *shown, result = page.evaluate(PROGRESS)
        seen.append(tuple(shown))
        if result:
            return seen
        time.sleep(0.03)
    raise AssertionError(f"no result in {timeout} s: {seen[-3:]}")


def seconds(stamp: str) -> float:
    h, m, s = stamp.replace(",", ".").split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def downloaded(page, fmt: str) -> tuple[str, str]:
    with page.expect_download() as d:
        page.click(f"[data-format={fmt}]")
    return d.value.suggested_filename, open(d.value.path(), encoding="utf-8").read()


def test_a_recording_runs_with_its_progress_then_its_result(page, gateway, slow, shot, tmp_path):
    path, spans = recording(tmp_path / "talk.wav", 4, pause=1.45)
    names = page.eval_on_selector_all("#system option", "os => os.map(o => o.value)")
    assert names == ["qwen", "down"] and page.is_visible("#file")  # the systems, by name; a file input
    page.set_input_files("#file", str(path))
    assert page.text_content("#chosen").startswith("Chosen: talk.wav")
    shot(page, "form")
    page.click("#start")
    page.wait_for_selector("#timeline .chunk.state-done")
    shot(page, "progress")
    seen = watch(page)
    done = [d for _, d, _, _ in seen]
    assert done == sorted(done) and {1, 2, 3} <= set(done), seen  # chunks turn done one by one
    assert any(planned == 4 and regions >= 4 and 0 < d < 4 for planned, d, regions, _ in seen)
    assert any(re.fullmatch(r"\d of 4 chunks done · about .+ left", status) for *_, status in seen)

    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    segments = page.locator("#segments .segment")
    assert segments.count() == 4 and page.text_content("#coverage").startswith("Covered 100% of the speech")
    assert page.locator("#timeline .chunk.state-done").count() == 4
    shot(page, "result")
    with gateway.http() as http:
        job_id = page.evaluate("location.hash").split("/")[1]
        result = http.get(f"/v1/jobs/{job_id}/result", params={"format": "json"}).json()
    third = result["segments"][2]["start_s"]
    segments.nth(2).click()
    at = page.evaluate("document.getElementById('player').currentTime")
    assert third <= at < third + 0.5 and spans[2][0] - 1 < third < spans[2][0] + 1
    assert float(page.get_attribute("#segments li.playing", "data-start")) == third  # highlighted

    name, srt = downloaded(page, "srt")
    cues = SRT_CUE.findall(srt)
    assert name == "talk.srt" and [int(c[0]) for c in cues] == [1, 2, 3, 4]
    assert all(seconds(a) < seconds(b) for _, a, b, _ in cues) and cues[0][3].startswith("heard ")
    name, vtt = downloaded(page, "vtt")
    assert name == "talk.vtt" and vtt.startswith("WEBVTT\n") and len(VTT_CUE.findall(vtt)) == 4
    assert downloaded(page, "md")[1].startswith("# transcript: talk.wav")
    page.click("#copy")
    page.wait_for_selector("#copied:has-text('Copied.')")
    assert page.evaluate("navigator.clipboard.readText()") == result["text"]


HOSTILE = """## Decisions

- **Ship** the <img src=x onerror="window.pwned=1"> release
- [x] owner: <script>window.pwned=2</script>

| who | what |
|---|---|
| Ana | [notes](javascript:window.pwned=3) and [the docs](https://example.org/docs) |
"""


def test_a_summary_is_rendered_as_markdown_and_never_as_html(page, server, shot, tmp_path):
    server.state.replies = [HOSTILE]
    path, _ = recording(tmp_path / "board <img src=x onerror=window.pwned=4>.wav", 2, pause=1.55)
    start(page, path, preset="meeting-summary")
    page.wait_for_selector("#result:not([hidden])")
    answer = page.locator("#answer")
    assert (
        answer.locator("h4").text_content() == "Decisions"
        and answer.locator("strong").text_content() == "Ship"
    )
    assert answer.locator("table td").count() == 2 and answer.locator("li").count() == 2
    assert '<img src=x onerror="window.pwned=1">' in answer.text_content()
    assert "<script>window.pwned=2</script>" in answer.text_content()
    assert answer.locator("img, script").count() == 0 and page.evaluate("window.pwned") is None
    links = answer.locator("a")
    assert links.count() == 1 and links.get_attribute("href") == "https://example.org/docs"
    assert "noopener" in links.get_attribute("rel")
    assert page.text_content("#job-title") == "board <img src=x onerror=window.pwned=4>.wav"  # text too
    assert not page.is_visible("#segments")
    shot(page, "summary")


def test_a_prompt_or_a_template_is_asked_for_and_kept_with_the_job(page, gateway, tmp_path):
    path, _ = recording(tmp_path / "note.wav", 1, pause=1.65)
    page.wait_for_selector("#preset option", state="attached")
    page.set_input_files("#file", str(path))
    page.select_option("#preset", "voice-journal")
    assert page.is_visible("#template") and not page.is_visible("#prompt")
    page.click("#start")
    assert "fills a template" in page.text_content("#form-error")
    page.fill("#template", "Meals:\nSymptoms:")
    page.click("#start")
    page.wait_for_selector("#job-meta:has-text('with a template')")
    page.wait_for_selector("#result:not([hidden])")
    page.goto(f"{gateway.url}/#new")
    page.wait_for_selector("#preset option", state="attached")
    page.set_input_files("#file", str(path))
    page.select_option("#preset", "")
    assert page.is_visible("#prompt") and not page.is_visible("#template")
    page.fill("#prompt", "Who is speaking?")
    page.click("#start")
    page.wait_for_selector("#job-meta:has-text('your prompt “Who is speaking?”')")
    page.wait_for_selector("#result:not([hidden])")


def test_a_chunk_cut_short_is_shown_never_hidden(page, server, tmp_path):
    server.state.length_for = 2  # the first chunk stops at its token limit, and again when asked again
    path, _ = recording(tmp_path / "long answer.wav", 2, pause=1.35)
    start(page, path)
    page.wait_for_selector("#result:not([hidden])")
    assert "output hit the token limit" in page.text_content("#warnings")
    item = page.locator("#chunks .chunk-item.state-truncated")
    assert item.count() == 1 and "cut short" in item.locator(".badge").text_content()
    assert page.locator("#timeline .chunk.state-truncated").count() == 1
    assert "1 cut short" in page.get_attribute("#timeline", "aria-label")


DROP = """async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const moved = new DataTransfer();
    moved.items.add(new File([bytes], 'dropped.wav', { type: 'audio/wav' }));
    return moved;
}"""


def test_a_recording_dropped_on_the_page_is_chosen(page, tmp_path):
    path, _ = recording(tmp_path / "dropped.wav", 1, pause=2.45)
    page.wait_for_selector("#system option", state="attached")
    moved = page.evaluate_handle(DROP, base64.b64encode(path.read_bytes()).decode())
    page.dispatch_event("#drop", "dragover", {"dataTransfer": moved})
    assert "over" in page.get_attribute("#drop", "class")  # the drop zone shows it takes the file
    page.dispatch_event("#drop", "drop", {"dataTransfer": moved})
    assert page.text_content("#chosen").startswith("Chosen: dropped.wav")
    page.click("#start")
    page.wait_for_selector("#result:not([hidden])")
    assert page.locator("#segments .segment").count() == 1


def test_a_running_job_is_cancelled_and_what_it_did_stays(page, slow, tmp_path):
    path, _ = recording(tmp_path / "too long.wav", 6, pause=1.15)  # 2.3 MB: under the upload limit
    start(page, path)
    page.wait_for_selector("#timeline .chunk.state-done")
    page.click("#cancel")
    page.wait_for_selector("#job-status:has-text('Cancelled')")
    status = page.text_content("#job-status")
    done = int(re.fullmatch(r"Cancelled after (\d) of 6 chunks; those are kept below\.", status).group(1))
    assert done >= 1 and page.locator("#chunks .chunk-item").count() == done
    assert not page.is_visible("#cancel") and not page.is_visible("#result")


def test_a_recording_made_with_the_microphone_is_uploaded(page):
    page.wait_for_selector("#system option", state="attached")
    page.click("#record")
    page.wait_for_selector("#record[aria-pressed=true]")
    time.sleep(1.5)  # of the browser's fake microphone
    page.click("#record")
    page.wait_for_selector("#chosen:has-text('recording-')")
    assert re.fullmatch(r"Chosen: recording-\d{8}-\d{6}\.webm \(\d+ kB\)", page.text_content("#chosen"))
    page.click("#start")
    page.wait_for_selector("#job-title:has-text('recording-')")  # accepted as audio: a job
