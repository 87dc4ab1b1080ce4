"""The domain: normalize, embed, cluster into stories, score emergence, alert. Plain Python, no framework.

Nothing here imports faust, a Kafka client, tqdm or prometheus_client (ruff's banned imports and
tests/unit/test_layout.py enforce it); the edges (``streams.kafka``, ``streams.commands``) call the
``Detector`` (``streams/core/detector.py``) and nothing else composes these modules.
"""
