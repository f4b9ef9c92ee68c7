"""Keras callbacks: history.csv, resumable checkpoints (and, later, measurements)."""
from keras_initstudy.callbacks.checkpoint import EpochCheckpoint, restore
from keras_initstudy.callbacks.history import HistoryCSV, read_history

__all__ = ["EpochCheckpoint", "HistoryCSV", "read_history", "restore"]
