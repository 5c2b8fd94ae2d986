"""The catalog on the page: every family, what fits a GPU and RAM (the same answer as ``audiomm catalog
fits``), a family's page rendered from the Markdown ``audiomm catalog pages`` writes; the evaluation
reports under ``--reports``."""

from audiomm import sizing
from audiomm.catalog.process import from_snapshot
from audiomm.catalog.snapshots import bundled_snapshot


def test_what_fits_my_gpu_is_the_catalog_fits_answer(page, shot):
    cat = from_snapshot(bundled_snapshot())  # no crawl in the gateway's data dir: the bundled snapshot
    expected = sizing.fits(cat, 24, 64)
    page.click("nav >> text=Models")
    page.wait_for_selector("#families-table tbody tr")
    assert page.locator("#families-table tbody tr").count() == len(cat.families)
    page.fill("#vram", "24")
    page.fill("#ram", "64")
    page.click("#fits-go")
    page.wait_for_selector("#fits-wrap:not([hidden])")
    shot(page, "catalog", full_page=False)
    rows = page.locator("#fits-table tbody tr")
    assert rows.count() == len(expected) and page.locator("#fits-table tbody tr:visible").count() == 12
    page.click("#fits-more")  # the first rows, then all of them
    assert page.locator("#fits-table tbody tr:visible").count() == len(expected)
    first = rows.first.locator("th, td").all_text_contents()
    e = expected[0]
    assert first[0] == e.family and first[2] == e.quant and first[3] == e.device.upper()
    assert float(first[4]) == round(e.total_gb, 1)
    summary = page.text_content("#fits-summary")
    assert summary.startswith(
        f"{len(expected)} of {len(cat.families)} families fit 24 GB of GPU memory and 64 GB of RAM"
    )
    page.fill("#family-filter", "voxtral")
    assert 0 < page.locator("#families-table tbody tr").count() < len(cat.families)

    rows.first.locator("a").click()
    page.wait_for_selector("#family-page h3")
    assert page.text_content("#family-page h3") == e.canonical_id
    assert page.locator("#family-page table").count() >= 2  # the facts and the memory table
    hub = page.locator("#family-page a", has_text="Hub").first
    assert hub.get_attribute("href") == f"https://huggingface.co/{e.canonical_id}"
    page.locator("#family-page a", has_text="All families").first.click()
    page.wait_for_selector("#view-catalog:not([hidden])")


def test_a_bad_memory_size_is_said_plainly(page):
    page.goto(page.url.split("#")[0] + "#catalog")
    page.click("#fits-go")
    assert page.text_content("#fits-error") == "Enter your GPU memory, your RAM, or both (in GB)."


def test_the_evaluation_reports_are_listed_and_open_sandboxed(page):
    page.wait_for_selector("[data-nav=reports]:not([hidden])")
    page.click("nav >> text=Reports")
    link = page.locator("#reports-list a")
    assert link.count() == 1 and "2026-01-eval" in link.text_content()
    with page.context.expect_page() as opened:
        link.click()
    report = opened.value
    report.wait_for_load_state()
    assert report.text_content("h1") == "Evaluation report"
    assert report.evaluate("getComputedStyle(document.querySelector('h1')).color") == "rgb(0, 128, 128)"
