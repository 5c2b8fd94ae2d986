"""The knowledge base against the code users run: every series whose processor the installed transformers ships
is built from its defaults (no Hub access; a stub tokenizer), fed 1 s to several minutes of silence, and its audio
token rate, where it cuts and what it does with long audio (truncate | split | none) are read off the code's own
counts. So the data cannot drift from the code."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from audiomm import knowledge
from audiomm.knowledge import find

pytest.importorskip("transformers")
pytest.importorskip("torch")

SECONDS = (1, 10, 30, 45, 300)  # the last one: several minutes
SR = 16000


def silence(seconds: float, sr: int = SR) -> np.ndarray:
    return np.zeros(int(seconds * sr), dtype=np.float32)


def stub_tokenizer(*tokens: str, **named: str):
    """A word-level tokenizer that knows only ``tokens`` and ``named``'s values, one id each, with ``named`` as
    its attributes (``audio_token=...``), as a processor reads them."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = list(dict.fromkeys((*tokens, *named.values())))
    vocab = {"[UNK]": 0, "[PAD]": 1, **{t: i + 2 for i, t in enumerate(specials)}}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", extra_special_tokens=named
    )
    tok.add_special_tokens({"additional_special_tokens": specials})
    return tok


def placeholders(processor, token: str, seconds: float, sr: int = SR, **kwargs) -> tuple[int, object]:
    """How many ``token`` the processor writes for ``seconds`` of audio, and its output."""
    out = processor(text=[f"{token} hi"], audio=[silence(seconds, sr)], **kwargs)
    ids = np.asarray(out["input_ids"][0])
    return int((ids == processor.tokenizer.convert_tokens_to_ids(token)).sum()), out


def windowed(run: Callable[[float], tuple[int, object]], longest: float) -> Probe:
    """A processor that splits audio into windows (``input_features`` rows): each length is run once."""
    runs: dict[float, tuple[int, object]] = {}

    def once(seconds: float) -> tuple[int, object]:
        if seconds not in runs:
            runs[seconds] = run(seconds)
        return runs[seconds]

    return Probe(lambda s: once(s)[0], lambda s: int(once(s)[1]["input_features"].shape[0]), longest=longest)


@dataclass(frozen=True)
class Probe:
    """One series' processor: audio tokens (and encoder pieces) for a length of audio."""

    tokens: Callable[[float], float]
    pieces: Callable[[float], int] = lambda seconds: 1
    longest: float = 300  # past any cut the processor makes
    whole_pieces: bool = False  # the audio is padded to whole 30 s pieces
    rate: float | None = None  # the code's own per-second arithmetic, where the count does not show it


@dataclass(frozen=True)
class Measured:
    rate: float
    limit_s: float | None
    processor: str


def measure(probe: Probe) -> Measured:
    """The token rate (at 30 s), the cut (what the longest audio keeps) and the kind, checked at every length."""
    counts = {s: probe.tokens(s) for s in (*SECONDS, probe.longest)}
    rate = probe.rate or counts[30] / 30
    kept = counts[probe.longest] / rate
    limit = float(round(kept)) if kept < probe.longest - 5 else None  # the longest audio lost more than 5 s
    split = probe.pieces(45) > 1
    kind = "split" if split else ("truncate" if limit else "none")
    for seconds, n in counts.items():  # the same rate at every length, up to the cut
        span = min(seconds, limit or seconds)
        span = 30 * math.ceil(span / 30) if probe.whole_pieces else span
        assert abs(n - rate * span) <= 2 + 0.02 * rate * span, (seconds, n, rate * span)
    return Measured(rate, limit, kind)


# --------------------------------------------------------------------------- the processors


def whisper(**kwargs):
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=128, **kwargs)


def qwen2_audio() -> Probe:
    from transformers import Qwen2AudioProcessor

    tok = stub_tokenizer("<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>")
    p = Qwen2AudioProcessor(feature_extractor=whisper(), tokenizer=tok)
    return Probe(lambda s: placeholders(p, "<|AUDIO|>", s)[0])


