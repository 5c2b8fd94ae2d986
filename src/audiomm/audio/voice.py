"""Speaker embeddings: the GE2E voice encoder that the ``resemblyzer`` wheel ships (``pretrained.pt``).

A 3-layer LSTM (256 units) over 40-channel mel power frames (25 ms windows, 10 ms hop, 16 kHz), trained
with the generalized end-to-end loss (Wan et al. 2018) on speaker verification: the final hidden state
of the last layer, through a linear layer and a ReLU, L2-normalised, is a 256-float voice embedding.
The same speaker scores a high cosine similarity, different speakers a lower one.

Only the weight file is taken from the package: ``import resemblyzer`` pulls librosa and webrtcvad
(which imports ``pkg_resources``, gone from new setuptools) and is never done here. The mel
spectrogram is computed in numpy exactly as resemblyzer computes it with librosa (centred frames,
zero padding, periodic Hann window, Slaney mel filters, no log); a test checks the two agree.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from audiomm.errors import AudiommError

RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms: one frame per 10 ms
N_MELS = 40
EMBEDDING_SIZE = 256
TARGET_DBFS = -30.0  # quiet windows are raised to this loudness (never lowered), as resemblyzer does
INSTALL = "pip install 'audiomm[speakers]'"


def weights_path() -> Path:
    """``pretrained.pt`` inside the installed resemblyzer package, found without importing it."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise AudiommError(
            f"speaker diarization needs the resemblyzer package (its voice encoder): {INSTALL}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise AudiommError(f"{path}: the resemblyzer voice encoder weights are missing; reinstall: {INSTALL}")
    return path


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, np.float64)
    mel = f / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """(40, 201) triangular mel filters, Slaney-normalised (what ``librosa.filters.mel`` gives by default)."""
    fft_freqs = np.linspace(0, RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(RATE / 2), N_MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=1)
def _hann() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) mel power spectrogram of float32 16 kHz samples: one frame per 10 ms, centred."""
    padded = np.pad(np.asarray(wav, np.float32), N_FFT // 2)
    n = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:n]
    power = np.abs(np.fft.rfft(frames * _hann(), axis=1)) ** 2
    return (power.astype(np.float32) @ mel_filters().T).astype(np.float32)


def normalize_volume(wav: np.ndarray) -> np.ndarray:
    """Raise a quiet window to -30 dBFS (a loud one is kept as it is)."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if len(wav) else 0.0
    if rms <= 1e-6:
        return wav
    gain_db = TARGET_DBFS - 20 * np.log10(rms)
    return wav * np.float32(10 ** (gain_db / 20)) if gain_db > 0 else wav


class VoiceEncoder:
    """The GE2E LSTM with resemblyzer's pretrained weights, on torch (CPU): ``embed`` takes windows of
    audio and returns one L2-normalised 256-float embedding per window."""

    BATCH = 64  # windows per forward pass

    def __init__(self):
        try:
            import torch
        except ImportError:
            raise AudiommError(f"speaker diarization needs torch: {INSTALL}") from None
        self.torch = torch
        self.lstm = torch.nn.LSTM(N_MELS, 256, 3, batch_first=True)
        self.linear = torch.nn.Linear(256, EMBEDDING_SIZE)
        state = torch.load(weights_path(), map_location="cpu", weights_only=True)["model_state"]
        self.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        self.lstm.eval()
        self.linear.eval()

    def embed(self, windows: list[np.ndarray]) -> np.ndarray:
        """(len(windows), 2, 256) float32 embeddings: ``[:, 0]`` of each whole window, ``[:, 1]`` of its
        first half (the LSTM's state half-way through: no extra pass). Windows may differ in length."""
        out = np.zeros((len(windows), 2, EMBEDDING_SIZE), np.float32)
        torch = self.torch
        with torch.inference_mode():
            for k in range(0, len(windows), self.BATCH):
                mels = [
                    torch.from_numpy(mel_frames(normalize_volume(w))) for w in windows[k : k + self.BATCH]
                ]
                lengths = torch.tensor([len(m) for m in mels])
                x = torch.nn.utils.rnn.pad_sequence(mels, batch_first=True)
                packed = torch.nn.utils.rnn.pack_padded_sequence(
                    x, lengths, batch_first=True, enforce_sorted=False
                )
                states, _ = self.lstm(packed)
                states, _ = torch.nn.utils.rnn.pad_packed_sequence(states, batch_first=True)
                rows = torch.arange(len(mels))
                picked = torch.stack([states[rows, lengths - 1], states[rows, (lengths + 1) // 2 - 1]], dim=1)
                e = torch.relu(self.linear(picked)).numpy()
                out[k : k + len(mels)] = e / np.maximum(np.linalg.norm(e, axis=2, keepdims=True), 1e-9)
        return out
