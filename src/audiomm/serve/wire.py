"""Requests as they arrive (multipart fields, JSON) become typed requests here, and only here; anything
wrong is a 400 naming the parameter, in OpenAI's words."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from audiomm.config import RunOptions
from audiomm.errors import AudiommError
from audiomm.serve.errors import ApiError
from audiomm.serve.uploads import Form, Upload
from audiomm.sizing import MAX_MEMORY_GB

RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
RESULT_FORMATS = ("md", "json", "srt", "vtt")  # a job's result (audiomm's writers)
MAX_TEMPERATURE = 2.0  # OpenAI's range is 0 to 2
LIST_LIMIT = 50  # jobs listed unless a client asks for another number
MAX_LIST_LIMIT = 500


class Fields:
    """Text fields by name (a multipart form, or a JSON object's string values)."""

    def __init__(self, values: dict[str, list[str]]):
        self.values = values

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.values.get(name, []) if v.strip()]

    def text(self, name: str) -> str | None:
        found = self.all(name)
        return found[-1] if found else None

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise ApiError(400, f"{name} is required", param=name, code="missing_required_parameter")
        return value

    def number(self, name: str) -> float | None:
        value = self.text(name)
        return None if value is None else temperature(value, name)

    def whole(self, name: str) -> int | None:
        """A whole number from 1 to 999999 (None when not given)."""
        value = self.text(name)
        if value is None:
            return None
        if not (value.isascii() and value.isdigit() and len(value) <= 6) or int(value) < 1:
            raise ApiError(
                400, f"{name} must be a whole number of at least 1, not {value[:20]!r}", param=name
            )
        return int(value)

    def flag(self, name: str) -> bool:
        value = (self.text(name) or "false").lower()
        if value not in ("true", "false", "1", "0"):
            raise ApiError(400, f"{name} must be true or false, not {value!r}", param=name)
        return value in ("true", "1")


