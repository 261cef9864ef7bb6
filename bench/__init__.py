"""`make bench`: benchmarks of the bot against local fakes (not tests; see bench/run.py)."""
