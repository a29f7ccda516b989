"""Metric ingestion: Parquet files in a customer's bucket → daily metric values.

Stages, one module each: ``store`` (list the objects, open one for streaming), ``parquet`` (stream,
check and pre-aggregate one file; pure), ``load`` (write a file's values idempotently in one
transaction) and ``importer`` (one import of a datasource, with its history and the datasource's
status). ``errors`` sorts failures into quarantine, transient and terminal.
"""
