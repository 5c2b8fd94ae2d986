"""Systems files (eval and serve): BackendConfig fields by name, run overrides, no keys in files."""

import pytest

from audiomm.errors import AudiommError
from audiomm.systems import load_systems


def write(tmp_path, text):
    f = tmp_path / "systems.toml"
    f.write_text(text)
    return f


def test_fields_and_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("HOST", "127.0.0.1:8000")
    f = write(
        tmp_path,
        '[[system]]\nname = "a"\nmodel = "m"\nbase_url = "http://${HOST}/v1"\nconcurrency = 2\n'
        'max_chunk_seconds = 20\napi_key_env = "K"\n\n'
        '[[system]]\nname = "b"\nbackend = "classic"\nmodel = "./whisper"\nllm = "x.gguf"\n',
    )
    a, b = load_systems(f)
    assert a.config.base_url == "http://127.0.0.1:8000/v1" and a.config.concurrency == 2
    assert a.options.max_chunk_seconds == 20 and a.config.timeout == 300.0  # the default, from BackendConfig
    public = a.public()
    assert public["api_key_env"] == "K" and public["max_chunk_seconds"] == 20 and public["concurrency"] == 2
    assert "api_key" not in public and public["timeout"] == 300.0
    assert b.config.model == str(tmp_path / "whisper") and b.config.llm.backend == "transformers"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '[[system]]\nname = "a"\nmodel = "m"\napi_key = "sk-x"\n',
            "api_key: Extra inputs are not permitted",
        ),
        ('[[system]]\nname = "../x"\nmodel = "m"\n', "name: Value error"),
        ('[[system]]\nname = "a"\nmodel = "m"\nconcurrency = 0\n', "--concurrency must be at least 1"),
        ('[[system]]\nname = "a"\nmodel = "m"\nbackend = "nope"\n', "unknown backend"),
        ('[[system]]\nname = "a"\nmodel = "m"\n[[system]]\nname = "a"\nmodel = "n"\n', "must be unique"),
        ('name = "a"\n', "no [[system]] tables"),
    ],
)
def test_bad_files(tmp_path, text, message):
    with pytest.raises(AudiommError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_systems(write(tmp_path, text))
