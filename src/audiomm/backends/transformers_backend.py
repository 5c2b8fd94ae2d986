"""Local audio LLMs with transformers (extra ``[local]``): processor chat template with audio, batched generate.

One code path for every architecture whose processor renders audio items in its chat template
(Qwen2-Audio, Voxtral, Audio Flamingo 3, Gemma 3n, Phi-4-multimodal, Qwen2.5-Omni, Granite Speech...):

    conversation -> processor.apply_chat_template(tokenize=True, padding left) -> model.generate

Left padding matters: with right padding the pad tokens sit between the prompt and the generated
text and change greedy outputs; with left padding a batch gives what each request gives alone.
A plain text model (no audio processor) works too, for the reduce step (``--reduce-model``).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from itertools import groupby
from pathlib import Path

import numpy as np

from audiomm.backends.base import RATE, BackendError, Request, Response, audio_seconds, looks_like_path
from audiomm.config import BackendConfig
from audiomm.errors import first_line
from audiomm.knowledge import ModelSpec, spec_for

QUANTIZE = ("4bit", "8bit")
DTYPES = ("auto", "float32", "bfloat16", "float16")


def _import():
    try:
        import torch
        import transformers
    except ImportError:
        raise BackendError(
            "the transformers backend needs the [local] extra: pip install torch && pip install 'audiomm[local]'"
        ) from None
    return torch, transformers


def pick_device(torch, device: str | None) -> str:
    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError(
            f"--device {device}: this machine has no CUDA GPU visible to torch; use --device cpu"
        )
    return device


def pick_dtype(torch, device: str, dtype: str | None):
    if dtype not in (None, "", "auto"):
        if dtype not in DTYPES:
            raise BackendError(f"unknown --dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
        return getattr(torch, dtype)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def _source(config: BackendConfig) -> tuple[str, dict]:
    """Where to load from (a local directory, a GGUF file's directory, or a Hub id) and the common kwargs."""
    model = config.model
    local = Path(model).expanduser()
    gguf = local.suffix.lower() == ".gguf"
    if (looks_like_path(model) or gguf) and not local.exists():
        what = "file" if gguf else "directory"
        raise BackendError(f"model {model}: no such {what}; give a local model directory or a Hub id")
    kw: dict = {"trust_remote_code": config.trust_remote_code}
    if gguf:  # a GGUF file (text models): transformers de-quantizes it on load
        kw["gguf_file"] = local.name
        return str(local.parent), kw
    if local.exists() and not (local / "config.json").exists():
        raise BackendError(
            f"model {model}: {local} has no config.json; is it a transformers model directory?"
        )
    return (str(local) if local.exists() else model), kw


def _read_config(transformers, model: str, src: str, kw: dict):
    try:
        return transformers.AutoConfig.from_pretrained(src, **kw)
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise BackendError(
                f"model {model} needs its own code from the Hub; rerun with --trust-remote-code if you trust it"
            ) from None
        raise BackendError(f"cannot read the config of {model}: {first_line(exc)}") from None
    except OSError as exc:
        raise BackendError(
            f"cannot load {model}: {first_line(exc)} (offline? set HF_TOKEN for gated models, or give a local path)"
        ) from None


def _model_class(transformers, model: str, config, trust_remote_code: bool):
    """The generation class for this config: multimodal LM first, then seq2seq, then causal LM; a model's
    own class (``auto_map``) only with ``trust_remote_code``."""
    from transformers.models.auto import modeling_auto as ma

    mappings = (
        ma.MODEL_FOR_MULTIMODAL_LM_MAPPING_NAMES,
        ma.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
        ma.MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES,
        ma.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    )
    for mapping in mappings:
        name = mapping.get(config.model_type)
        if name and hasattr(transformers, name):
            return getattr(transformers, name)
    auto = getattr(config, "auto_map", None) or {}
    key = next((k for k in ("AutoModelForCausalLM", "AutoModel") if k in auto), None)
    if trust_remote_code and key:
        return getattr(transformers, key)
    raise BackendError(
        f"model {model} (model_type {config.model_type!r}) is not a generative model transformers knows;"
        " try --trust-remote-code, or serve it with vLLM and use --backend openai"
    )


@contextmanager
def _quiet_loading(transformers):
    """No tqdm bars of transformers' own while loading: audiomm shows its progress bar after the load."""
    transformers.utils.logging.disable_progress_bar()
    mod = sys.modules.get("transformers.modeling_gguf_pytorch_utils")  # the GGUF de-quantizer's bar
    bar = getattr(mod, "tqdm", None)
    if bar is not None:
        mod.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        if bar is not None:
            mod.tqdm = bar
        transformers.utils.logging.enable_progress_bar()


class TransformersBackend:
    name = "transformers"
    concurrent = False
    endpoint = "local"

    def __init__(self, config: BackendConfig):
        torch, transformers = _import()
        self._torch = torch
        self.model = self.cache_id = config.model
        self.batch_size = config.batch_size
        self.device = pick_device(torch, config.device)
        self.dtype = pick_dtype(torch, self.device, config.dtype)
        src, kw = _source(config)
        config_hf = _read_config(transformers, config.model, src, kw)
        cls = _model_class(transformers, config.model, config_hf, config.trust_remote_code)
        load_kw: dict = {"dtype": self.dtype, **kw}
        if config.quantize:
            load_kw["quantization_config"] = self._quant_config(transformers, config.quantize)
            load_kw["device_map"] = {"": self.device}
        try:
            auto = transformers.AutoTokenizer if "gguf_file" in kw else transformers.AutoProcessor
            processor = auto.from_pretrained(src, **kw)
            with _quiet_loading(transformers):
                net = cls.from_pretrained(src, **load_kw)
        except (OSError, ValueError, ImportError) as exc:
            raise BackendError(f"cannot load {config.model}: {first_line(exc)}") from None
        if not config.quantize:
            net.to(self.device)
        self._setup(net, processor)

    @classmethod
    def from_loaded(cls, net, processor, name: str, batch_size: int = 4) -> TransformersBackend:
        """A backend around a model already in memory (benchmarks build random full-size ones this way)."""
        torch, _ = _import()
        self = cls.__new__(cls)
        self._torch, self.model, self.cache_id, self.batch_size = torch, name, name, max(1, batch_size)
        self.device, self.dtype = str(net.device), net.dtype
        self._setup(net, processor)
        return self

    def _setup(self, net, processor) -> None:
        self.net, self.processor = net, processor
        model = self.model
        self.net.eval()
        if hasattr(self.net, "disable_talker"):  # omni models: text out only, from the thinker
            self.net.disable_talker()
        self._gen = getattr(self.net, "thinker", self.net)
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.audio = hasattr(self.processor, "feature_extractor")
        self.spec = self._spec(self.net.config.model_type)
        if (
            getattr(self.processor, "chat_template", None) is None
            and getattr(self.tokenizer, "chat_template", None) is None
        ):
            raise BackendError(f"model {model} has no chat template; audiomm needs one to build prompts")
        eos = self._gen.generation_config.eos_token_id
        self._eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self._eos.add(self.tokenizer.eos_token_id)
        self._eos.discard(None)

    # ------------------------------------------------------------------ loading helpers

    def _quant_config(self, transformers, quantize: str):
        if quantize not in QUANTIZE:
            raise BackendError(f"unknown --quantize {quantize!r}; choose one of {', '.join(QUANTIZE)}")
        if not self.device.startswith("cuda"):
            raise BackendError(
                "4-bit/8-bit loading (bitsandbytes) needs a CUDA GPU; this run is on " + self.device
            )
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise BackendError("--quantize needs bitsandbytes: pip install bitsandbytes") from None
        if quantize == "4bit":
            return transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=self.dtype)
        return transformers.BitsAndBytesConfig(load_in_8bit=True)

    def _processor_limit_s(self) -> float | None:
        """The longest audio one request may carry before the processor cuts it (None: no audio, no limit)."""
        if not self.audio:
            return None
        limit = getattr(self.processor, "max_audio_len", None)  # processors that window audio themselves
        if limit:
            return float(limit)
        fe = self.processor.feature_extractor
        n, rate = getattr(fe, "n_samples", None), getattr(fe, "sampling_rate", RATE)
        return n / rate if n else None

    def _spec(self, model_type: str | None) -> ModelSpec:
        """The knowledge base's facts for this model (by id, else by its config's model_type), with the
        processor's own audio limit as the window when it is shorter."""
        spec = spec_for(self.model, model_type=model_type, runtime="transformers")
        limit = self._processor_limit_s()
        if limit and limit < (spec.processor_limit_s or float("inf")):
            note = (spec.note + f"; the processor takes at most {limit:g} s").lstrip("; ")
            spec = replace(spec, processor_limit_s=limit, note=note)
        return spec

    # ------------------------------------------------------------------ generation

    def _conversation(self, req: Request) -> list[dict]:
        if not self.audio:  # a text model's chat template takes plain-string content
            conv = [{"role": "system", "content": req.system}] if req.system else []
            return [*conv, {"role": "user", "content": req.prompt}]
        conv: list[dict] = []
        if req.system:
            conv.append({"role": "system", "content": [{"type": "text", "text": req.system}]})
        content: list[dict] = []
        if req.audio is not None:
            content.append({"type": "audio", "audio": req.audio.astype(np.float32)})
        content.append({"type": "text", "text": req.prompt})
        conv.append({"role": "user", "content": content})
        return conv

    def _check(self, req: Request) -> None:
        if req.audio is None:
            return
        if not self.audio:
            raise BackendError(
                f"model {self.model} takes no audio (a text model); use it only as --reduce-model"
            )
        secs, limit = audio_seconds(req), self.spec.processor_limit_s
        if limit and secs > limit + 1e-6:
            raise BackendError(
                f"a {secs:.1f} s chunk is over the {limit:g} s the processor of {self.model} takes"
                " (it would cut the rest silently); lower --max-chunk-seconds"
            )

    def _inputs(self, reqs: list[Request]):
        convs = [self._conversation(r) for r in reqs]
        common = {
            "add_generation_prompt": True,
            "tokenize": True,
            "return_dict": True,
            "return_tensors": "pt",
        }
        if self.audio:
            # padding only for the text: audio features keep the processor's own padding (the encoder's length)
            pk: dict = {"text_kwargs": {"padding": True, "padding_side": "left"}}
            if any(r.audio is not None for r in reqs):
                pk["audio_kwargs"] = {"sampling_rate": RATE}
            return self.processor.apply_chat_template(convs, processor_kwargs=pk, **common)
        return self.tokenizer.apply_chat_template(convs, padding=True, **common)

    def _batch(self, reqs: list[Request]) -> list[Response]:
        torch = self._torch
        for r in reqs:
            self._check(r)
        t = time.perf_counter()
        inputs = self._inputs(reqs)
        inputs = {
            k: (v.to(self.device, dtype=self.dtype) if v.is_floating_point() else v.to(self.device))
            for k, v in inputs.items()
            if hasattr(v, "to")
        }
        s = reqs[0].settings
        gen = {"max_new_tokens": s.max_new_tokens, "pad_token_id": self.tokenizer.pad_token_id}
        if s.temperature and s.temperature > 0:
            gen.update(do_sample=True, temperature=s.temperature)
            if s.seed is not None:
                torch.manual_seed(s.seed)
        else:
            gen.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self._gen.generate(**inputs, **gen)
        seqs = out.sequences if hasattr(out, "sequences") else out
        n_in = inputs["input_ids"].shape[1]
        prompt_tokens = (
            inputs["attention_mask"].sum(-1).tolist() if "attention_mask" in inputs else [n_in] * len(reqs)
        )
        elapsed = time.perf_counter() - t
        responses = []
        for row, pt in zip(seqs[:, n_in:].tolist(), prompt_tokens, strict=True):
            end = next((i for i, tok in enumerate(row) if tok in self._eos), None)
            if end is None:
                tokens, finish = row, ("length" if len(row) >= s.max_new_tokens else "stop")
            else:
                tokens, finish = row[:end], "stop"
            text = self.tokenizer.decode(tokens, skip_special_tokens=True).strip()
            responses.append(
                Response(text, finish, int(pt), len(tokens) + (end is not None), seconds=elapsed / len(reqs))
            )
        return responses

    def generate(self, requests: list[Request]) -> Iterator[tuple[int, Response]]:
        """Batches of up to ``batch_size`` requests that share settings and kind (audio or text)."""
        order = sorted(range(len(requests)), key=lambda i: self._group(requests[i]))
        for _, grp in groupby(order, key=lambda i: self._group(requests[i])):
            idx = list(grp)
            for k in range(0, len(idx), self.batch_size):
                part = idx[k : k + self.batch_size]
                yield from zip(part, self._batch([requests[i] for i in part]), strict=True)

    @staticmethod
    def _group(r: Request) -> tuple:
        return (r.audio is None, r.settings.key())
