"""Metrics datasources: usage metrics imported from Parquet files in a tenant's S3 bucket."""
