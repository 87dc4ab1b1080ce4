"""Puts ``tests/`` on ``sys.path`` (pytest does so for a conftest's folder), so that the unit and the
integration tests share helpers that live here, such as ``bad_messages.py``."""
