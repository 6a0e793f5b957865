"""Tests of ``ptc-observe report``."""
