"""What a run writes: values and summary (:mod:`.summary`), the terminal table
(:mod:`.table`), CSV/JSON/JSONL (:mod:`.writers`), the HTML page (:mod:`.html`), and the
one atomic output path for every file (:mod:`.output`). No torch here.
"""
