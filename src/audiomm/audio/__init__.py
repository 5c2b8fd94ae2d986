"""Audio front end: decode any recording (streaming), detect speech, plan chunks that never drop audio."""

from audiomm.audio.analyze import Analysis, analyze
from audiomm.audio.chunking import Chunk, ChunkPlan, Coverage, check_chunk, plan_chunks, plan_fixed
from audiomm.audio.decode import AudioError, AudioInfo, probe, stream_audio

__all__ = [
    "Analysis",
    "AudioError",
    "AudioInfo",
    "Chunk",
    "check_chunk",
    "analyze",
    "ChunkPlan",
    "Coverage",
    "plan_chunks",
    "plan_fixed",
    "probe",
    "stream_audio",
]
