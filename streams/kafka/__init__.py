"""The Kafka edge: the Faust worker (``app``) and its steps (embedding, tracking, output), topics, the
tracker's checkpoint store, replays and the alert feed."""
