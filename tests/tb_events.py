"""Reading TensorBoard event files in tests."""
import os

import tensorflow as tf


def events(folder):
    """Every event of every events file in `folder`."""
    for name in sorted(os.listdir(folder)):
        yield from tf.compat.v1.train.summary_iterator(os.path.join(folder, name))


def tags(folder):
    """The summary tags (scalars, images, histograms) written into `folder`."""
    return {value.tag for event in events(folder) for value in event.summary.value}


def steps(folder, tag):
    """The steps at which `tag` was written into `folder`, in order."""
    return sorted(e.step for e in events(folder) for v in e.summary.value if v.tag == tag)
