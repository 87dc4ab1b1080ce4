"""Code the tests share: the worker on memory, metric name listing. Not part of the package."""
