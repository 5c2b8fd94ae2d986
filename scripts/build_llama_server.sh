#!/usr/bin/env bash
# Build llama.cpp's llama-server (and keep its GGUF converter) from the llama.cpp source that the
# llama-cpp-python sdist on PyPI ships (vendor/llama.cpp). Cached outside the checkout:
#   ${AUDIOMM_LLAMA_CACHE:-~/.cache/audiomm/llama-cpp-VERSION}/{bin/llama-server,src/...}
# About 7-10 minutes on 2 cores the first time; later calls return at once.
set -euo pipefail
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
ROOT="${AUDIOMM_LLAMA_CACHE:-$HOME/.cache/audiomm/llama-cpp-$VERSION}"
PY="${PYTHON:-python3}"
if [ -x "$ROOT/bin/llama-server" ] && [ -f "$ROOT/src/convert_hf_to_gguf.py" ]; then
  echo "$ROOT"; exit 0
fi
mkdir -p "$ROOT"
work="$(mktemp -d "$ROOT/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$PY" -m pip download -q --no-binary :all: --no-deps "llama-cpp-python==$VERSION" -d "$work" >&2
tar -xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
src="$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)"
# GGML_NATIVE=ON crashes on this kind of CPU; the web UI would be downloaded unless both UI flags are off.
cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$work/build" --target llama-server -j "$(nproc)" >&2
mkdir -p "$work/out/bin"
cp "$work/build/bin/llama-server" "$work/out/bin/"
cp -r "$src" "$work/out/src"   # convert_hf_to_gguf.py and its gguf-py package
rm -rf "$ROOT/bin" "$ROOT/src"
mv "$work/out/bin" "$ROOT/bin"
mv "$work/out/src" "$ROOT/src"
echo "$ROOT"
