"""Billing data: cloud bills (AWS CUR 2.0 today) normalized into one FOCUS-aligned cost table, stored as
Parquet partitions per datasource and billing month."""
