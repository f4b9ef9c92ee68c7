"""Keras callbacks: history.csv, checkpoints and save points, and the papers' measurements.

Where things are computed:
    RMSD from the reference weights (paper 000 eq. 3)  deviation.DeviationTracker
    the reference weights w(0) (or w(k) after rewind)  reference.ReferenceWeights
    weight snapshots (w_i, w_f pairs)                  snapshots.WeightSnapshots
    TensorBoard weight images / deviation histograms   weight_images.WeightImages
    TensorBoard epoch scalars (step = epochs done)      tensorboard.EpochsDoneTensorBoard
    kernel correlations (paper 002 eqs. 5-6)           correlations.CorrelationLogger
    symmetry-breaking perturbation (paper 002 App. G)  perturbation.SymmetryPerturbation
    resumable state / save points for rewinding        checkpoint.Checkpoint / checkpoint.SavePoints
    early-phase telemetry (paper 004 Fig. 3)            telemetry.Telemetry
    kernel-gradient quantiles per layer (paper 001 §4)  gradients.GradientQuantiles
    accuracy on a held-out validation split             validation.HeldOutEvaluation
Callbacks that act at optimizer steps derive from clock.StepCallback.
"""
from keras_initstudy.callbacks.checkpoint import Checkpoint, SavePoints, load_save_point, restore
from keras_initstudy.callbacks.clock import StepCallback
from keras_initstudy.callbacks.correlations import CorrelationLogger, kernel_correlations
from keras_initstudy.callbacks.deviation import DeviationTracker
from keras_initstudy.callbacks.gradients import GradientQuantiles
from keras_initstudy.callbacks.history import HistoryCSV, read_history
from keras_initstudy.callbacks.perturbation import SymmetryPerturbation
from keras_initstudy.callbacks.reference import ReferenceWeights
from keras_initstudy.callbacks.snapshots import WeightSnapshots, parse_schedule
from keras_initstudy.callbacks.telemetry import Telemetry
from keras_initstudy.callbacks.tensorboard import EpochsDoneTensorBoard
from keras_initstudy.callbacks.validation import HeldOutEvaluation
from keras_initstudy.callbacks.weight_images import WeightImages

__all__ = ["Checkpoint", "CorrelationLogger", "DeviationTracker", "EpochsDoneTensorBoard", "GradientQuantiles", "HeldOutEvaluation",
           "HistoryCSV", "ReferenceWeights", "SavePoints", "StepCallback", "SymmetryPerturbation", "Telemetry",
           "WeightImages", "WeightSnapshots", "kernel_correlations", "load_save_point", "parse_schedule",
           "read_history", "restore"]
