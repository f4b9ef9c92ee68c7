"""Layers of a seed ensemble: K members of one MLP side by side, member-major inside.

Activations are (K, batch, features); a Dense layer's K kernels are one (K, fan_in,
fan_out) variable, applied with one batched matrix product. Member k's slice is its
own network: nothing mixes members, so its gradient is exactly its own.
"""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_initstudy")
class MemberMajor(keras.layers.Layer):
    """(batch, K, *shape) -> (K, batch, prod(shape)): each member's flattened inputs."""

    def __init__(self, members: int, **kwargs):
        super().__init__(**kwargs)
        self.members = members

    def call(self, x):
        x = ops.reshape(x, (ops.shape(x)[0], self.members, -1))
        return ops.transpose(x, (1, 0, 2))

    def compute_output_shape(self, input_shape):
        features = 1
        for size in input_shape[2:]:
            features *= size
        return (self.members, input_shape[0], features)

    def get_config(self):
        return {**super().get_config(), "members": self.members}


@keras.saving.register_keras_serializable(package="keras_initstudy")
class StackedDense(keras.layers.Layer):
    """K Dense layers: y[k] = activation(x[k] @ kernel[k] + bias[k]); kernel (K, fan_in, units),
    bias (K, units), so kernel[k] and bias[k] have a single Dense layer's shapes."""

    def __init__(self, members: int, units: int, activation=None, use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.members, self.units, self.use_bias = members, units, use_bias
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        fan_in = input_shape[-1]
        self.kernel = self.add_weight(name="kernel", shape=(self.members, fan_in, self.units), initializer="zeros")
        self.bias = (self.add_weight(name="bias", shape=(self.members, self.units), initializer="zeros")
                     if self.use_bias else None)

    def call(self, x):
        y = ops.matmul(x, self.kernel)
        if self.bias is not None:
            y = y + ops.expand_dims(self.bias, 1)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "members": self.members, "units": self.units,
                "activation": keras.activations.serialize(self.activation), "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package="keras_initstudy")
class StackedDropout(keras.layers.Layer):
    """K Dropout layers, member k drawing its masks from its own seed generator exactly as
    a single run's Dropout layer draws them (same shape, same generator state)."""

    def __init__(self, members: int, rate: float, seeds=None, **kwargs):
        super().__init__(**kwargs)
        self.members, self.rate = members, rate
        self.seeds = list(seeds) if seeds is not None else [None] * members
        self.generators = [keras.random.SeedGenerator(s) for s in self.seeds]

    def call(self, x, training=False):
        if not training or not self.rate:
            return x
        return ops.stack([keras.random.dropout(x[k], self.rate, seed=g) for k, g in enumerate(self.generators)])

    def get_config(self):
        return {**super().get_config(), "members": self.members, "rate": self.rate, "seeds": self.seeds}


@keras.saving.register_keras_serializable(package="keras_initstudy")
class TakeMember(keras.layers.Layer):
    """Member k's slice of (K, batch, ...): its own output."""

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def call(self, x):
        return x[self.index]

    def get_config(self):
        return {**super().get_config(), "index": self.index}
