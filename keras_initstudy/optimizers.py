"""SGD as paper 002's PyTorch code runs it, plus simulated non-determinism.

Keras's SGD has decoupled weight decay; PyTorch's adds weight_decay * w to the
gradient before momentum. `simulated` non-determinism: a GPU's non-deterministic
reductions change results by about one rounding step of float32; on a CPU, or
with op determinism on, nothing does. This optimizer multiplies every gradient
element by (1 + noise_scale * n), n ~ N(0, 1) drawn independently per element and
step from an unseeded generator, so two otherwise identical runs differ by
rounding-sized amounts, as two GPU runs would. The default noise_scale 2^-24 is
float32's unit roundoff. The gradient is changed before the update, as the
hardware's rounding is, and it is the only randomness a deterministic run then has.
"""
import os

import keras


@keras.saving.register_keras_serializable(package="keras_initstudy")
class PaperSGD(keras.optimizers.SGD):
    def __init__(self, learning_rate=0.01, momentum=0.0, coupled_weight_decay=0.0, gradient_noise=0.0,
                 noise_seed=None, **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum, **kwargs)
        self.coupled_weight_decay = float(coupled_weight_decay)
        self.gradient_noise = float(gradient_noise)
        self.noise_seed = None
        if self.gradient_noise:
            # Unseeded on purpose: repeats of a seeded run must differ, as on a GPU.
            seed = noise_seed if noise_seed is not None else int.from_bytes(os.urandom(4), "little")
            self.noise_seed = keras.random.SeedGenerator(seed)

    def apply(self, grads, trainable_variables=None):
        variables = list(trainable_variables) if trainable_variables is not None else self._trainable_variables
        grads = list(grads)
        if self.coupled_weight_decay:
            grads = [g if g is None else g + self.coupled_weight_decay * keras.ops.cast(v, g.dtype)
                     for g, v in zip(grads, variables)]
        if self.gradient_noise:
            grads = [g if g is None else
                     g * (1.0 + self.gradient_noise * keras.random.normal(keras.ops.shape(g), dtype=g.dtype,
                                                                          seed=self.noise_seed))
                     for g in grads]
        return super().apply(grads, trainable_variables)

    def get_config(self):
        config = super().get_config()
        config.update(coupled_weight_decay=self.coupled_weight_decay, gradient_noise=self.gradient_noise)
        return config
