"""Planner invariants, for any speech regions (hypothesis), and known cases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiomm.audio.chunking import Chunk, WindowExceeded, check_chunk, plan_chunks, plan_fixed


@st.composite
def scenes(draw):
    duration = draw(st.floats(min_value=0.0, max_value=4000.0))
    n = draw(st.integers(min_value=0, max_value=60))
    points = sorted(
        draw(st.lists(st.floats(min_value=0, max_value=duration), min_size=2 * n, max_size=2 * n))
    )
    regions = [(points[2 * i], points[2 * i + 1]) for i in range(n) if points[2 * i + 1] > points[2 * i]]
    window = draw(st.floats(min_value=1.0, max_value=120.0))
    overlap = draw(st.floats(min_value=0.0, max_value=window / 4))
    with_energy = draw(st.booleans())
    energy = None
    if with_energy:
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))
        energy = rng.random(int(duration / 0.032) + 1).astype(np.float32)
    return duration, regions, window, overlap, energy


def covered(chunks, a, b):
    """Is [a, b] inside the union of the chunks (ms grid)?"""
    t = a
    for c in sorted(chunks, key=lambda c: c.start_s):
        if c.start_s <= t + 1e-9 and c.end_s > t:
            t = c.end_s
        if t >= b - 1e-9:
            return True
    return t >= b - 1e-9


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_plan_invariants(scene):
    duration, regions, window, overlap, energy = scene
    plan = plan_chunks(regions, duration, window, energy=energy, overlap_s=overlap)
    chunks = plan.chunks
    # never over the window
    assert all(c.end_s - c.start_s <= window + 1e-9 for c in chunks)
    # in order, absolute, inside the recording
    assert all(0 <= c.start_s <= c.end_s <= round(duration, 3) + 1e-9 for c in chunks)
    assert all(a.start_s < b.start_s and a.end_s <= b.end_s for a, b in zip(chunks, chunks[1:], strict=False))
    assert [c.index for c in chunks] == list(range(len(chunks)))
    # overlaps are recorded exactly where chunks overlap
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.overlap_s == pytest.approx(max(0.0, a.end_s - b.start_s), abs=1e-6)
    # 100 % of the speech regions (on the ms grid) is covered
    for s, e in plan.regions:
        assert covered(chunks, s, e), (s, e)
    assert plan.coverage.covered_ratio == 1.0
    assert plan.coverage.chunks == len(chunks)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0, max_value=40000),
    st.floats(min_value=1.0, max_value=600),
    st.floats(min_value=0, max_value=1.0),
)
def test_fixed_invariants(duration, window, overlap_frac):
    overlap = window / 4 * overlap_frac
    plan = plan_fixed(duration, window, overlap_s=overlap)
    chunks = plan.chunks
    assert all(c.end_s - c.start_s <= window + 1e-9 for c in chunks)
    dur = round(duration * 1000) / 1000
    if dur > 0:
        assert chunks[0].start_s == 0 and chunks[-1].end_s == pytest.approx(dur)
        assert covered(chunks, 0, dur)
    assert plan.coverage.covered_ratio == 1.0


def test_cut_goes_to_the_longest_silence_in_the_second_half():
    # speech every 2 s with 0.5 s pauses, one 2 s pause at 20 s, one 3 s pause at 5 s (too early)
    regions = [
        (0, 5),
        (8, 10),
        (10.5, 12.5),
        (13, 15),
        (15.5, 17.5),
        (18, 20),
        (22, 24),
        (24.5, 26.5),
        (27, 29.5),
    ]
    regions += [(30, 33), (33.5, 38)]
    plan = plan_chunks(regions, 45, 30)
    assert plan.chunks[0].end_s == 20 and plan.chunks[0].cut == "silence"
    assert plan.chunks[1].start_s == 22


def test_long_run_is_cut_at_the_quietest_point():
    energy = np.ones(2000, np.float32)
    quiet = int(22.0 / 0.032)
    energy[quiet - 2 : quiet + 3] = 0.0
    plan = plan_chunks([(0, 50)], 50, 30, energy=energy, overlap_s=1)
    first, second = plan.chunks[:2]
    assert first.cut == "quietest-point" and abs(first.end_s - 22.0) < 0.1
    assert second.start_s == pytest.approx(first.end_s - 1.0) and second.overlap_s == 1.0


def test_check_chunk_refuses_over_window():
    check_chunk(Chunk(0, 0.0, 30.0), 30)
    with pytest.raises(WindowExceeded):
        check_chunk(Chunk(0, 0.0, 30.002), 30)
