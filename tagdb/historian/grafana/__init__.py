"""Grafana dashboards as code, generated from the site model (grafana-foundation-sdk)."""
