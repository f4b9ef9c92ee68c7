"""Cross-checks paper 002's and paper 004's PyTorch-anchored pieces against PyTorch itself.

PyTorch is never a dependency: the Keras side writes weights, inputs and outputs to an
.npz file; the PyTorch side, run by an interpreter that has torch (a scratch venv:
`pip install "torch==2.13.0+cpu"` from the local wheel folder), recomputes them from
remodel.py's and torch.optim.SGD's semantics and prints the largest differences:

    python tools/torch_crosscheck.py --side=keras --npz=/tmp/xcheck.npz
    /path/to/torch-venv/bin/python tools/torch_crosscheck.py --side=torch --npz=/tmp/xcheck.npz

Checked: LeakyNet's forward pass (batch norm after odd blocks only, input biases, padding)
in inference and training mode; a stride-2 3x3 conv padded as PyTorch's padding=1;
PaperSGD's momentum and coupled weight decay across a learning-rate drop.
"""
import argparse

import numpy as np


def keras_side(path: str) -> None:
    import keras
    import tensorflow as tf

    from keras_initstudy import layers, optimizers
    from keras_initstudy.models.constnet import stage_plan
    from keras_initstudy.models.leakynet import build_leakynet

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 32, 32, 3)).astype(np.float32)
    model = build_leakynet((32, 32, 3), 10, widen_factor=1, num_blocks=6, channel_init="h", init_seed=3)
    for w in model.weights:  # non-trivial biases and batch norms, so where they act matters
        if w.path.endswith(("input_bias/bias", "/gamma", "/beta", "moving_mean", "moving_variance")):
            positive = w.path.endswith(("gamma", "moving_variance"))
            value = rng.uniform(0.5, 1.5, size=w.shape) if positive else 0.1 * rng.normal(size=w.shape)
            w.assign(value.astype(np.float32))
    out = {"x": x, "infer": np.asarray(model(x, training=False)), "train": np.asarray(model(x, training=True))}
    for layer in model.layers:
        for w in layer.weights:
            out[f"{layer.name}/{w.name}"] = w.numpy()
    out["plan"] = np.array([(c_in, c_out, stride) for _, _, c_in, c_out, stride in stage_plan(6, 1)])
    kernel = rng.normal(size=(3, 3, 3, 5)).astype(np.float32)
    conv = layers.pytorch_padded_conv(5, 3, 2, "c", use_bias=False,
                                      kernel_initializer=keras.initializers.Constant(kernel))
    out["conv_kernel"], out["conv_out"] = kernel, np.asarray(conv(x))
    w0, grads = rng.normal(size=(4,)).astype(np.float32), rng.normal(size=(6, 4)).astype(np.float32)
    variable = keras.Variable(w0)
    optimizer = optimizers.PaperSGD(keras.optimizers.schedules.PiecewiseConstantDecay([2], [0.1, 0.02]),
                                    momentum=0.9, coupled_weight_decay=5e-4)
    trajectory = []
    for g in grads:
        optimizer.apply([tf.constant(g)], [variable])
        trajectory.append(variable.numpy().copy())
    out["sgd_w0"], out["sgd_grads"], out["sgd_traj"] = w0, grads, np.array(trajectory)
    np.savez(path, **out)
    print(f"wrote {path}")


def torch_side(path: str) -> None:
    import torch
    import torch.nn.functional as F

    d = np.load(path)
    t = torch.tensor
    x = t(d["x"]).permute(0, 3, 1, 2)
    kernel = lambda name: t(d[name]).permute(3, 2, 0, 1)  # Keras (kh, kw, in, out) -> torch (out, in, kh, kw)

    def batch_norm(h, prefix, training):
        return F.batch_norm(h, t(d[prefix + "/moving_mean"]).clone(), t(d[prefix + "/moving_variance"]).clone(),
                            t(d[prefix + "/gamma"]), t(d[prefix + "/beta"]), training=training, momentum=0.1,
                            eps=1e-5)

    def lrnet(training):
        h = F.conv2d(x, kernel("stem_conv/kernel"), padding=1)
        names = [f"stage{s}_block{b}" for s in (1, 2, 3) for b in (1, 2)]
        for j, (prefix, (_, _, stride)) in enumerate(zip(names, d["plan"])):
            h = h + t(d[f"{prefix}_input_bias/bias"])
            h = F.leaky_relu(F.conv2d(h, kernel(f"{prefix}_conv/kernel"), stride=int(stride), padding=1), 0.01)
            if j % 2:  # remodel.py: phase -1 for odd blocks, and `if self.phase < 0: out = self.bn(out)`
                h = batch_norm(h, f"{prefix}_bn", training)
        h = F.avg_pool2d(F.leaky_relu(h, 0.01), 8).flatten(1)
        return torch.softmax(h @ t(d["output/kernel"]) + t(d["output/bias"]), -1).numpy()

    for mode, training in (("infer", False), ("train", True)):
        print(f"LeakyNet, {mode} mode: max |keras - torch| = {np.abs(lrnet(training) - d[mode]).max():.2e}")
    conv = F.conv2d(x, kernel("conv_kernel"), stride=2, padding=1).permute(0, 2, 3, 1).numpy()
    print(f"stride-2 3x3 conv: max |keras - torch| = {np.abs(conv - d['conv_out']).max():.2e}")
    w = torch.nn.Parameter(t(d["sgd_w0"]))
    optimizer = torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=5e-4)
    trajectory = []
    for step, g in enumerate(d["sgd_grads"]):
        if step == 3:  # PiecewiseConstantDecay([2]): update 3 (0-based) is the first at the new rate
            for group in optimizer.param_groups:
                group["lr"] = 0.02
        w.grad = t(g).clone()
        optimizer.step()
        trajectory.append(w.detach().numpy().copy())
    difference = np.abs(np.array(trajectory) - d["sgd_traj"]).max()
    print(f"SGD momentum across an lr drop: max |keras - torch| = {difference:.2e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=("keras", "torch"), required=True)
    parser.add_argument("--npz", required=True, help="the file the Keras side writes and the PyTorch side reads")
    args = parser.parse_args()
    (keras_side if args.side == "keras" else torch_side)(args.npz)


if __name__ == "__main__":
    main()
