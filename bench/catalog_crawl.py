"""Crawl vs one model_info call per model, against the local Hub server with 50 ms per request.

    .venv/bin/python bench/catalog_crawl.py [--latency 0.05] [--page-size 50]

Prints requests and seconds for: the audiomm crawl with an empty cache (first crawl), the same
crawl with its cache warm (a daily refresh: only changed repos are fetched again), and the naive
approach (``HfApi.list_models`` for the ids, then ``HfApi.model_info`` for each model), and the ratios.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.helpers builds fixtures

from huggingface_hub import HfApi  # noqa: E402
from tests.helpers.hub_server import HubServer  # noqa: E402

from audiomm.catalog.hub import PIPELINE_TAGS, HubCrawler  # noqa: E402
from audiomm.catalog.snapshots import Store  # noqa: E402


def measure(hub: HubServer, fn) -> tuple[int, float, int]:
    before = len(hub.state.requests)
    t = time.perf_counter()
    n = fn()
    return len(hub.state.requests) - before, time.perf_counter() - t, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--page-size", type=int, default=50)
    args = ap.parse_args()
    with (
        HubServer(latency=args.latency, page_size=args.page_size) as hub,
        tempfile.TemporaryDirectory() as tmp,
    ):
        store = Store(Path(tmp) / "bench.sqlite")

        def crawl() -> int:
            return len(HubCrawler(store, endpoint=hub.url).crawl().records)

        def naive() -> int:
            api = HfApi(endpoint=hub.url)
            n = 0
            for tag in PIPELINE_TAGS:
                for m in api.list_models(pipeline_tag=tag):
                    api.model_info(m.id)
                    n += 1
            return n

        cold = measure(hub, crawl)
        warm = measure(hub, crawl)
        base = measure(hub, naive)
    print(
        f"Hub fixture server: {args.latency * 1000:.0f} ms per request, {args.page_size} models per list page"
    )
    print(f"{'approach':44s} {'models':>6s} {'requests':>9s} {'seconds':>8s}")
    for name, (req, sec, n) in (
        ("naive: list + one model_info per model", base),
        ("audiomm crawl, empty cache (first crawl)", cold),
        ("audiomm crawl, warm cache (daily refresh)", warm),
    ):
        print(f"{name:44s} {n:6d} {req:9d} {sec:8.2f}")
    for name, (req, sec, _) in (("empty cache", cold), ("warm cache", warm)):
        print(f"ratio naive/crawl ({name}): {base[0] / req:.1f}x fewer requests, {base[1] / sec:.1f}x faster")


if __name__ == "__main__":
    main()
