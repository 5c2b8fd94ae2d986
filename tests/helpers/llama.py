"""Test helpers for a real llama.cpp ``llama-server``.

Three pieces, each usable on its own:

* :func:`server_binary` -- the ``llama-server`` built by ``scripts/build_llama_server.sh`` (cached under
  ``${AUDIOMM_LLAMA_CACHE:-~/.cache/audiomm/llama-cpp-VERSION}``; built on first use, ~7-10 min on 2 cores).
* :func:`convert` -- a tiny model saved by ``tests/helpers/tinymodels.py`` -> ``(text.gguf, mmproj.gguf)`` with llama.cpp's own
  ``convert_hf_to_gguf.py`` (run as a subprocess), cached by a hash of the model directory's contents.
* :class:`LlamaServer` -- a context manager that runs ``llama-server`` on ``127.0.0.1:<free port>`` and always stops it.

Session fixture example (in ``conftest.py``)::

    from tests.helpers.llama import LlamaServer, build_tiny, convert

    @pytest.fixture(scope="session")
    def llama_qwen2_audio(tmp_path_factory):
        model_dir = build_tiny("qwen2-audio", tmp_path_factory.mktemp("tiny") / "qwen2-audio")
        gguf, mmproj = convert(model_dir, gguf_cache_dir())
        with LlamaServer(gguf, mmproj, ctx=4096, parallel=2) as server:
            yield server          # server.url == "http://127.0.0.1:PORT/v1"

Requirements for conversion: ``torch``, ``transformers``, ``numpy``, ``safetensors`` (already project deps) and
``sentencepiece`` (the converter imports it before falling back to the BPE tokenizer path, even when the model
has no ``tokenizer.model``). Nothing here talks to anything but 127.0.0.1 and local files.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
BUILD_SCRIPT = Path("scripts") / "build_llama_server.sh"

# bump when the conversion recipe below changes, so cached GGUFs are rebuilt
_CONVERT_RECIPE = "1"

# A tiny Qwen2-Audio / AF3 needs >= 3 audio encoder layers: the converter maps "audio_tower.conv{bid}" through the
# per-block tensor map, so conv2 only exists when the encoder has at least 3 blocks.
MIN_ENCODER_LAYERS = 3


# --------------------------------------------------------------------------------------------------------------------
# binary


def cache_root() -> Path:
    """Where the build script caches ``bin/llama-server`` and ``src/`` (same rule as the script)."""
    version = os.environ.get("LLAMA_CPP_PYTHON_VERSION", LLAMA_CPP_PYTHON_VERSION)
    default = Path.home() / ".cache" / "audiomm" / f"llama-cpp-{version}"
    return Path(os.environ.get("AUDIOMM_LLAMA_CACHE") or default)


def _is_built(root: Path) -> bool:
    exe = root / "bin" / "llama-server"
    return exe.is_file() and os.access(exe, os.X_OK) and (root / "src" / "convert_hf_to_gguf.py").is_file()


def find_build_script(start: Path | None = None) -> Path:
    """``scripts/build_llama_server.sh`` in the first parent of ``start`` (default: this file) that has it."""
    here = Path(start or __file__).resolve()
    for parent in [here, *here.parents]:
        candidate = parent / BUILD_SCRIPT
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{BUILD_SCRIPT} not found above {here}; pass script=")


def llama_root(script: Path | str | None = None, *, build: bool = True, timeout: float = 3600) -> Path:
    """The cache root holding ``bin/llama-server`` and ``src/`` (the llama.cpp tree with the converter).

    Builds with the recipe script when missing (unless ``build=False``: then FileNotFoundError). A file lock next to
    the cache serialises concurrent builds (pytest-xdist workers, parallel CI jobs on one runner)."""
    root = cache_root()
    if _is_built(root):
        return root
    if not build:
        raise FileNotFoundError(f"llama-server is not built in {root} (run {BUILD_SCRIPT})")
    script = Path(script) if script else find_build_script()
    root.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(root.parent / f".{root.name}.lock"):
        if _is_built(root):  # another process built it while we waited
            return root
        env = {**os.environ, "PYTHON": os.environ.get("PYTHON", sys.executable)}
        started = time.monotonic()
        proc = subprocess.run(
            ["bash", str(script)], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or "").splitlines()[-40:])
            raise RuntimeError(
                f"{script} failed (rc={proc.returncode}) after {time.monotonic() - started:.0f}s:\n{tail}"
            )
        printed = (proc.stdout or "").strip().splitlines()
        built = Path(printed[-1]) if printed else root
        if not _is_built(built):
            raise RuntimeError(f"{script} succeeded but {built}/bin/llama-server is missing")
        return built


def server_binary(script: Path | str | None = None, *, build: bool = True, timeout: float = 3600) -> Path:
    """Path of the cached ``llama-server``, building it with ``scripts/build_llama_server.sh`` if missing."""
    return llama_root(script, build=build, timeout=timeout) / "bin" / "llama-server"


@contextlib.contextmanager
def _file_lock(path: Path):
    import fcntl

    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------------------------------
# tiny models


def build_tiny(
    arch: str, out: Path | str, *, hidden: int = 64, layers: int = MIN_ENCODER_LAYERS, seed: int = 0
) -> Path:
    """A tiny random model from ``tests/tinymodels.py`` that the converter accepts (``layers`` >= 3).

    ``arch`` is a key of ``tinymodels.BUILDERS`` ("qwen2-audio", "audio-flamingo-3"). Deterministic for a given torch
    and tokenizers version, so :func:`convert`'s content-hash cache hits across sessions."""
    from tests.helpers import tinymodels

    if layers < MIN_ENCODER_LAYERS:
        raise ValueError(
            f"llama.cpp's converter needs >= {MIN_ENCODER_LAYERS} audio encoder layers, got {layers}"
        )
    out = Path(out)
    if (out / "config.json").is_file():
        return out
    return tinymodels.BUILDERS[arch](out, hidden=hidden, layers=layers, seed=seed)


