"""Keras callbacks: history.csv, resumable checkpoints, and paper 000's measurements.

Where things are computed:
    RMSD from the initial weights (paper 000 eq. 3)   deviation.DeviationTracker
    weight snapshots (w_i, w_f pairs)                 snapshots.WeightSnapshots
    TensorBoard weight images / deviation histograms  weight_images.WeightImages
    kernel correlations (paper 002 eqs. 5-6)          correlations.CorrelationLogger
    symmetry-breaking perturbation (paper 002 App. G) perturbation.SymmetryPerturbation
"""
from keras_initstudy.callbacks.checkpoint import EpochCheckpoint, restore
from keras_initstudy.callbacks.correlations import CorrelationLogger, kernel_correlations
from keras_initstudy.callbacks.perturbation import SymmetryPerturbation
from keras_initstudy.callbacks.deviation import DeviationTracker
from keras_initstudy.callbacks.history import HistoryCSV, read_history
from keras_initstudy.callbacks.initial_weights import InitialWeights
from keras_initstudy.callbacks.snapshots import WeightSnapshots, parse_schedule
from keras_initstudy.callbacks.weight_images import WeightImages

__all__ = ["CorrelationLogger", "DeviationTracker", "EpochCheckpoint", "HistoryCSV", "InitialWeights",
           "SymmetryPerturbation", "WeightImages", "WeightSnapshots", "kernel_correlations", "parse_schedule",
           "read_history", "restore"]
