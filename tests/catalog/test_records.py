import pytest

from audiomm.catalog.process import parse_records
from audiomm.catalog.records import BadRecord, parse_api_record, parse_export_record, valid_repo_id


def good(**kw):
    d = {
        "id": "org/model",
        "downloads": 5,
        "likes": 1,
        "tags": ["license:mit", "en", "base_model:quantized:a/b"],
    }
    d.update(kw)
    return d


def test_parses_a_normal_record():
    rm = parse_api_record(
        good(
            safetensors={"parameters": {"BF16": 100, "F32": 20}, "total": 120},
            config={"architectures": ["X"]},
        )
    )
    assert rm.params == 120
    assert rm.tensor_types == ["BF16", "F32"]
    assert rm.license == "mit"
    assert rm.languages == ["en"]
    assert [(b.relation, b.id) for b in rm.base_models] == [("quantized", "a/b")]
    assert rm.architectures == ["X"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("downloads", None),
        ("likes", None),
        ("tags", None),
        ("safetensors", None),
        ("config", None),
        ("gated", None),
    ],
)
def test_nulls_and_missing_fields_become_defaults(field, value):
    rm = parse_api_record(good(**{field: value}))
    assert rm.id == "org/model"
    d = good()
    d.pop(field, None)
    assert parse_api_record(d).id == "org/model"


def test_unknown_dtype_is_kept_as_is():
    rm = parse_api_record(good(safetensors={"parameters": {"F4_E2M1_NEW": 10}, "total": 10}))
    assert rm.tensor_types == ["F4_E2M1_NEW"] and rm.params == 10


def test_safetensors_without_total_sums_dtypes():
    assert parse_api_record(good(safetensors={"parameters": {"BF16": 7, "F32": 3}})).params == 10


@pytest.mark.parametrize(
    "record,reason",
    [
        (good(id="../../x"), "invalid repo id"),
        (good(id="org/../../etc"), "invalid repo id"),
        (good(id="ørg/módel"), "invalid repo id"),
        (good(id="a/b/c"), "invalid repo id"),
        (good(id=None), "without a string id"),
        (good(downloads=10**40), "implausibly large"),
        (good(downloads=-3), "negative"),
        (good(downloads="many"), "not a number"),
        (good(downloads=float("nan")), "not a whole number"),
        (good(safetensors={"parameters": {"BF16": 10**20}, "total": 10**20}), "implausibly large"),
        (good(safetensors=[1, 2]), "not an object"),
        (good(tags="x", downloads=True), "boolean"),
        ("not a dict", "not an object"),
    ],
)
def test_bad_records_raise_one_line(record, reason):
    with pytest.raises(BadRecord) as ei:
        parse_api_record(record)
    assert reason in str(ei.value)
    assert "\n" not in str(ei.value)


def test_parse_records_skips_bad_and_duplicates_and_reports_each():
    records = [good(), good(id="../../x"), good(), good(id="org/other", downloads=10**40)]
    raw, skipped = parse_records("hub-api", records)
    assert [r.id for r in raw] == ["org/model"]
    assert len(skipped) == 3
    assert "duplicate" in skipped[1]


def test_valid_repo_id():
    assert valid_repo_id("Qwen/Qwen2-Audio-7B-Instruct")
    assert valid_repo_id("mispeech/midashenglm-7b-0804-fp32")
    for bad in ("..", "a/..", "/x", "x", "a/b\n", "a b/c", "ä/b"):
        assert not valid_repo_id(bad)


def test_export_row_with_comma_tensor_types():
    rm = parse_export_record(
        {
            "id": "mistralai/Voxtral-Small-24B-2507",
            "tensor_types": "F32, BF16",
            "params_billions": 24.26,
            "tags": [],
        }
    )
    assert rm.tensor_types == ["F32", "BF16"]
    assert rm.params == 24_260_000_000
