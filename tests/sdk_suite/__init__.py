"""The official SDK's own test suite, run through ptc_observe's transport."""
