"""Benchmarks: `python -m bench NAME [args]` prints numbers and writes a JSON record."""
