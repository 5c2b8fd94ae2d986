"""The streaming front end: one pass over the file, chunks handed out while the rest is still decoded,
the same plan as the whole-file planner, the same samples as a full decode, bounded memory."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiomm.audio.analyze import FrontEnd, analyze
from audiomm.audio.chunking import ChunkPacker, plan_chunks
from audiomm.audio.decode import decode_all
from audiomm.audio.vad import RegionTracker, VadOptions, speech_regions
from tests.helpers.audio import clip, join, write


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    """~6 minutes of real speech, pauses of 0.4 and 2.5 s."""
    audio, _ = join([x for _ in range(15) for x in (clip(), 0.4, clip(), 2.5)])
    return write(tmp_path_factory.mktemp("rec") / "talk.flac", audio)


@pytest.mark.parametrize("vad", [True, False])
def test_streamed_chunks_are_the_plan_and_its_samples(talk, vad):
    front = FrontEnd(talk, window_s=30, use_vad=vad)
    got, first_at = [], None
    for p in front:
        got.append(p)
        first_at = first_at if first_at is not None else front.report.duration_s
    whole, _ = decode_all(talk)
    assert [p.chunk for p in got] == front.analysis.plan.chunks
    assert [c.start_s for c in front.analysis.plan.chunks] == [
        c.start_s for c in analyze(talk, window_s=30, use_vad=vad).plan.chunks
    ]
    for p in got:
        a, b = round(p.chunk.start_s * 16000), round(p.chunk.end_s * 16000)
        assert np.array_equal(p.audio, whole[a:b])
    # the first chunk came while minutes of the file were still to decode (the decoder runs ahead by its queue)
    assert first_at < front.report.duration_s - 100


def test_memory_holds_a_few_windows_not_the_recording(talk):
    front = FrontEnd(talk, window_s=20)
    held = []
    for _ in front:
        held.append(len(front.samples.buf) / 16000)
    assert max(held) < 4 * 20 + 60  # two windows of lookahead, a decoded block and the prefetch queue


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_regions_streamed_in_any_pieces_are_the_same(data):
    n = data.draw(st.integers(0, 3000))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    probs = np.repeat(rng.random(max(1, n // 20)), 20)[:n].astype(np.float32)
    opts = VadOptions(
        threshold=data.draw(st.floats(0.1, 0.9)),
        min_silence_s=data.draw(st.floats(0, 1)),
        speech_pad_s=data.draw(st.floats(0, 0.6)),
        min_speech_s=data.draw(st.floats(0, 0.5)),
    )
    duration = n * 0.032
    tracker, got, i = RegionTracker(opts), [], 0
    while i < n:
        k = data.draw(st.integers(1, 500))
        got += tracker.push(probs[i : i + k])
        i += k
    got += tracker.finish(duration)
    assert got == speech_regions(probs, duration, opts)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_chunks_decided_early_are_the_chunks_of_the_whole_plan(data):
    duration = data.draw(st.floats(1, 3000))
    points = sorted(data.draw(st.lists(st.floats(0, duration), min_size=0, max_size=120)))
    regions = [(points[i], points[i + 1]) for i in range(0, len(points) - 1, 2) if points[i + 1] > points[i]]
    window = data.draw(st.floats(1, 120))
    overlap = data.draw(st.floats(0, window / 4))
    energy = np.random.default_rng(0).random(int(duration / 0.032) + 1).astype(np.float32)
    whole = plan_chunks(regions, duration, window, energy=energy, overlap_s=overlap)
    packer, streamed = ChunkPacker(window, overlap), []
    for i, r in enumerate(regions):  # each region final once the next one has started
        packer.add([r])
        known = regions[i + 1][0] if i + 1 < len(regions) else duration
        streamed += packer.take(known, energy)
    packer.add([], duration_ms=round(duration * 1000))
    streamed += packer.take(None, energy)
    spans = [(c.start_s, c.end_s, c.overlap_s) for c in streamed]
    assert spans == [(c.start_s, c.end_s, c.overlap_s) for c in whole.chunks]