def temperature(value: Any, name: str = "temperature") -> float:
    """A sampling temperature from 0 to 2 (text or a number)."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        t = math.nan
    if isinstance(value, bool) or not (math.isfinite(t) and 0 <= t <= MAX_TEMPERATURE):
        raise ApiError(400, f"{name} must be a number from 0 to {MAX_TEMPERATURE:g}", param=name)
    return t


@dataclass(frozen=True)
class Speakers:
    """Who said what (a job's ``speakers`` fields): the run options they set; a field not sent keeps
    :class:`~audiomm.config.RunOptions`' default."""

    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    speaker_names: str | None = None

    def options(self) -> dict:
        """The :class:`~audiomm.config.RunOptions` fields to set (``speakers`` and what was given)."""
        given = {k: v for k, v in asdict(self).items() if v is not None}
        return {"speakers": True, **given}


SPEAKER_FIELDS = ("num_speakers", "min_speakers", "max_speakers", "speaker_names")


def speakers_fields(f: Fields) -> Speakers | None:
    """The speakers of a job (None without ``speakers=true``), checked as a whole: counts of at least 1,
    ``min_speakers`` at most ``max_speakers``, names as ``S1=Ana,S2=Ben``."""
    on = f.flag("speakers")
    given = [name for name in SPEAKER_FIELDS if f.text(name) is not None]
    if given and not on:
        raise ApiError(400, f"{given[0]} describes the speakers: add speakers=true", param=given[0])
    if not on:
        return None
    names = f.text("speaker_names")
    asked = Speakers(f.whole("num_speakers"), f.whole("min_speakers"), f.whole("max_speakers"), names)
    if asked.num_speakers is not None and (asked.min_speakers or asked.max_speakers) is not None:
        raise ApiError(400, "give num_speakers, or min_speakers/max_speakers, not both", param="num_speakers")
    low = asked.min_speakers or RunOptions.min_speakers
    high = asked.max_speakers or RunOptions.max_speakers
    if low > high:
        raise ApiError(
            400, f"min_speakers ({low}) must be at most max_speakers ({high})", param="min_speakers"
        )
    if names is not None:
        from audiomm.audio.speakers import parse_speaker_names

        try:
            parse_speaker_names(names)
        except AudiommError as exc:
            message = str(exc).replace("--speaker-names", "speaker_names")
            raise ApiError(400, message, param="speaker_names") from None
    return asked


@dataclass(frozen=True)
class TranscriptionRequest:
    """``POST /v1/audio/transcriptions`` (and ``translations``)."""

    model: str
    file: Upload
    prompt: str | None = None
    language: str | None = None
    temperature: float | None = None
    response_format: str = "json"
    stream: bool = False
    speakers: Speakers | None = None  # audiomm's own fields, as a job takes them


def transcription_request(form: Form) -> TranscriptionRequest:
    """The typed request of a transcription form."""
    f = Fields(form.fields)
    if form.file is None:
        raise ApiError(400, "a 'file' part (the recording) is required", param="file")
    fmt = f.text("response_format") or "json"
    if fmt not in RESPONSE_FORMATS:
        raise ApiError(
            400,
            f"response_format {fmt!r} is not supported; use one of {', '.join(RESPONSE_FORMATS)}",
            param="response_format",
        )
    granularities = f.all("timestamp_granularities[]") + f.all("timestamp_granularities")
    if any(g != "segment" for g in granularities):
        raise ApiError(
            400,
            "only segment timestamps are available (audio LLMs give no word timings)",
            param="timestamp_granularities",
        )
    if granularities and fmt != "verbose_json":
        raise ApiError(
            400, "timestamp_granularities needs response_format verbose_json", param="timestamp_granularities"
        )
    speakers = speakers_fields(f)
    if speakers is not None and f.flag("stream"):
        raise ApiError(
            400,
            "speakers cannot be streamed: leave out stream, or submit a job (POST /v1/jobs)",
            param="stream",
        )
    return TranscriptionRequest(
        model=f.required("model"),
        file=form.file,
        prompt=f.text("prompt"),
        language=f.text("language"),
        temperature=f.number("temperature"),
        response_format=fmt,
        stream=f.flag("stream"),
        speakers=speakers,
    )


@dataclass(frozen=True)
class AudioPart:
    """Base64 audio from a chat message, and where in the request it was."""

    data: str
    where: str


@dataclass(frozen=True)
class ChatRequest:
    """``POST /v1/chat/completions``: the system text, the user's text (earlier turns included) and the audio."""

    model: str
    system: str | None
    prompt: str
    audio: tuple[AudioPart, ...]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None


def chat_request(body: Any) -> ChatRequest:
    """The typed request of a chat completion body."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required", param="model", code="missing_required_parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list", param="messages")
    system, turns, audio = read_messages(messages)
    if body.get("n", 1) not in (1, None):
        raise ApiError(400, "n must be 1 (one answer per request)", param="n")
    options = body.get("stream_options") if isinstance(body.get("stream_options"), dict) else {}
    return ChatRequest(
        model=model,
        system="\n\n".join(system) or None,
        prompt=conversation(turns),
        audio=tuple(audio),
        stream=boolean(body.get("stream"), "stream"),
        include_usage=boolean(options.get("include_usage"), "stream_options.include_usage"),
        max_tokens=count(body.get("max_completion_tokens", body.get("max_tokens")), "max_tokens"),
        temperature=None if body.get("temperature") is None else temperature(body["temperature"]),
        seed=count(body.get("seed"), "seed", low=None),
    )


def boolean(value: Any, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false", param=name)
    return value


def count(value: Any, name: str, low: int | None = 1) -> int | None:
    """An integer (at least ``low``), or None when not given."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or (low is not None and value < low):
        raise ApiError(400, f"{name} must be an integer" + (f" of at least {low}" if low else ""), param=name)
    return value


def read_messages(messages: list) -> tuple[list[str], list[tuple[str, str]], list[AudioPart]]:
    """System texts, (role, text) turns, and the audio parts of the user's messages."""
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    audio: list[AudioPart] = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise ApiError(400, f"{where} must be an object", param=where)
        texts, parts = content_parts(m.get("content"), where)
        role = m.get("role")
        if role in ("system", "developer"):
            system += texts
        elif role in ("user", "assistant"):
            turns.append((role, "\n".join(texts)))
            audio += parts if role == "user" else []
        else:
            raise ApiError(
                400, f"{where}.role {role!r} is not supported (system, developer, user, assistant)"
            )
    return system, turns, audio


def content_parts(content: Any, where: str) -> tuple[list[str], list[AudioPart]]:
    """The texts and audio of one message's content (a string or a list of parts)."""
    if content is None:
        return [], []
    if isinstance(content, str):
        return [content], []
    if not isinstance(content, list):
        raise ApiError(400, f"{where}.content must be a string or a list of parts", param=where)
    texts, audio = [], []
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "input_audio":
            audio.append(AudioPart(input_audio(part.get("input_audio"), at), at))
        elif kind == "audio_url":
            audio.append(AudioPart(data_uri(part.get("audio_url"), at), at))
        else:
            raise ApiError(400, f"{at}: part type {kind!r} is not supported (text, input_audio, audio_url)")
    return texts, audio


def input_audio(value: Any, where: str) -> str:
    if not isinstance(value, dict) or not isinstance(value.get("data"), str) or not value["data"]:
        raise ApiError(400, f"{where}.input_audio needs data (base64 audio)", param=where)
    return value["data"]


def data_uri(value: Any, where: str) -> str:
    """The base64 payload of a ``data:audio/...;base64,...`` URI; the gateway fetches no URL."""
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url.startswith("data:"):
        raise ApiError(
            400, f"{where}.audio_url must be a data: URI (the gateway fetches no URLs)", param=where
        )
    header, _, payload = url[5:].partition(",")
    if not header.endswith(";base64") or not payload:
        raise ApiError(400, f"{where}.audio_url must be a base64 data: URI", param=where)
    return payload


def conversation(turns: list[tuple[str, str]]) -> str:
    """The prompt: the last turn's text, after the earlier turns' (a conversation sent again whole)."""
    if not turns:
        return ""
    *earlier, (_, last) = turns
    lines = [f"{role.capitalize()}: {text}" for role, text in earlier if text.strip()]
    return f"Earlier in this conversation:\n{chr(10).join(lines)}\n\n{last}" if lines else last


@dataclass(frozen=True)
class JobRequest:
    """``POST /v1/jobs``: a system, a recording (uploaded, or a local file under the allowed root), and the
    task (a preset, a prompt, or both; a template for presets that fill one); who said what, if asked."""

    system: str
    file: Upload | None = None
    path: str | None = None
    preset: str | None = None
    prompt: str | None = None
    system_prompt: str | None = None
    template: str | None = None
    speakers: Speakers | None = None


JOB_FIELDS = ("system", "path", "preset", "prompt", "system_prompt", "template", "speakers", *SPEAKER_FIELDS)


def job_request(form: Form) -> JobRequest:
    """The typed request of a job (a multipart form, or a JSON object read as one: :func:`json_form`)."""
    f = Fields(form.fields)
    unknown = sorted(set(form.fields) - set(JOB_FIELDS))
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; a job takes file or {', '.join(JOB_FIELDS)}")
    path = f.text("path")
    if (form.file is None) == (path is None):
        raise ApiError(400, "send exactly one recording: a 'file' part, or a 'path' (JSON)", param="file")
    return JobRequest(
        system=f.required("system"),
        file=form.file,
        path=path,
        preset=f.text("preset"),
        prompt=f.text("prompt"),
        system_prompt=f.text("system_prompt"),
        template=f.text("template"),
        speakers=speakers_fields(f),
    )


def json_form(body: Any) -> Form:
    """A JSON job body as a form: an object of strings, whole numbers, true/false (or nulls)."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    fields = {}
    for key, value in body.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, int):
            value = str(value)
        if not isinstance(value, str):
            raise ApiError(400, f"{key} must be a string, a whole number or true/false", param=str(key))
        fields[str(key)] = [value]
    return Form(fields)


def list_limit(value: str | None) -> int:
    """How many jobs to list: ``limit`` from 1 to 500 (50 unless given)."""
    if value is None:
        return LIST_LIMIT
    if not (value.isascii() and value.isdigit() and len(value) <= 6) or not 1 <= int(value) <= MAX_LIST_LIMIT:
        raise ApiError(400, f"limit must be a whole number from 1 to {MAX_LIST_LIMIT}", param="limit")
    return int(value)


@dataclass(frozen=True)
class FitsRequest:
    """``GET /v1/catalog/fits``: GPU memory and/or RAM, in GB."""

    vram_gb: float | None
    ram_gb: float | None


def fits_request(query: Mapping[str, str]) -> FitsRequest:
    """The typed request of ``?vram=GB&ram=GB`` (at least one)."""
    asked = FitsRequest(gigabytes(query.get("vram"), "vram"), gigabytes(query.get("ram"), "ram"))
    if asked.vram_gb is None and asked.ram_gb is None:
        raise ApiError(400, "give vram (GB of GPU memory) and/or ram (GB of RAM)", param="vram")
    return asked


def gigabytes(value: str | None, name: str) -> float | None:
    """A memory size in GB above 0 (None when not given, or given empty)."""
    if value is None or not value.strip():
        return None
    try:
        gb = float(value)
    except ValueError:
        gb = math.nan
    if not (math.isfinite(gb) and 0 < gb <= MAX_MEMORY_GB):
        raise ApiError(
            400, f"{name} must be a number of GB above 0 and at most {MAX_MEMORY_GB:g}", param=name
        )
    return gb
