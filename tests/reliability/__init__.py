"""Reliability and security suites: faults, concurrency, bounded state, secrets, health."""
