"""Early-phase telemetry (paper 004 Fig. 3): the network's state at every iteration of
the first `window` steps, then at every epoch end.

Per logged step s (telemetry.csv, and TensorBoard under tb/telemetry with step s):
    mean_abs_weight        mean |w| over the kernels
    sign_changed_pct       % of kernel entries whose sign differs from w(0)
    weight_0 .. weight_9   the values of fixed kernel entries, drawn once (seeded)
    grad_norm              ||dL/dw|| (every trainable weight) on a fixed probe batch of
                           training examples, in inference mode (so batch-norm statistics
                           and dropout are untouched by the measurement)
    l2_to_init, cosine_to_init        of the kernel vector w(s) to w(0)
    test_loss, test_accuracy          every `eval_every` steps in the window, then every epoch
After the last step, telemetry_final.csv holds l2_to_final and cosine_to_final of the
states kept on disk: every `state_every`-th logged step in the window and every epoch end
(a state per iteration would be ~1 MB per step for LeNet-300-100, 4 GB for 4,000 steps).
The kept states (telemetry/states/) are deleted once those distances are written.

Everything is on the host, in float64 for the sums. The rows reach disk at every
checkpoint step (`flush_every`) and epoch end; a resumed run keeps the rows before its
restart step and reads w(0) back from telemetry/initial.npy.
"""
import os
from typing import Dict, List, Optional

import keras
import numpy as np
import tensorflow as tf

from keras_initstudy import rundir
from keras_initstudy.callbacks.step_log import StepLog


GRADIENT_MODES = ("inference", "training")


def flat(variables) -> np.ndarray:
    return np.concatenate([np.asarray(v.numpy(), np.float64).reshape(-1) for v in variables])


def clipped_cosine(dot: float, norms: float) -> float:
    """dot / norms clipped to [-1, 1], where rounding can push it just outside; 1 when norms is 0."""
    return float(np.clip(dot / norms, -1.0, 1.0)) if norms else 1.0


def l2_and_cosine(a: np.ndarray, b: np.ndarray):
    """||a - b|| and a.b / (||a|| ||b||) (cosine 1 for two zero vectors)."""
    return float(np.linalg.norm(a - b)), clipped_cosine(a @ b, np.linalg.norm(a) * np.linalg.norm(b))


