"""Build the bundled snapshot from the 2025-12-07 Hub export (run once; its output is committed).

The export's list fields (raw-models.json) and its second pass (enriched-models.json, the intact
JSON, not the malformed CSV) are merged by id, unchanged otherwise.

    python scripts/make_bundled.py ../shared/data/hf-snapshot-2025-12-07
"""

import json
import sys
from pathlib import Path

src = Path(sys.argv[1])
raw = json.loads((src / "raw-models.json").read_text())
enriched = {r["id"]: r for r in json.loads((src / "enriched-models.json").read_text())}
records = []
for r in raw:
    row = dict(enriched.get(r["id"], {}))
    row.update({k: v for k, v in r.items() if v is not None or k not in row})
    row["pipeline_tag"] = "audio-text-to-text"
    records.append(row)
doc = {
    "taken_at": "2025-12-07T00:00:00+00:00",
    "source": "Hugging Face Hub API export, pipeline_tag=audio-text-to-text, 2025-12-07",
    "shape": "hf-export",
    "records": records,
}
out = Path(__file__).resolve().parents[1] / "src/audiomm/catalog/data/bundled-2025-12-07.json"
out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
print(f"wrote {len(records)} records to {out}")
