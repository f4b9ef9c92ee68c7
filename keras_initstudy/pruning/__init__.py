"""Iterative magnitude pruning with rewinding (Frankle & Carbin 2019; papers 003 and 004).

    masks.py       0/1 masks attached as Keras constraints: pruned weights stay exactly 0
    strategies.py  layerwise and global magnitude pruning behind one interface
    config.py      the pruning settings and the runner's config (PruneExperimentConfig)
    rounds.py      the loop: round 0 dense, then prune, rewind, retrain; one sub-directory per round
"""
