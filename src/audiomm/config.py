"""The two objects every caller builds: which model runs where (:class:`BackendConfig`), and how a
recording is run (:class:`RunOptions`). ``audiomm run``, ``eval``, ``serve`` and ``batch`` all build
these two and hand them to the same runner. Every default lives here, once.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from audiomm.errors import AudiommError

if TYPE_CHECKING:
    from audiomm.knowledge import ModelSpec, Window

BACKENDS = ("openai", "ollama", "transformers", "classic")
TEXT_BACKENDS = ("openai", "ollama", "transformers")  # what may run the classic pipeline's text LLM
KEY_VARIABLES = ("AUDIOMM_API_KEY", "OPENAI_API_KEY")  # where a key is looked for when none is given
VERBATIM_MIN_TOKENS = 64  # a transcript's output tokens beyond those that grow with the audio


@dataclass(frozen=True)
class BackendConfig:
    """A model behind a backend, with how to reach or load it.

    ``openai``: ``model`` as the server names it, at ``base_url`` (and at each of ``base_urls``: replicas of
    one model, each request sent to the least busy; the first server names the answers in the cache). ``transformers``: a Hub id or a local
    directory (``device``, ``dtype``, ``quantize``, ``trust_remote_code``, ``batch_size``). ``classic``:
    ``model`` is a Whisper (CTranslate2) model and ``llm`` the text model that reads its transcript.
    """

    backend: str = "openai"
    model: str = ""
    base_url: str | None = field(default=None, repr=False)  # may hold credentials: shown via public_url
    base_urls: tuple[str, ...] = field(default=(), repr=False)  # more servers of the same model (replicas)
    api_key: str | None = field(default=None, repr=False)  # never written anywhere
    api_key_env: str | None = None  # the name of a variable that holds the key (files never hold keys)
    concurrency: int = 4  # requests in flight at once (servers)
    timeout: float = 300.0  # seconds per request
    retries: int = 5  # per request, on 429/5xx/timeouts, with backoff
    batch_size: int = 4  # chunks per generate call (local models)
    device: str | None = None  # transformers: cpu, cuda, cuda:1, mps (None: automatic)
    dtype: str | None = None  # transformers: float32, bfloat16, float16 (None: automatic)
    trust_remote_code: bool = False
    quantize: str | None = None  # transformers on CUDA: 4bit | 8bit
    language: str | None = None  # classic: Whisper's language; servers: the transcription endpoint's
    transcriptions: bool = (
        False  # servers: verbatim presets go to /v1/audio/transcriptions (vLLM, llama-server)
    )
    llm: BackendConfig | None = None  # classic: the text LLM after Whisper

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise AudiommError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        for name in ("concurrency", "retries", "batch_size"):
            value = getattr(self, name)
            if value < (0 if name == "retries" else 1):
                raise AudiommError(
                    f"--{name.replace('_', '-')} must be at least {0 if name == 'retries' else 1}"
                )
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise AudiommError("--timeout must be a positive number of seconds")

    def public(self) -> dict:
        """What may be recorded about this configuration: everything but the key itself, and the URL
        without its user, password or query (:func:`public_url`)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("api_key", "llm")}
        if self.base_url is not None:
            out["base_url"] = public_url(self.base_url)
        out["base_urls"] = [public_url(u) for u in self.base_urls] or None
        if self.llm is not None:
            out["llm"] = self.llm.public()
        return {k: v for k, v in out.items() if v is not None}

    def servers(self) -> tuple[str, ...]:
        """Every server named for this model, in order, each once: ``base_url`` then ``base_urls``."""
        named = ((self.base_url,) if self.base_url else ()) + tuple(self.base_urls)
        return tuple(dict.fromkeys(named))

    def for_text(self, model: str, backend: str | None = None) -> BackendConfig:
        """The same connection and loading options for a text model (the reduce step, the classic LLM)."""
        kind = text_backend(model, backend) if self.backend == "classic" or backend else self.backend
        return replace(self, backend=kind, model=model, llm=None, language=None)


def text_backend(model: str, backend: str | None = None) -> str:
    """The backend of a text model: as given, else transformers for a local path or .gguf, else openai."""
    local = Path(model).expanduser().exists() or model.startswith((".", "/", "~")) or model.endswith(".gguf")
    kind = backend or ("transformers" if local else "openai")
    if kind not in TEXT_BACKENDS:
        raise AudiommError(f"unknown --llm-backend {kind!r}; choose one of {', '.join(TEXT_BACKENDS)}")
    return kind


def with_llm(config: BackendConfig, llm: str | None, llm_backend: str | None = None) -> BackendConfig:
    """A classic configuration with its text LLM (``--llm``/``--llm-backend``); other backends unchanged."""
    if config.backend != "classic" or not llm:
        return config
    return replace(config, llm=config.for_text(llm, llm_backend))


def resolve_api_key(config: BackendConfig) -> str | None:
    """The one place a key is found: the configuration, the variable it names, then the usual variables."""
    if config.api_key:
        return config.api_key
    if config.api_key_env:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise AudiommError(f"environment variable {config.api_key_env} (api_key_env) is not set")
        return key
    return next((os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), None)


