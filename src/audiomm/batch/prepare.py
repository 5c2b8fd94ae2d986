"""A task made ready to run, the same way in both engines: its backends loaded once per configuration,
the setup each of its recordings copies (what every chunk is asked, the reducer with its cache), its
window."""

from __future__ import annotations

from audiomm.backends import Backend, load
from audiomm.batch.work import Task
from audiomm.config import BackendConfig, scrub_urls
from audiomm.errors import AudiommError, first_line
from audiomm.knowledge import Window
from audiomm.longform.cache import CachedBackend, ChunkCache
from audiomm.longform.runner import Setup, chunk_prompt


def problem(exc: BaseException) -> str:
    """An exception as the one line a failed recording keeps (URLs without their credentials)."""
    text = (
        first_line(exc, 1000) if isinstance(exc, AudiommError) else f"{type(exc).__name__}: {first_line(exc)}"
    )
    return scrub_urls(text)


class Backends:
    """Backends loaded once per configuration; one that cannot be loaded is its one line, each time asked
    (its recordings fail with it, the others go on)."""

    def __init__(self):
        self.loaded: dict[BackendConfig, Backend | str] = {}

    def get(self, config: BackendConfig) -> Backend:
        if config not in self.loaded:
            try:
                self.loaded[config] = load(config)
            except Exception as exc:  # noqa: BLE001 - kept as the line its recordings fail with
                self.loaded[config] = problem(exc)
            else:
                batch_mode = getattr(self.loaded[config], "batch_mode", None)
                if batch_mode is not None:  # the classic pipeline: Whisper decodes many chunks at once
                    batch_mode()
        found = self.loaded[config]
        if isinstance(found, str):
            raise AudiommError(found)
        return found


def prepare(task: Task, backends: Backends, cache: ChunkCache | None) -> tuple[Setup, Window]:
    """The setup every recording of ``task`` copies (its path left empty) and its window; raises what the
    task cannot do with this model (a window over the model's, a preset it cannot take)."""
    backend = backends.get(task.config)
    options = task.options
    reducer = backends.get(task.config.for_text(options.reduce_model)) if options.reduce_model else backend
    window = options.window(backend.spec, task.preset.verbatim)
    ask = chunk_prompt(task.preset, backend, options)
    if cache is not None:
        reducer = CachedBackend(reducer, cache, options.reuse)
    return Setup("", task.preset, backend, reducer, ask, options), window
