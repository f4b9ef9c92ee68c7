"""Pure numpy/pandas analysis of run directories (no TensorFlow import).

    deviation  paper 000 Appendix B fits of final vs initial weights, Fig. 3 binned stats
    regimes    paper 000 Fig. 2 / Fig. 6 times read from a run's history
    runs       run directories -> tables (history, config, fits at snapshot epochs)
"""
