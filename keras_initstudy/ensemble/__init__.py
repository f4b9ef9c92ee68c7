"""Seed ensembles: runs that differ only in their seeds, trained as one Keras model.

    grouping.py  which configs can train together, and in which groups (no TensorFlow)
    layers.py    the stacked layers: MemberMajor, StackedDense, StackedDropout, TakeMember
    stack.py     the ensemble model built from the members' models; copies between them
    fanout.py    every member's own callbacks, driven by the ensemble's fit
    runner.py    run(configs): one run directory per member, as single runs write them
    pruning.py   run(pruning configs): the pruning-with-rewind loop, round by round, per member
"""
