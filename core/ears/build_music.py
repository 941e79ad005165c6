"""Convert musicnn's MSD checkpoint (TF1, in the `musicnn==0.1.0` wheel) once to a float TFLite file.

    python -m core.ears.build_music [--out DIR]

Run by the install step (Makefile) after `pip install --no-deps musicnn==0.1.0`. It rebuilds the
network with the wheel's own `musicnn/models.py` (TF1 layers through `tf.compat.v1`) with a
`[batch, frames, 96]` input of any length and inference-mode batch normalisation, restores the
checkpoint, and converts the graph from its log-mel input to the max and mean over time of the
mid-end features (`core.runtime.music`). Kept in float: int8 lost 6 points on genres.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

from core.runtime import music


def checkpoint_folder() -> Path:
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("musicnn is not installed: pip install --no-deps musicnn==0.1.0")
    return Path(list(spec.submodule_search_locations)[0]) / "MSD_musicnn"


EPSILON = 0.001  # tf.compat.v1.layers.batch_normalization's default


def convert(folder: Path) -> bytes:
    """The float TFLite model: `float32 [batch, frames, 96]` log-mel -> `float32 [batch, 1506]`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(str(folder) + "/")
    weight = {name: tf.constant(reader.get_tensor(name)) for name in reader.get_variable_to_shape_map()
              if "Adam" not in name and "power" not in name}

    def norm(x: tf.Tensor, k: int) -> tf.Tensor:
        name = "batch_normalization" + (f"_{k}" if k else "")
        return tf.nn.batch_normalization(x, weight[f"{name}/moving_mean"], weight[f"{name}/moving_variance"],
                                         weight[f"{name}/beta"], weight[f"{name}/gamma"], EPSILON)

    def conv(x: tf.Tensor, k: int, padding: str) -> tf.Tensor:
        name = "conv2d" + (f"_{k}" if k else "")
        return tf.nn.relu(tf.nn.conv2d(x, weight[f"{name}/kernel"], 1, padding) + weight[f"{name}/bias"])

    def pad_time(x: tf.Tensor) -> tf.Tensor:
        return tf.pad(x, [[0, 0], [3, 3], [0, 0], [0, 0]])

    @tf.function(input_signature=[tf.TensorSpec([None, None, music.N_MELS], tf.float32)])
    def embed(log_mel: tf.Tensor) -> tf.Tensor:
        # musicnn/models.py `build_musicnn` at inference, layer for layer (its variables in creation order)
        x = norm(tf.expand_dims(log_mel, 3), 0)
        timbral = [tf.reduce_max(norm(conv(pad_time(x), k, "VALID"), k + 1), axis=2) for k in (0, 1)]
        temporal = [tf.reduce_max(norm(conv(x, k, "SAME"), k + 1), axis=2) for k in (2, 3, 4)]
        front = tf.expand_dims(tf.concat(timbral + temporal, axis=2), 3)  # [b, t, 561, 1]
        layers = [front]
        previous = None
        for k in (5, 6, 7):
            y = tf.transpose(norm(conv(pad_time(layers[-1]), k, "VALID"), k + 1), [0, 1, 3, 2])
            previous = y if previous is None else y + previous
            layers.append(previous)
        features = tf.concat(layers, axis=2)[..., 0]  # [b, t, 753]
        return tf.concat([tf.reduce_max(features, axis=1), tf.reduce_mean(features, axis=1)], axis=1)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([embed.get_concrete_function()], embed)
    return bytes(converter.convert())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(music.installed_dir()), help="output folder")
    args = parser.parse_args(argv)
    data = convert(checkpoint_folder())
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / music.FILES[0]
    with tempfile.NamedTemporaryFile(dir=args.out, delete=False) as handle:
        handle.write(data)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, target)
    print(f"wrote {target} ({len(data) / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