class Telemetry(StepLog):
    def __init__(self, run_dir: str, kernels: Dict[str, object], end: int, steps_per_epoch: int, window: int,
                 eval_every: int, state_every: int, probe: tuple, test: tf.data.Dataset, num_weights: int = 10,
                 seed: int = 0, flush_every: int = 0, gradient_mode: str = "inference"):
        super().__init__(rundir.at(run_dir).telemetry, rundir.at(run_dir).tensorboard_run("telemetry"), steps_per_epoch,
                         flush_every)
        self.run_dir, self.kernels, self.end = rundir.at(run_dir), list(kernels.values()), end
        self.window, self.eval_every, self.state_every = window, eval_every, state_every
        self.probe_images, self.probe_labels = (tf.constant(x) for x in probe)
        self.test = test
        self.num_weights, self.seed = num_weights, seed
        self.initial: Optional[np.ndarray] = None
        self.chosen: Optional[np.ndarray] = None
        self._grad_norm = None
        if gradient_mode not in GRADIENT_MODES:
            raise ValueError(f"gradient_mode must be one of {GRADIENT_MODES}, got {gradient_mode!r}")
        self.gradient_mode = gradient_mode

    # -- the measurements ---------------------------------------------------------------------
    def gradient_norm(self) -> float:
        """The global norm of the loss gradient on the probe batch: in inference mode, or in
        training mode (--telemetry_gradient=training: batch statistics and dropout, as the
        gradient training follows, paper 004 Fig. 3), whose side effects on the model's
        state (batch norm's running averages, dropout's generators) are undone, so the
        measurement changes nothing that training sees."""
        if self._grad_norm is None:
            model = self.model
            loss_fn = keras.losses.SparseCategoricalCrossentropy()
            training = self.gradient_mode == "training"

            @tf.function
            def grad_norm(images, labels):
                state = model.non_trainable_variables if training else []
                before = [tf.identity(v.value) for v in state]
                with tf.GradientTape() as tape:
                    loss = loss_fn(labels, model(images, training=training))
                norm = tf.linalg.global_norm(tape.gradient(loss, model.trainable_weights))
                with tf.control_dependencies([norm]):
                    for variable, value in zip(state, before):
                        variable.assign(value)
                return tf.identity(norm)
            self._grad_norm = grad_norm
        return float(self._grad_norm(self.probe_images, self.probe_labels))

    def evaluate(self) -> Dict[str, float]:
        """Test loss and accuracy without model.evaluate, which would reset the running
        training metrics of the epoch in progress."""
        total, loss, correct = 0, 0.0, 0
        for images, labels in self.test:
            probabilities = self.model(images, training=False)
            loss += float(tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(labels, probabilities)))
            correct += int(tf.reduce_sum(tf.cast(tf.argmax(probabilities, -1) == tf.cast(labels, tf.int64),
                                                 tf.int32)))
            total += int(labels.shape[0])
        return {"test_loss": loss / total, "test_accuracy": correct / total}

    def measure(self, step: int) -> List[dict]:
        w = flat(self.kernels)
        l2, cosine = l2_and_cosine(w, self.initial)
        row = {"step": step, "epoch": step / self.per_epoch, "mean_abs_weight": float(np.mean(np.abs(w))),
               "sign_changed_pct": float(100 * np.mean(np.signbit(w) != np.signbit(self.initial))),
               "grad_norm": self.gradient_norm(), "l2_to_init": l2, "cosine_to_init": cosine}
        row.update({f"weight_{i}": float(w[j]) for i, j in enumerate(self.chosen)})
        at_epoch_end = step % self.per_epoch == 0
        if (step <= self.window and step % self.eval_every == 0) or at_epoch_end or step == self.end:
            row.update(self.evaluate())
        if self.keeps_state(step):
            np.save(self.state_path(step), w.astype(np.float32))
        return [row]

    def summarise(self, rows: List[dict]) -> None:
        for key, value in rows[0].items():
            if key not in ("step", "epoch"):
                tf.summary.scalar(f"telemetry/{key}", value)

    # -- when -----------------------------------------------------------------------------------
    def logs_at(self, step: int) -> bool:
        return step <= self.window or step % self.per_epoch == 0 or step == self.end

    def flushes_at(self, step: int) -> bool:
        return super().flushes_at(step) or step in (self.end, self.window)

    def keeps_state(self, step: int) -> bool:
        return (step <= self.window and step % self.state_every == 0) or step % self.per_epoch == 0 or step == self.end

    def state_path(self, step: int) -> str:
        return self.run_dir.telemetry_state(step)

    # -- Keras hooks ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """w(0) (read back on resume) and the tracked entries."""
        os.makedirs(self.run_dir.telemetry_states, exist_ok=True)
        initial_path = self.run_dir.telemetry_initial
        if self.step == 0 or not os.path.exists(initial_path):
            self.initial = flat(self.kernels)
            np.save(initial_path, self.initial)
        else:
            self.initial = np.load(initial_path)
        self.chosen = np.sort(np.random.default_rng(self.seed).choice(
            self.initial.size, size=min(self.num_weights, self.initial.size), replace=False))

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        if self.step == self.end:
            self.write_final_distances()

    def write_final_distances(self) -> None:
        """l2_to_final and cosine_to_final of every kept state, then the states are removed."""
        final = flat(self.kernels)
        rows = []
        kept = self.run_dir.telemetry_state_steps()
        for step in kept:
            l2, cosine = l2_and_cosine(np.load(self.state_path(step)).astype(np.float64), final)
            rows.append({"step": step, "l2_to_final": l2, "cosine_to_final": cosine})
        rundir.write_rows(self.run_dir.telemetry_final, rows)
        with self.writer.as_default():
            for row in rows:
                tf.summary.scalar("telemetry/l2_to_final", row["l2_to_final"], step=row["step"])
                tf.summary.scalar("telemetry/cosine_to_final", row["cosine_to_final"], step=row["step"])
        self.writer.flush()
        for step in kept:
            os.remove(self.state_path(step))
