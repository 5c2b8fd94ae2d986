"""The main flow in the browser: a recording uploaded, its progress, its result."""

import time

from tests.helpers.gateway import recording


def test_smoke(page, gateway, shot, slow, tmp_path):
    page.wait_for_selector("#system option", state="attached")
    path, _ = recording(tmp_path / "talk.wav", 4)
    page.set_input_files("#file", str(path))
    shot(page, "form")
    page.click("#start")
    page.wait_for_selector("#timeline .chunk")
    time.sleep(1.0)
    shot(page, "progress")
    page.wait_for_selector("#result:not([hidden])")
    time.sleep(0.5)
    shot(page, "result")
