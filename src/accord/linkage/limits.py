"""How many reviewers' labels learning from them needs: numbers only, importing nothing,
so that the command line can show them as its defaults without loading the linkage."""

MIN_LABELS = 30  # fewer labels than this on a pattern never make a proposal
MIN_SAME = 30  # fewer pairs known to be the same person than this re-estimate nothing
