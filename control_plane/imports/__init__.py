"""The one import pipeline every source plugs into: list what the source holds → fetch (streamed) →
validate and normalize → load atomically; then, as a job step of its own, recompute what depends on it.

``errors`` sorts failures (quarantine, transient, terminal); ``pipeline`` runs the stages for a connector and
keeps the history and the datasource's status.
"""
