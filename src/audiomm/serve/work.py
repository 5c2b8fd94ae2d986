"""One recording through the runner, on a system's shared backend: its events as they come, its progress,
and the one way it ends (a result, a cancel, or an error naming the system)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from audiomm.api import preflight
from audiomm.audio.decode import AudioError
from audiomm.audio.voice import weights_path
from audiomm.backends import Backend
from audiomm.backends.base import BackendError
from audiomm.config import RunOptions
from audiomm.longform import ChunkDone, ChunkPlanned, Event, Finished, Planned, RunResult, stream
from audiomm.longform.cache import ChunkCache
from audiomm.serve.errors import Cancelled, SystemFailed
from audiomm.serve.uploads import Upload, in_words
from audiomm.systems import System
from audiomm.tasks.presets import Preset


@dataclass(frozen=True)
class Work:
    """What to run: a system (by name), a recording, a preset, the run options."""

    system: str
    upload: Upload
    preset: Preset
    options: RunOptions


def prepared(system: System, upload: Upload, preset: Preset, options: RunOptions) -> Work:
    """The work, once what can be refused without the model is checked (a preset the system cannot run, a
    template missing, a window over the model's, speakers asked of a gateway without the voice encoder):
    a 400 at once, not a failure later."""
    preflight(system.config, preset, options)
    if options.speakers:
        weights_path()
    preset.render(preset.chunk_prompt, options.template)
    return Work(system.name, upload, preset, options)


@dataclass
class Progress:
    """How far a run is: chunks done of the total (None until planned), audio seconds done of the input's."""

    chunks_done: int = 0
    chunks_total: int | None = None
    input_s: float | None = None
    audio_done_s: float = 0.0
    started: float = field(default_factory=time.time)
    chunks_planned: int = 0  # so far (the plan grows while the recording is decoded)

    def see(self, event: Event) -> None:
        """Count an event of the runner."""
        if isinstance(event, ChunkPlanned):
            self.chunks_planned += 1
        elif isinstance(event, Planned):
            self.chunks_total = len(event.analysis.plan.chunks)
            self.input_s = round(event.analysis.duration_s, 3)
        elif isinstance(event, ChunkDone):
            self.chunks_done = event.done
            self.chunks_total = event.total if event.total is not None else self.chunks_total
            self.audio_done_s = round(self.audio_done_s + event.result.end_s - event.result.start_s, 3)

    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (None until a chunk is done and the plan is known)."""
        if not self.chunks_done or not self.chunks_total:
            return None
        pace = (time.time() - self.started) / self.chunks_done
        return round(pace * (self.chunks_total - self.chunks_done), 1)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("started")
        return {**out, "eta_s": self.eta_s()}


def perform(
    work: Work,
    backend: Backend,
    cache: ChunkCache,
    emit: Callable[[Event], None],
    cancelled: threading.Event,
) -> RunResult:
    """Run ``work``; each event of the runner goes to ``emit`` as it comes (the result names the client's
    file, not the gateway's path). Stops between events once ``cancelled`` is set (:class:`Cancelled`);
    a backend failure is the system's (502), a decoding failure names the client's file."""
    events = stream(work.upload.path, work.preset, backend, work.options, cache=cache)
    try:
        for event in events:
            if cancelled.is_set():
                raise Cancelled("cancelled")
            if isinstance(event, Finished):
                event.result.file = work.upload.name
            emit(event)
            if isinstance(event, Finished):
                return event.result
    except BackendError as exc:
        raise SystemFailed(work.system, str(exc), 502) from None
    except AudioError as exc:
        raise AudioError(in_words(str(exc), work.upload)) from None
    finally:
        events.close()
    raise AssertionError("the run ended without a result")  # the runner always finishes with one
