"""Seed ensembles: runs that differ only in their seeds, trained as one Keras model.

    grouping.py  which configs can train together, and in which groups (no TensorFlow)
    layers.py    the stacked layers: MemberMajor, StackedDense, StackedDropout, TakeMember
    stack.py     the ensemble model built from the members' models; copies between them
    fanout.py    every member's own callbacks, driven by the ensemble's fit
    strategy.py  the execution strategy: prepared runs trained alone or stacked together
The runners (train_runner.run_all, pruning/rounds.run_all) train seed ensembles through
the one run lifecycle (lifecycle.py): one run directory per member, as single runs write them.
"""
