"""Measuring the Detector against gold story labels (``python -m streams evaluate``)."""