@dataclass(frozen=True)
class RunOptions:
    """How one recording is run; the model's own facts (window, output tokens) fill what is left None."""

    max_chunk_seconds: float | None = None  # shrinks the model's window; never exceeds it
    vad: bool = True  # plan chunks over detected speech (False: fixed windows over everything)
    channel: str = "mix"  # mix, left, right or a channel number
    overlap_s: float = 1.0  # seconds shared by two chunks where speech must be split
    max_new_tokens: int | None = None  # per request (None: the model's default)
    temperature: float = 0.0
    seed: int | None = 0
    template: str | None = None  # the text of a template, for presets that fill one
    reduce_model: str | None = None  # a text model for the reduce step (None: the same model)
    reduce_budget_chars: int | None = None  # texts per reduce request (None: half the model's context)
    cache: bool = True  # keep finished chunks and merges on disk (False: no cache at all, as eval runs)
    reuse: bool = True  # answer from what a previous run kept (False, --no-cache: recompute, still keep)
    log: bool = True  # record the run in the run log
    speakers: bool = False  # diarize the whole recording first; every chunk knows who speaks when
    num_speakers: int | None = None  # the number of speakers, when known (else estimated)
    min_speakers: int = 1  # bounds of the estimate
    max_speakers: int = 8
    speaker_names: str | None = None  # display names for the labels: "S1=Ana,S2=Ben"

    def __post_init__(self) -> None:
        self._check_speakers()
        m = self.max_chunk_seconds
        if m is not None and not (math.isfinite(m) and m >= 1.0):
            raise AudiommError(f"--max-chunk-seconds must be at least 1 second, not {m:g}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise AudiommError("--max-new-tokens must be at least 1")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise AudiommError("--temperature must be 0 or more")

    def _check_speakers(self) -> None:
        """Speaker options only with ``speakers``, on the speech the VAD finds, names well formed."""
        given = self.num_speakers is not None or self.speaker_names is not None
        if given and not self.speakers:
            raise AudiommError("--num-speakers and --speaker-names describe speakers: add --speakers")
        bounds_given = (self.min_speakers, self.max_speakers) != (
            RunOptions.min_speakers,
            RunOptions.max_speakers,
        )
        if self.num_speakers is not None and bounds_given:  # as `audiomm audio speakers` says it
            raise AudiommError("give --num-speakers, or --min-speakers/--max-speakers, not both")
        if self.speakers and not self.vad:
            raise AudiommError("--speakers works on the speech the VAD finds: leave out --no-vad")
        if self.speakers:
            from audiomm.audio.speakers import SpeakerOptions, parse_speaker_names

            bounds = (self.num_speakers, self.min_speakers, self.max_speakers)
            SpeakerOptions(num_speakers=bounds[0], min_speakers=bounds[1], max_speakers=bounds[2]).validate()
            if self.speaker_names is not None:
                parse_speaker_names(self.speaker_names)

    def window(self, spec: ModelSpec, verbatim: bool = False) -> Window:
        """The one window rule: the model's true window on its runtime (or its preferred chunk), or less
        when asked. Asking for more than the model takes is an error, never a silent clamp.

        ``verbatim``: the output grows with the audio (a transcript), which the context must hold too."""
        from audiomm.knowledge import SPOKEN_TOKENS_PER_S, Window

        if verbatim:
            w = spec.window(output_tokens=VERBATIM_MIN_TOKENS, output_per_s=SPOKEN_TOKENS_PER_S)
        else:
            w = spec.window(output_tokens=self.max_new_tokens)
        if self.max_chunk_seconds is None:
            preferred = spec.default_window_s
            return (
                Window(preferred, "the backend's preferred chunk")
                if preferred and preferred < w.seconds
                else w
            )
        if self.max_chunk_seconds > w.seconds:
            raise AudiommError(
                f"--max-chunk-seconds {self.max_chunk_seconds:g} is over the {w.seconds:g} s window of"
                f" {spec.family} models ({w.reason})"
            )
        return Window(self.max_chunk_seconds, "--max-chunk-seconds")


def public_url(url: str) -> str:
    """A URL fit to show or record: no user or password, no query string (keys travel there too)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "(unparsable URL)"
    if ":" in (parts.hostname or "") and parts.hostname:
        host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`\x00-\x1f\x7f]+")


def scrub_urls(text: str) -> str:
    """``text`` (an error, a warning) with every URL that carries a user, password, query or fragment
    replaced by its :func:`public_url`; other URLs are left as they are."""
    return _URL.sub(lambda m: _shown(m[0]), text)


def _shown(url: str) -> str:
    """One URL found in a text, without its credentials (cut by hand where it does not parse)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        secret = "@" in parts.netloc or parts.query or parts.fragment
    except ValueError:
        return re.split(r"[?#]", re.sub(r"^([^:/]+://)[^/?#]*@", r"\1", url), maxsplit=1)[0]
    return public_url(url) if secret else url
