"""Iterative magnitude pruning with rewinding (Frankle & Carbin 2019; papers 003 and 004).

    masks.py       0/1 masks attached as Keras constraints: pruned weights stay exactly 0
    strategies.py  layerwise and global magnitude pruning behind one interface
    config.py      the pruning settings and the runner's config (PruneExperimentConfig)
    rounds.py      the loop: round 0 dense, then prune, rewind, retrain; one sub-directory per round
    layout.py      where rounds and branches live, and which branches are still to train
    perturb.py     paper 004's re-initialisations of the rewound survivors (signs, magnitudes, permutations)
    pretraining.py paper 004's pre-training on altered data before IMP
"""
