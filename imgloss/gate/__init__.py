"""The CI gate: thresholds (:mod:`.thresholds`), verdicts and exit codes
(:mod:`.verdicts`), golden updates (:mod:`.golden`), JUnit XML (:mod:`.junit`) and
heatmaps (:mod:`.heatmap`). It judges and writes files; it never prints.
"""
