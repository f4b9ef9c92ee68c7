"""MemberCallbacks: an ensemble's fit drives every member's own callbacks.

Each member keeps the callbacks a single run would have (its instruments, TensorBoard,
history.csv, checkpoints), attached to its own model. Before they read that model it
is refreshed from the ensemble (stack.copy_to_member): at every epoch end and at the
steps they act at (clock.acts_at), so instruments that need steps work, at their own
cost. Their logs are the member's: member_k_loss becomes loss, val_member_k_accuracy
val_accuracy; the ensemble's summed loss is nobody's.
"""
from typing import Dict, List, Sequence

import keras

from keras_initstudy.callbacks import clock
from keras_initstudy.ensemble import stack


MEAN_LOSS = "mean_loss"  # a member's loss over its examples (runner.compile_ensemble): its `loss`


def member_logs(logs: Dict, index: int, members: int) -> Dict:
    """Member `index`'s entries of the ensemble's logs, under a single run's names:
    member_k_mean_loss is its loss; Keras's member_k_loss (batches weighed alike) is dropped.
    Keras names a single output's entries without the prefix."""
    tag = f"{stack.output_name(index)}_" if members > 1 else ""
    found = {}
    for key, value in (logs or {}).items():
        prefix = "val_" if key.startswith("val_") else ""
        rest = key[len(prefix):]
        if not rest.startswith(tag):
            continue
        name = rest[len(tag):]
        if name == "loss":
            continue
        found[prefix + ("loss" if name == MEAN_LOSS else name)] = value
    return found


class MemberHooks:
    """One member: its model, the variable pairs that refresh it, its callbacks."""

    def __init__(self, model: keras.Model, pairs, callbacks: Sequence[keras.callbacks.Callback]):
        self.model, self.pairs, self.callbacks = model, pairs, list(callbacks)
        self.hooks = keras.callbacks.CallbackList(self.callbacks, model=model)

    def refresh(self) -> None:
        stack.copy_to_member(self.pairs)

    def acts_at(self, step: int) -> bool:
        return any(clock.acts_at(c, step) for c in self.callbacks)


class MemberCallbacks(clock.StepCallback):
    """The ensemble's one callback: its step count (StepCallback's) drives the members' hooks."""

    def __init__(self, members: List[MemberHooks]):
        super().__init__()
        self.members = members

    def acts_at(self, step: int) -> bool:
        return any(m.acts_at(step) for m in self.members)

    def set_model(self, model):
        """Each fit hands its callbacks the model again (loop.train_steps fits once per segment),
        and Keras's TensorBoard opens its writers anew there after closing them at the last
        train end: the members' callbacks get their own model at every fit, as in a single run."""
        super().set_model(model)
        for m in self.members:
            m.hooks.set_model(m.model)

    def set_params(self, params):
        super().set_params(params)
        for m in self.members:
            m.hooks.set_params(params)

    def _stop_if_asked(self) -> None:
        if any(getattr(m.model, "stop_training", False) for m in self.members):
            self.model.stop_training = True

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        for k, m in enumerate(self.members):
            m.refresh()
            m.model.stop_training = False
            m.hooks.on_train_begin(member_logs(logs, k, len(self.members)))

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        for k, m in enumerate(self.members):
            m.hooks.on_epoch_begin(epoch, member_logs(logs, k, len(self.members)))

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)  # self.step: the step the call ended at
        for k, m in enumerate(self.members):
            if m.acts_at(self.step):
                m.refresh()
            m.hooks.on_train_batch_end(batch, member_logs(logs, k, len(self.members)))
        self._stop_if_asked()

    def on_epoch_end(self, epoch, logs=None):
        for k, m in enumerate(self.members):
            m.refresh()
            m.hooks.on_epoch_end(epoch, member_logs(logs, k, len(self.members)))
        self._stop_if_asked()

    def on_train_end(self, logs=None):
        for k, m in enumerate(self.members):
            m.refresh()
            m.hooks.on_train_end(member_logs(logs, k, len(self.members)))