QWEN_OMNI = ("image", "audio", "video", "vision_bos", "vision_eos", "audio_bos", "audio_eos")


def qwen_omni_tokenizer(names: tuple[str, ...]):
    return stub_tokenizer(**{f"{k}_token": v for k, v in zip(QWEN_OMNI, names, strict=True)})


def qwen2_5_omni() -> Probe:
    """With the checkpoint's preprocessor config: Qwen/Qwen2.5-Omni-7B sets chunk_length 300 (30 by default)."""
    from transformers import Qwen2_5OmniProcessor, Qwen2VLImageProcessorPil

    names = ("<|IMAGE|>", "<|AUDIO|>", "<|VIDEO|>", "<|vision_bos|>", "<|vision_eos|>")
    tok = qwen_omni_tokenizer((*names, "<|audio_bos|>", "<|audio_eos|>"))
    fe = whisper(chunk_length=300)
    p = Qwen2_5OmniProcessor(Qwen2VLImageProcessorPil(), None, fe, tok)
    return Probe(lambda s: placeholders(p, "<|AUDIO|>", s)[0], longest=330)


def qwen3_omni() -> Probe:
    from transformers import Qwen2VLImageProcessorPil, Qwen3OmniMoeProcessor

    names = ("<|image_pad|>", "<|audio_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
    tok = qwen_omni_tokenizer((*names, "<|audio_start|>", "<|audio_end|>"))
    p = Qwen3OmniMoeProcessor(
        image_processor=Qwen2VLImageProcessorPil(),
        video_processor=None,
        feature_extractor=whisper(),
        tokenizer=tok,
    )
    return Probe(lambda s: placeholders(p, "<|audio_pad|>", s)[0])


def qwen3_asr() -> Probe:
    from transformers import Qwen3ASRProcessor
    from transformers.models.qwen3_asr.feature_extraction_qwen3_asr import Qwen3ASRFeatureExtractor

    names = {"audio_token": "<|audio_pad|>", "audio_bos_token": "<|audio_start|>"}
    tok = stub_tokenizer(**names, audio_eos_token="<|audio_end|>")
    p = Qwen3ASRProcessor(Qwen3ASRFeatureExtractor(), tok)
    return Probe(lambda s: placeholders(p, "<|audio_pad|>", s)[0])


GEMMA = {"image_token": "<image>", "boi_token": "<boi>", "eoi_token": "<eoi>"}
GEMMA_AUDIO = {"audio_token": "<audio>", "boa_token": "<boa>", "eoa_token": "<eoa>"}


def gemma_4() -> Probe:
    from transformers.models.gemma4.feature_extraction_gemma4 import Gemma4AudioFeatureExtractor
    from transformers.models.gemma4.image_processing_pil_gemma4 import Gemma4ImageProcessorPil
    from transformers.models.gemma4.processing_gemma4 import Gemma4Processor

    tok = stub_tokenizer(**GEMMA, **GEMMA_AUDIO)
    p = Gemma4Processor(Gemma4AudioFeatureExtractor(), Gemma4ImageProcessorPil(), tok, None)
    return Probe(lambda s: placeholders(p, "<audio>", s)[0])


def gemma_4_unified() -> Probe:
    from transformers.models.gemma4.image_processing_pil_gemma4 import Gemma4ImageProcessorPil
    from transformers.models.gemma4_unified.feature_extraction_gemma4_unified import (
        Gemma4UnifiedAudioFeatureExtractor,
    )
    from transformers.models.gemma4_unified.processing_gemma4_unified import Gemma4UnifiedProcessor

    tok = stub_tokenizer(**GEMMA, **GEMMA_AUDIO)
    p = Gemma4UnifiedProcessor(Gemma4UnifiedAudioFeatureExtractor(), Gemma4ImageProcessorPil(), tok, None)
    return Probe(lambda s: placeholders(p, "<audio>", s)[0])


def gemma_3n_rate() -> float:
    """Mel frames per second, over the SSCP convolutions' time strides and the conformer's reduction factor."""
    from transformers import Gemma3nAudioConfig, Gemma3nAudioFeatureExtractor

    fe, cfg = Gemma3nAudioFeatureExtractor(), Gemma3nAudioConfig()
    strides = math.prod(s[0] for s in cfg.sscp_conv_stride_size)
    return fe.sampling_rate / fe.hop_length / strides / cfg.conf_reduction_factor


def gemma_3n() -> Probe:
    """The encoder's own tokens: the mel frames the feature extractor keeps, at the encoder's rate (the prompt
    always carries 188 placeholders: see the test below)."""
    from transformers import Gemma3nAudioFeatureExtractor

    fe, rate = Gemma3nAudioFeatureExtractor(), gemma_3n_rate()
    per_frame = rate * fe.hop_length / fe.sampling_rate

    def tokens(seconds: float) -> float:
        return float(np.asarray(fe([silence(seconds)])["input_features_mask"]).sum()) * per_frame

    return Probe(tokens, rate=rate)


def flamingo(cls_name: str) -> Probe:
    """Audio Flamingo 3 and Music Flamingo: 30 s windows up to max_audio_len, then a cut."""
    import transformers

    tok = stub_tokenizer("<sound>", "<|sound_bos|>", "<|sound_eos|>")
    p = getattr(transformers, cls_name)(feature_extractor=whisper(), tokenizer=tok)
    return windowed(lambda s: placeholders(p, "<sound>", s), longest=p.max_audio_len + 30)


def vibevoice_asr() -> Probe:
    from transformers.models.vibevoice_acoustic_tokenizer.feature_extraction_vibevoice_acoustic_tokenizer import (
        VibeVoiceAcousticTokenizerFeatureExtractor,
    )
    from transformers.models.vibevoice_asr.processing_vibevoice_asr import VibeVoiceAsrProcessor

    names = ("<|box_start|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|AUDIO_DURATION|>")
    p = VibeVoiceAsrProcessor(VibeVoiceAcousticTokenizerFeatureExtractor(), stub_tokenizer(*names))
    sr = VibeVoiceAsrProcessor.audio_kwargs["sampling_rate"]
    return Probe(lambda s: placeholders(p, "<|box_start|>", s, sr=sr)[0])


def voxtral() -> Probe:
    """The processor's own 30 s pieces; tokens per piece: the encoder's positions over the frames the model's
    get_audio_features folds into one token (intermediate_size / hidden_size)."""
    from transformers import VoxtralEncoderConfig, VoxtralProcessor

    kwargs = dict(VoxtralProcessor.audio_kwargs)
    positions = kwargs.pop("max_source_positions")
    enc = VoxtralEncoderConfig()
    per_piece = enc.max_source_positions // (enc.intermediate_size // enc.hidden_size)
    owner = SimpleNamespace(feature_extractor=whisper())

    def pieces(seconds: float) -> int:
        feats = VoxtralProcessor._retrieve_input_features(owner, [silence(seconds)], positions, **kwargs)
        return int(feats.shape[0])

    return Probe(lambda s: pieces(s) * per_piece, pieces, whole_pieces=True)


def granite_speech() -> Probe:
    """The feature extractor's own token count (its mel filter needs torchaudio, the count does not)."""
    from transformers.models.granite_speech.feature_extraction_granite_speech import (
        GraniteSpeechFeatureExtractor,
    )

    params = inspect.signature(GraniteSpeechFeatureExtractor.__init__).parameters
    d = {k: v.default for k, v in params.items()}
    owner = SimpleNamespace(
        melspec_kwargs={"hop_length": d["hop_length"]},
        projector_window_size=d["projector_window_size"],
        projector_downsample_rate=d["projector_downsample_rate"],
    )
    count = GraniteSpeechFeatureExtractor._get_num_audio_features
    return Probe(lambda s: count(owner, [int(s * d["sampling_rate"])])[0])


def moss_transcribe_diarize() -> Probe:
    """Placeholders only: the time markers (a number every 2 s) are text and are turned off here."""
    from transformers.models.moss_transcribe_diarize.feature_extraction_moss_transcribe_diarize import (
        MossTranscribeDiarizeFeatureExtractor,
    )
    from transformers.models.moss_transcribe_diarize.processing_moss_transcribe_diarize import (
        MossTranscribeDiarizeProcessor,
    )

    tok = stub_tokenizer("<|audio_pad|>", "<|audio_start|>", "<|audio_end|>")
    p = MossTranscribeDiarizeProcessor(
        MossTranscribeDiarizeFeatureExtractor(), tok, time_marker_every_seconds=0
    )
    return windowed(lambda s: placeholders(p, "<|audio_pad|>", s, return_tensors="pt"), longest=300)


def phi_4_multimodal() -> Probe:
    from transformers import Phi4MultimodalFeatureExtractor

    fe = Phi4MultimodalFeatureExtractor()
    return Probe(lambda s: int(fe([silence(s)], sampling_rate=SR)["audio_embed_sizes"][0]))


PROBES: dict[str, Callable[[], Probe]] = {
    "qwen2-audio": qwen2_audio,
    "qwen2.5-omni": qwen2_5_omni,
    "qwen3-omni": qwen3_omni,
    "qwen3-asr": qwen3_asr,
    "gemma-4": gemma_4,
    "gemma-4-unified": gemma_4_unified,
    "gemma-3n": gemma_3n,
    "audio-flamingo-3": lambda: flamingo("AudioFlamingo3Processor"),
    "audio-flamingo-next": lambda: flamingo("MusicFlamingoProcessor"),
    "vibevoice-asr": vibevoice_asr,
    "voxtral": voxtral,
    "granite-speech": granite_speech,
    "moss-transcribe-diarize": moss_transcribe_diarize,
    "phi-4-multimodal": phi_4_multimodal,
}


@pytest.fixture(autouse=True)
def _no_video_processor_check(monkeypatch):
    """Processors that also take video check their (here absent) video processor's class, which needs
    torchvision; the audio path does not."""
    from transformers.processing_utils import ProcessorMixin

    monkeypatch.setattr(ProcessorMixin, "check_argument_for_proper_class", lambda self, name, arg: None)


def series(sid: str):
    return next(s for s in knowledge.series() if s.id == sid)


@pytest.mark.parametrize("sid", PROBES)
def test_the_data_is_what_the_processor_does(sid):
    """Token rate, cut and kind of processor as the knowledge base states them."""
    measured = measure(PROBES[sid]())
    spec = series(sid).spec()
    assert spec.audio_tokens_per_s == pytest.approx(measured.rate, rel=1e-3), sid
    assert (spec.processor, spec.processor_limit_s) == (measured.processor, measured.limit_s), sid


def test_every_series_transformers_ships_is_probed():
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    shipped = {s.id for s in knowledge.series() if set(s.model_types) & set(CONFIG_MAPPING_NAMES)}
    assert shipped == set(PROBES)


def test_gemma_3n_always_carries_188_audio_tokens():
    """Its quirk: 1 s and 5 min of audio cost the same 188 placeholders (short audio padded, long audio cut)."""
    from transformers import Gemma3nAudioFeatureExtractor, Gemma3nProcessor
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    tok = stub_tokenizer(**GEMMA, **GEMMA_AUDIO)
    p = Gemma3nProcessor(Gemma3nAudioFeatureExtractor(), SiglipImageProcessorPil(), tok)
    assert {placeholders(p, "<audio>", s)[0] for s in (1, 45, 300)} == {188}
    assert "188" in find("gemma-3n").get("quirks")
