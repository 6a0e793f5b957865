"""Tests of the deployable stack: Prometheus config and rules, dashboards, docker-compose."""

from __future__ import annotations