# --------------------------------------------------------------------------------------------------------------------
# conversion

# Runs llama.cpp's convert_hf_to_gguf.py unchanged (as __main__), with one addition: a locally trained byte-level
# BPE tokenizer has a vocabulary no released model has, so its pre-tokenizer fingerprint (a hash of token ids) is
# unknown to the converter, which then refuses. When that happens, and only when the tokenizer's pre-tokenization is
# exactly GPT-2's (no normaliser, a lone ByteLevel pre-tokenizer with GPT-2's regex and no prefix space, BPE model),
# the name "gpt-2" is reported -- which is what the converter would write for GPT-2 itself.
_CONVERTER_BOOTSTRAP = r"""
import json, runpy, sys
src, argv = sys.argv[1], sys.argv[2:]
sys.path.insert(0, src)
sys.path.insert(1, src + "/gguf-py")
import conversion.base as base

_known = base.TextModel.get_vocab_base_pre

def _pre_tokenizer_is_gpt2(tokenizer):
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    spec = json.loads(backend.to_str())
    pre = spec.get("pre_tokenizer") or {}
    return (
        spec.get("normalizer") is None
        and (spec.get("model") or {}).get("type") == "BPE"
        and pre.get("type") == "ByteLevel"
        and pre.get("use_regex", True) is True
        and pre.get("add_prefix_space", False) is False
    )

def get_vocab_base_pre(self, tokenizer):
    try:
        return _known(self, tokenizer)
    except NotImplementedError:
        if _pre_tokenizer_is_gpt2(tokenizer):
            base.logger.info("pre-tokenizer hash unknown; tokenizer is byte-level BPE with GPT-2 pre-tokenization -> 'gpt-2'")
            return "gpt-2"
        raise

base.TextModel.get_vocab_base_pre = get_vocab_base_pre
script = src + "/convert_hf_to_gguf.py"
sys.argv = [script, *argv]
runpy.run_path(script, run_name="__main__")
"""


