"""Rendering of results: terminal, and (later) HTML, Markdown, JSON, JUnit, Prometheus."""
