"""Scoring beyond one uninterrupted run: shards (:mod:`.shard`), resumable runs
(:mod:`.resume`), stored results read back (:mod:`.parts`) and replayed (:mod:`.replay`),
``imgloss merge`` (:mod:`.merge`) and the Ray Data runner (:mod:`.ray_runner`).

Importing this package imports no torch and no Ray.
"""
