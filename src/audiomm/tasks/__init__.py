"""Tasks: presets (files), the long-form run (map -> reduce), output writers."""
