"""Inputs of a batch: directories (recursive), globs, CSV and JSONL manifests, and the stems outputs get."""

import json
from pathlib import Path, PurePosixPath

import pytest

from audiomm.batch.inputs import collect
from audiomm.errors import AudiommError


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "calls"
    for name in ("a.wav", "2024/b.mp3", "2024/jan/c.m4a", "2024/notes.txt", ".hidden/d.wav", "2024/.e.wav"):
        touch(root / name)
    return root


def stems(recordings) -> list[str]:
    return [r.key for r in recordings]


def test_a_directory_is_searched_recursively_for_audio(tree):
    found = collect([str(tree)])
    assert stems(found) == ["a", "2024/b", "2024/jan/c"]  # no text file, nothing hidden
    assert found[2].path == tree / "2024/jan/c.m4a" and found[2].stem == PurePosixPath("2024/jan/c")


def test_a_glob_keeps_the_tree_below_its_fixed_part(tree):
    assert stems(collect([f"{tree}/**/*.m*"])) == ["2024/b", "2024/jan/c"]
    assert stems(collect([f"{tree}/2024/*"])) == ["b"]  # folders and text files are not recordings
    with pytest.raises(AudiommError, match="matches no audio files"):
        collect([f"{tree}/*.flac"])


def test_a_file_alone_keeps_its_name(tree):
    assert stems(collect([str(tree / "2024/jan/c.m4a")])) == ["c"]


def test_csv_manifest_rows_set_system_preset_prompt_template_reference(tree, tmp_path):
    (tree / "t.md").write_text("# {title}")
    manifest = tree / "list.csv"
    manifest.write_text(
        "path,system,preset,prompt,template,reference\n"
        "a.wav,fast,,,,hello world\n"
        "2024/b.mp3,,meeting-summary,,t.md,\n"
        f'{tmp_path / "elsewhere.wav"},,,"Who speaks, and why?",,\n'
    )
    touch(tmp_path / "elsewhere.wav")
    a, b, c = collect([str(manifest)])
    assert (a.key, a.system, a.reference, a.preset) == ("a", "fast", "hello world", None)
    assert (b.key, b.preset, b.template) == ("2024/b", "meeting-summary", tree / "t.md")
    assert (c.key, c.prompt, c.path) == ("elsewhere", "Who speaks, and why?", tmp_path / "elsewhere.wav")


def test_jsonl_manifest(tree):
    manifest = tree / "list.jsonl"
    rows = [{"path": "a.wav", "preset": "transcript"}, {"path": "2024/jan/c.m4a", "reference": "x"}]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    found = collect([str(manifest)])
    assert stems(found) == ["a", "2024/jan/c"] and found[1].reference == "x"


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("m.csv", "file\na.wav\n", "must name the columns, path among them"),
        ("m.csv", "path,speaker\na.wav,x\n", "row 2: unknown column 'speaker'"),
        (
            "m.csv",
            "path,preset,prompt\na.wav,transcript,Say it\n",
            "row 2: give a preset or a prompt, not both",
        ),
        ("m.csv", "path,preset\n,transcript\n", "row 2: no path"),
        ("m.jsonl", '{"path": "a.wav"}\n{"path": 3}\n', "line 2: path must be text, not int"),
        ("m.jsonl", '{"path": "a.wav"}\n[1]\n', "line 2: not a JSON object"),
        ("m.jsonl", "{oops\n", "line 1: not JSON"),
    ],
)
def test_bad_manifests_are_one_line_naming_the_row(tree, name, text, message):
    (tree / name).write_text(text)
    with pytest.raises(AudiommError, match=message):
        collect([str(tree / name)])


def test_two_recordings_with_one_stem_and_no_recordings_are_errors(tree, tmp_path):
    touch(tree / "a.flac")
    with pytest.raises(AudiommError, match=r"would both write a\.\*"):
        collect([str(tree)])
    (tmp_path / "empty").mkdir()
    with pytest.raises(AudiommError, match="no recordings found"):
        collect([str(tmp_path / "empty")])
    with pytest.raises(AudiommError, match="no such file, directory or manifest"):
        collect([str(tmp_path / "missing")])
