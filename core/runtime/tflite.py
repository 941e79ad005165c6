"""Running a TFLite file: float32 or int8 input and output, optional input resizing.

Needs numpy and a TFLite interpreter: `ai_edge_litert` (earshot, x86_64 and aarch64), else
`tflite_runtime` or TensorFlow's `tf.lite` (older boards). Python 3.7 syntax; copied into bundles.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any, Iterator, Optional, Sequence

import numpy as np


def interpreter_class() -> Any:
    """The first TFLite Interpreter that imports: ai_edge_litert, tflite_runtime, tensorflow."""
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter
        return Interpreter
    except ImportError:
        pass
    try:
        import tensorflow as tf
    except ImportError:
        raise ImportError("no TFLite interpreter: pip install ai-edge-litert (or tflite-runtime)") from None
    return tf.lite.Interpreter


@contextlib.contextmanager
def quiet_native() -> Iterator[None]:
    """Silence what the interpreter prints from C++ (stderr descriptor) while loading or first running.

    Only in the main thread: a UI running this in a worker thread keeps its terminal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quantize(x: np.ndarray, dtype: Any, scale: float, zero_point: int) -> np.ndarray:
    """float values -> integer tensor values: round(x / scale + zero_point), clipped to the dtype."""
    info = np.iinfo(dtype)
    return np.clip(np.round(np.asarray(x, np.float32) / scale + zero_point), info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """integer tensor values -> float32: (q - zero_point) * scale."""
    return ((np.asarray(q).astype(np.float32) - zero_point) * scale).astype(np.float32)


class TFLiteModel:
    """One TFLite model with one input and one output; `run(x)` takes and returns float32.

    int8 (or uint8/int16) models are quantized on the way in and dequantized on the way out with the
    scale and zero point stored in the model, so callers never see integer tensors.
    """

    def __init__(self, path: Optional[str] = None, content: Optional[bytes] = None, threads: int = 1,
                 input_shape: Optional[Sequence[int]] = None) -> None:
        """Load from a file or bytes; `input_shape` resizes the input before allocating (dynamic models)."""
        if (path is None) == (content is None):
            raise ValueError("give the model as a path or as bytes")
        interpreter = interpreter_class()
        with quiet_native():
            if path is not None:
                self.interpreter = interpreter(model_path=str(path), num_threads=threads)
            else:
                self.interpreter = interpreter(model_content=content, num_threads=threads)
            if input_shape is not None:
                index = self.interpreter.get_input_details()[0]["index"]
                self.interpreter.resize_tensor_input(index, [int(d) for d in input_shape], strict=False)
            self.interpreter.allocate_tensors()
        self._shape: Optional[tuple] = None
        self._first_run = True
        self._details()

    def _details(self) -> None:
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    @property
    def input_shape(self) -> tuple:
        return tuple(int(d) for d in self.input["shape"])

    @property
    def output_shape(self) -> tuple:
        return tuple(int(d) for d in self.output["shape"])

    @property
    def quantized(self) -> bool:
        return self.input["dtype"] != np.float32

    def run(self, x: np.ndarray, resize: bool = False) -> np.ndarray:
        """Run on `x` (float32, the model's input shape; with `resize`, any shape the model accepts)."""
        x = np.asarray(x, dtype=np.float32)
        if resize and tuple(x.shape) != self.input_shape:
            self.interpreter.resize_tensor_input(self.input["index"], list(x.shape), strict=False)
            self.interpreter.allocate_tensors()
            self._details()
        else:
            x = x.reshape(self.input_shape)
        if self.quantized:
            scale, zero = self.input["quantization"]
            x = quantize(x, self.input["dtype"], scale, zero)
        self.interpreter.set_tensor(self.input["index"], x)
        if self._first_run:
            with quiet_native():  # the first run may print a delegate banner
                self.interpreter.invoke()
            self._first_run = False
        else:
            self.interpreter.invoke()
        out = self.interpreter.get_tensor(self.output["index"])
        if self.output["dtype"] != np.float32:
            scale, zero = self.output["quantization"]
            return dequantize(out, scale, zero)
        return np.array(out, dtype=np.float32)

    def run_each(self, xs: Sequence[np.ndarray]) -> np.ndarray:
        """Run once per item of `xs` (each the input shape without its batch axis of 1): `[n, ...]`."""
        return np.stack([self.run(x[None])[0] for x in xs]) if len(xs) else np.zeros(
            (0,) + self.output_shape[1:], np.float32)
