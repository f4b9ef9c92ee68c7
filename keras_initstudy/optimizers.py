"""SGD as the papers' PyTorch code runs it, plus simulated non-determinism.

Keras's SGD has decoupled weight decay; PyTorch's adds weight_decay * w to the
gradient before momentum. Momentum: Keras keeps a learning-rate-scaled velocity,
v = mu v - lr g, w += v; PyTorch keeps v = mu v + g and steps w -= lr v. The two
agree while the rate is constant, but at a learning-rate drop PyTorch's velocity
still holds unscaled gradients, which the new rate then scales: momentum_form
'pytorch' (the default, for papers 002 and 004, whose anchors are PyTorch) or
'keras'. `simulated` non-determinism: a GPU's non-deterministic
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

MOMENTUM_FORMS = ("pytorch", "keras")


@keras.saving.register_keras_serializable(package="keras_initstudy")
class PaperSGD(keras.optimizers.SGD):
    def __init__(self, learning_rate=0.01, momentum=0.0, coupled_weight_decay=0.0, gradient_noise=0.0,
                 noise_seed=None, momentum_form="pytorch", **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum, **kwargs)
        if momentum_form not in MOMENTUM_FORMS:
            raise ValueError(f"momentum_form must be one of {MOMENTUM_FORMS}, got {momentum_form!r}")
        self.momentum_form = momentum_form
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

    def update_step(self, gradient, variable, learning_rate):
        """PyTorch's torch.optim.SGD step (no dampening, no Nesterov): v = mu v + g; w -= lr v."""
        if self.momentum == 0 or self.nesterov or self.momentum_form == "keras":
            return super().update_step(gradient, variable, learning_rate)
        velocity = self.momentums[self._get_variable_index(variable)]
        gradient = keras.ops.cast(gradient, variable.dtype)
        self.assign(velocity, keras.ops.add(keras.ops.multiply(velocity, keras.ops.cast(self.momentum,
                                                                                         variable.dtype)), gradient))
        self.assign_sub(variable, keras.ops.multiply(velocity, keras.ops.cast(learning_rate, variable.dtype)))

    def get_config(self):
        config = super().get_config()
        config.update(coupled_weight_decay=self.coupled_weight_decay, gradient_noise=self.gradient_noise,
                      momentum_form=self.momentum_form)
        return config
