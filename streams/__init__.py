"""Streaming event detection for Persian news: articles in, stories and emerging-story alerts out."""

__version__ = "0.1.0"
