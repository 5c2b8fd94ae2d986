"""The gateway's parts on their own: the scheduler's slots and queue, a transcript streamed in pieces that
add up to the merged text, chat messages read into a prompt."""

import random
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="audiomm serve needs the [serve] extra")

from audiomm.longform import ChunkResult
from audiomm.longform.merge import segments
from audiomm.serve.errors import ApiError, QueueFull
from audiomm.serve.replies import TextDeltas, paragraphs
from audiomm.serve.scheduler import Scheduler
from audiomm.serve.wire import chat_request


def test_slots_per_system_and_a_bounded_queue():
    s = Scheduler(max_running=2, queue=3)
    running, most, lock, gate = {"a": 0, "b": 0}, {"a": 0, "b": 0}, threading.Lock(), threading.Event()

    def work(system):
        def go():
            with lock:
                running[system] += 1
                most[system] = max(most[system], running[system])
            gate.wait(5)
            with lock:
                running[system] -= 1

        return go

    tickets = [s.reserve() for _ in range(3)]
    with pytest.raises(QueueFull) as exc:
        s.reserve()
    assert 1 <= exc.value.retry_after <= 60 and s.status()["rejected"] == 1
    for t, system in zip(tickets, ("a", "a", "b"), strict=True):
        s.start(t, system, 1, work(system))
    time.sleep(0.2)
    assert s.status() == {"running": 2, "waiting": 1, "rejected": 1}  # the second "a" waits for the first
    assert running == {"a": 1, "b": 1}
    t = s.reserve()
    assert s.release(t) and not s.release(t)  # a place given back (a refused upload) frees the queue
    gate.set()
    deadline = time.monotonic() + 5
    while s.status()["running"] + s.status()["waiting"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert most == {"a": 1, "b": 1} and s.status()["waiting"] == 0


def overlapping(n: int) -> list[ChunkResult]:
    """Chunks that share a second of audio, each repeating the last words of the one before."""
    words = [f"w{i}" for i in range(10 * n)]
    out = []
    for i in range(n):
        text = " ".join(words[max(0, 10 * i - 2) : 10 * i + 10]) if i != 3 else ""  # one empty answer
        out.append(ChunkResult(i, 10.0 * i - (1.0 if i else 0.0), 10.0 * i + 10, text, "stop"))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_streamed_transcript_pieces_add_up_to_the_merged_text(seed):
    chunks = overlapping(8)
    merged = "\n\n".join(s.text for s in segments(chunks) if s.text)
    arrival = chunks[:]
    random.Random(seed).shuffle(arrival)  # chunks finish in any order; the text goes out in time order
    deltas = TextDeltas()
    pieces = [d for c in arrival for d in deltas.add(c)]
    assert "".join(pieces) == merged
    assert merged.split() == [f"w{i}" for i in (*range(30), *range(38, 80))]  # each shared word once
    assert "".join(paragraphs(merged)) == merged


def test_chat_messages_become_a_system_text_a_prompt_and_audio():
    req = chat_request(
        {
            "model": "m",
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "AAAA"}},
                        {"type": "text", "text": "Summarise."},
                    ],
                },
                {"role": "assistant", "content": "A meeting about budgets."},
                {"role": "user", "content": "Who decided?"},
            ],
            "max_completion_tokens": 50,
        }
    )
    assert req.system == "Be brief." and len(req.audio) == 1 and req.max_tokens == 50
    assert (
        req.prompt
        == "Earlier in this conversation:\nUser: Summarise.\nAssistant: A meeting about budgets.\n\nWho decided?"
    )
    for bad in (
        {"model": "m", "messages": []},
        {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2},
    ):
        with pytest.raises(ApiError) as exc:
            chat_request(bad)
        assert exc.value.status == 400
