"""Tiny randomly-initialised audio LLMs of real architectures, built from configs, saved like a Hub repo.

Nothing is downloaded: the tokenizer is trained here with ``tokenizers`` on a small corpus, the
feature extractor is Whisper's, the chat template is the processor's own (Qwen2-Audio) or a ChatML
template in the style of the released one (Audio Flamingo 3). Outputs of such models are random
text: tests use them to check the machinery (shapes, batching, windows, coverage), never the words.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "transcribe the audio and answer in clear sentences",
    "system user assistant summary decisions action items owner",
    "hello world this is a test of a tiny model with random weights",
    "and so we said that the meeting will be next week on monday",
] * 20

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"]
AF3_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<sound>"]

AF3_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'audio' %}<sound>{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}"
    "{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _tokenizer(specials: list[str], vocab: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="left"
    )


def _text_config(tokenizer, hidden: int, layers: int) -> dict:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden,
        "intermediate_size": hidden * 2,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": tokenizer.pad_token_id,
    }


def _encoder_config(hidden: int, layers: int) -> dict:
    return {
        "num_mel_bins": 128,
        "d_model": hidden,
        "encoder_layers": layers,
        "encoder_attention_heads": 4,
        "encoder_ffn_dim": hidden * 2,
        "max_source_positions": 1500,
    }


def _finish(model, processor, tokenizer, out: Path) -> Path:
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.do_sample = False
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def qwen2_audio(
    hidden: int = 64,
    layers: int = 2,
    seed: int = 0,
    *,
    text: dict | None = None,
    audio: dict | None = None,
    device=None,
    dtype=None,
):
    """(model, processor): a Qwen2AudioForConditionalGeneration with random weights and the processor's own
    chat template. ``text``/``audio`` override config fields (the benchmarks use full-size shapes)."""
    import torch
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    tokenizer = _tokenizer(QWEN_SPECIALS)
    fe = WhisperFeatureExtractor(feature_size=128)
    processor = Qwen2AudioProcessor(feature_extractor=fe, tokenizer=tokenizer)
    config = Qwen2AudioConfig(
        audio_config={**_encoder_config(hidden, layers), **(audio or {})},
        text_config={"model_type": "qwen2", **_text_config(tokenizer, hidden, layers), **(text or {})},
        audio_token_index=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
    )
    torch.manual_seed(seed)
    with torch.device(device or "cpu"):
        model = Qwen2AudioForConditionalGeneration(config)
    if dtype is not None:
        model = model.to(dtype)
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), processor


def build_qwen2_audio(out: str | Path, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    model, processor = qwen2_audio(hidden, layers, seed)
    return _finish(model, processor, processor.tokenizer, Path(out))


def build_audioflamingo3(out: str | Path, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """An AudioFlamingo3ForConditionalGeneration with random weights and a ChatML template with <sound>."""
    import torch
    from transformers import (
        AudioFlamingo3Config,
        AudioFlamingo3ForConditionalGeneration,
        AudioFlamingo3Processor,
        WhisperFeatureExtractor,
    )

    out = Path(out)
    tokenizer = _tokenizer(AF3_SPECIALS)
    fe = WhisperFeatureExtractor(feature_size=128)
    processor = AudioFlamingo3Processor(feature_extractor=fe, tokenizer=tokenizer, chat_template=AF3_TEMPLATE)
    config = AudioFlamingo3Config(
        audio_config=_encoder_config(hidden, layers),
        text_config={"model_type": "qwen2", **_text_config(tokenizer, hidden, layers)},
        audio_token_id=tokenizer.convert_tokens_to_ids("<sound>"),
    )
    torch.manual_seed(seed)
    model = AudioFlamingo3ForConditionalGeneration(config).eval()
    return _finish(model, processor, tokenizer, out)


BUILDERS = {"qwen2-audio": build_qwen2_audio, "audio-flamingo-3": build_audioflamingo3}
