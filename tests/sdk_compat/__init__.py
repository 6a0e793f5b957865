"""SDK compatibility tests (anthropic 2.x here; 0.x via scripts/sdk0-compat)."""
