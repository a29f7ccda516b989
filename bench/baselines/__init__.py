"""Baselines for the allocation benchmark: the strongest straightforward ways to do what the engine does, each
reading the same cost partitions and writing the same results (row_id, day, value, amount in exact cents, rule).

- `numpy_codes`: numpy over the Parquet dictionary codes of each batch;
- `duckdb_lookup`: DuckDB SQL with the rules as lookup tables and the largest remainder by window function.

Both follow the engine's rounding: each row's BilledCost to cents half-to-even, then split by exact integer
numerators with largest remainder, ties to the smaller value. `common` holds what they share.
"""
