"""The classifier network and its conversion to TensorFlow Lite (imports TensorFlow: training only).

A small depthwise-separable CNN over log-mel input with BatchNorm and global average pooling: a few
tens of thousands of parameters, fast to train on two CPU cores, and every op converts to int8 TFLite.
The input is normalised inside the model (mean and spread of the training features), so the exported
model takes plain `core.features.log_mel` output.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

_THREADS_SET = False


def configure_tensorflow(threads: int | None = None) -> Any:
    """Import TensorFlow quietly with a thread count that suits a small shared machine."""
    global _THREADS_SET
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # quieter, and bitwise repeatable results
    import tensorflow as tf

    if not _THREADS_SET:
        count = threads or min(2, os.cpu_count() or 1)
        try:
            tf.config.threading.set_intra_op_parallelism_threads(count)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # TensorFlow was already initialised by someone else: keep its settings
        _THREADS_SET = True
    return tf


def build_model(input_shape: tuple[int, int, int], n_classes: int, *, mean: float, std: float,
                width: int = 64, blocks: int = 5, dropout: float = 0.2,
                downsample_at: tuple[int, ...] = (0, 1), band_normalise: bool = False) -> Any:
    """A compiled-ready Keras model: `[batch, frames, mels, 1]` log-mel -> `[batch, n_classes]` softmax."""
    configure_tensorflow()
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="log_mel")
    x = layers.Rescaling(1.0 / max(std, 1e-6), offset=-mean / max(std, 1e-6), name="normalise")(inputs)
    if band_normalise:
        # Off by default. A second channel with each mel band's mean over the clip removed (free of mic
        # and speaker tilt); measured on bench/accuracy.py fold 0: fsdd 0.78 -> 0.82, gtzan5 window
        # 0.69 -> 0.71 and vote 0.73 -> 0.77, but speech_commands 0.91 -> 0.87. Removing the mean
        # outright (one channel) gave fsdd 0.78 -> 0.89 and speech 0.91, but gtzan5 window 0.69 -> 0.59.
        frames = int(input_shape[0])
        band_mean = layers.UpSampling2D((frames, 1), name="band_tile")(
            layers.AveragePooling2D((frames, 1), name="band_mean")(x))
        x = layers.Concatenate(name="channels")([x, layers.Subtract(name="band_normalise")([x, band_mean])])
    x = layers.Conv2D(width, (5, 3), strides=(2, 2), padding="same", use_bias=False, name="stem")(x)
    x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for i in range(blocks):
        stride = (2, 2) if i in downsample_at else (1, 1)
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"dw{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"dw{i}_bn")(x)
        x = layers.ReLU(name=f"dw{i}_relu")(x)
        x = layers.Conv2D(width, 1, use_bias=False, name=f"pw{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"pw{i}_bn")(x)
        x = layers.ReLU(name=f"pw{i}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="scores")(x)
    return keras.Model(inputs, outputs, name="earshot_dscnn")


def tflite_bytes(model: Any, *, representative: np.ndarray | None = None) -> bytes:
    """Convert a Keras model to TFLite: float32, or full int8 when `representative` features are given.

    `representative`: float32 `[n, frames, mels]` or `[n, frames, mels, 1]` log-mel features.
    """
    tf = configure_tensorflow()
    shape = tuple(int(d) for d in model.input_shape[1:])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if representative is not None:
        samples = np.asarray(representative, dtype=np.float32).reshape((-1, *shape))

        def dataset() -> Any:
            for sample in samples:
                yield [sample[None]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with quiet_output():
        return bytes(converter.convert())


@contextlib.contextmanager
def quiet_output() -> Iterator[None]:
    """Silence prints and native logs (stdout and stderr descriptors) while converting or loading.

    Only in the main thread (the CLI): a UI running this in a worker thread keeps its terminal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def keras_bytes(model: Any) -> bytes:
    """The model as the bytes of a `.keras` file."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="earshot-keras-") as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as handle:
            return handle.read()


def count_parameters(model: Any) -> int:
    """All weights of the model, including BatchNorm statistics."""
    return int(model.count_params())