def _hash_dir(model_dir: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(model_dir)).encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def _check_convertible(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    audio = config.get("audio_config") or {}
    layers = audio.get("encoder_layers", audio.get("num_hidden_layers"))
    if layers is not None and layers < MIN_ENCODER_LAYERS:
        raise ValueError(
            f"{model_dir}: audio encoder has {layers} layers; llama.cpp's converter needs >= {MIN_ENCODER_LAYERS} "
            "(it cannot map audio_tower.conv2.* otherwise). Build with layers=3 (see build_tiny)."
        )
    try:
        import sentencepiece  # noqa: F401
    except ImportError as e:  # the converter imports it before falling back to the BPE path
        raise RuntimeError(
            "llama.cpp's converter needs `sentencepiece` installed (pip install sentencepiece)"
        ) from e


def convert(
    model_dir: Path | str,
    out_dir: Path | str,
    *,
    outtype: str = "f32",
    python: str | None = None,
    timeout: float = 900,
) -> tuple[Path, Path]:
    """``(text_gguf, mmproj_gguf)`` for a model dir saved by tinymodels (Qwen2-Audio, Audio Flamingo 3).

    Results live in ``out_dir/<sha256 of model dir contents + recipe>/{model,mmproj}.gguf``; an existing entry is
    returned without converting, so ``out_dir`` should be a persistent cache (e.g. ``~/.cache/audiomm/gguf`` or
    pytest's ``config.cache.mkdir("llama-gguf")``). Writes go to a temp dir renamed into place (safe for parallel
    sessions). Two converter runs (~3-5 s each for a tiny model on 2 cores)."""
    model_dir, out_dir = Path(model_dir).resolve(), Path(out_dir)
    src = llama_root() / "src"
    script = src / "convert_hf_to_gguf.py"
    key = hashlib.sha256(
        "\0".join(
            [_hash_dir(model_dir), hashlib.sha256(script.read_bytes()).hexdigest(), outtype, _CONVERT_RECIPE]
        ).encode()
    ).hexdigest()[:24]
    final = out_dir / key
    text, mmproj = final / "model.gguf", final / "mmproj.gguf"
    if text.is_file() and mmproj.is_file():
        return text, mmproj

    _check_convertible(model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=out_dir))
    try:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "NO_LOCAL_GGUF": "1"}
        log = []
        for extra, target in (([], work / "model.gguf"), (["--mmproj"], work / "mmproj.gguf")):
            args = [str(model_dir), "--outfile", str(target), "--outtype", outtype, *extra]
            cmd = [python or sys.executable, "-c", _CONVERTER_BOOTSTRAP, str(src), *args]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
            log.append(f"$ {' '.join(cmd[3:])}\n{proc.stdout}{proc.stderr}")
            if proc.returncode != 0 or not target.is_file():
                tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
                raise RuntimeError(f"GGUF conversion failed (rc={proc.returncode}) for {model_dir}:\n{tail}")
        (work / "convert.log").write_text("\n".join(log))
        (work / "source.json").write_text(json.dumps({"model_dir": str(model_dir), "outtype": outtype}))
        os.chmod(work, 0o755)  # mkdtemp makes it 0700
        try:
            os.replace(work, final)  # atomic; fails if another process already put an entry there
        except OSError:
            if not (text.is_file() and mmproj.is_file()):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return text, mmproj


# --------------------------------------------------------------------------------------------------------------------
# server


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


_LIVE: set[subprocess.Popen] = set()


@atexit.register
def _stop_leftovers() -> None:
    """A safety net for a process never stopped (an interpreter killed mid-fixture)."""
    for proc in list(_LIVE):
        with contextlib.suppress(Exception):
            proc.kill()
            proc.wait(timeout=5)


class LlamaServerError(RuntimeError):
    pass


