"""The catalog of audio multimodal models: crawl, enrich, families, snapshots, exports."""