class LlamaServer:
    """``llama-server -m GGUF --mmproj MMPROJ`` on 127.0.0.1, as a context manager.

    ``url`` is the OpenAI base URL (``http://127.0.0.1:PORT/v1``), ``root`` the server root (``/health``,
    ``/props``, ``/slots``...). The server's stdout+stderr go to ``log_path`` (a temp file unless given);
    ``log_tail()`` returns its last lines. Startup waits for ``GET /health`` == 200 and raises
    :class:`LlamaServerError` with the log tail on timeout or early exit. The process is stopped on exit from the
    ``with`` block whatever happens inside it (SIGTERM, then SIGKILL after ``stop_timeout``)."""

    def __init__(
        self,
        model: Path | str,
        mmproj: Path | str | None = None,
        *,
        ctx: int = 4096,
        parallel: int | None = None,
        threads: int = 2,
        port: int | None = None,
        alias: str | None = None,
        extra_args: list[str] | tuple[str, ...] = (),
        binary: Path | str | None = None,
        startup_timeout: float = 120,
        stop_timeout: float = 10,
        log_path: Path | str | None = None,
    ):
        self.model, self.mmproj = Path(model), Path(mmproj) if mmproj else None
        self.ctx, self.parallel, self.threads, self.alias = ctx, parallel, threads, alias
        self.extra_args = list(extra_args)
        self.binary = Path(binary) if binary else None
        self.startup_timeout, self.stop_timeout = startup_timeout, stop_timeout
        self._fixed_port = port
        self.port: int | None = None
        self.log_path = Path(log_path) if log_path else None
        self.proc: subprocess.Popen | None = None
        self.startup_s: float | None = None

    # ---- addresses
    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.root}/v1"

    # ---- lifecycle
    def command(self, port: int) -> list[str]:
        flags = {
            "-m": self.model,
            "--host": "127.0.0.1",
            "--port": port,
            "-c": self.ctx,
            "-t": self.threads,
            "-tb": self.threads,
            "--threads-http": max(2, (self.parallel or 1) + 1),
            "--log-colors": "off",
        }
        cmd = [str(self.binary or server_binary()), *(str(x) for kv in flags.items() for x in kv)]
        cmd += ["--no-webui", "--offline"]  # nothing to serve or fetch; never the network
        if self.mmproj:
            cmd += ["--mmproj", str(self.mmproj)]
        if self.parallel:
            cmd += ["--parallel", str(self.parallel)]
        if self.alias:
            cmd += ["--alias", self.alias]
        return cmd + self.extra_args

    def start(self) -> LlamaServer:
        if self.proc is not None:
            raise LlamaServerError("already started")
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            port = self._fixed_port or free_port()
            self._spawn(port)
            try:
                self._wait_ready()
                return self
            except LlamaServerError:
                bind_failed = (
                    "couldn't bind" in self.log_text().lower()
                    or "address already in use" in self.log_text().lower()
                )
                self.stop()
                if not bind_failed or attempt == attempts - 1:
                    raise
        return self  # pragma: no cover

    def _spawn(self, port: int) -> None:
        self.port = port
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLAMA_ARG_")}  # only our flags count
        env.pop("HF_TOKEN", None)
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(self.command(port))}\n".encode())
            log.flush()
            # a new session: Ctrl-C in the terminal reaches pytest, which then stops the server cleanly
            out = {"stdin": subprocess.DEVNULL, "stdout": log, "stderr": subprocess.STDOUT}
            self.proc = subprocess.Popen(self.command(port), env=env, start_new_session=True, **out)
        _LIVE.add(self.proc)

    def _wait_ready(self) -> None:
        started = time.monotonic()
        deadline = started + self.startup_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LlamaServerError(
                    f"llama-server exited with rc={self.proc.returncode} before it was ready\n{self.log_tail()}"
                )
            try:
                status, body = http_get(f"{self.root}/health", timeout=2)
                if status == 200:
                    self.startup_s = time.monotonic() - started
                    return
                last = f"HTTP {status}: {body[:200]!r}"
            except OSError as e:  # refused while binding, reset, timeout
                last = repr(e)
            time.sleep(0.1)
        raise LlamaServerError(
            f"llama-server not healthy after {self.startup_timeout:.0f}s (last /health: {last})\n{self.log_tail()}"
        )

    def stop(self) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        finally:
            _LIVE.discard(proc)
        return proc.returncode

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def restart(self) -> LlamaServer:
        """Stop (if needed) and start again, on a new port unless one was fixed. For a session fixture after a test
        crashed the server (e.g. a 1-sample WAV aborts llama-server 0.3.36 with GGML_ASSERT)."""
        self.stop()
        return self.start()

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- logs
    def log_text(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")
        except (OSError, TypeError):
            return ""

    def log_tail(self, n: int = 40) -> str:
        lines = deque(self.log_text().splitlines(), maxlen=n)
        return f"--- last {len(lines)} lines of {self.log_path} ---\n" + "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------------
# tiny HTTP helpers (stdlib, never through a proxy: everything is 127.0.0.1)

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 30) -> tuple[int, str]:
    return _request(urllib.request.Request(url, method="GET"), timeout)


def http_post_json(url: str, payload: dict, timeout: float = 300) -> tuple[int, str]:
    data = json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    return _request(req, timeout)


def _request(req: urllib.request.Request, timeout: float) -> tuple[int, str]:
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
