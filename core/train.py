"""Training: check the data, fit the model, report every epoch, save atomically.

The model kind (`TrainSpec.model`, see core.ears): `small` trains the DS-CNN on log-mel with
augmentation; `speech`, `music` and `speech+music` train a head on frozen pretrained embeddings;
`auto` picks one of those by cross-validation on the project's clips. The model lands in
`<project>/models/latest/`:

    model.keras      the Keras model (small; for export and int8 conversion)
    model.tflite     float32 TensorFlow Lite (small; what predict and live listening run)
    head.npz         the trained head (embedding kinds; the ears' weights stay in their packages)
    labels.txt       one label per line, in output order
    metadata.json    labels, audio/feature/train specs, model kind (and auto's choice), history,
                     metrics, confusion, test split, version

It is built in a temporary folder and swapped in only when complete; the model it replaces is kept as
`models/previous/`. Cancelling (`cancel.set()`) stops between batches and leaves `latest` untouched.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import __version__, atomic
from core.dataset import Augment, ClipSet, augment, class_weights, load_clipset, stratified_split
from core.errors import TrainingError
from core.evaluate import Evaluation, evaluate_scores
from core.features import power_to_db
from core.model import build_model, configure_tensorflow, count_parameters, keras_bytes, tflite_bytes
from core.project import Project
from core.runtime.bundle import SMALL
from core.spec import FeatureSpec, TrainSpec

LATEST = "latest"
CALIBRATION_CLIPS = 256  # for the saved model
EPOCH_CALIBRATION_CLIPS = 32  # for the per-epoch test metrics (cheaper)
CALIBRATION_BATCH = 128
PREVIOUS = "previous"


class TrainingCancelled(TrainingError):
    """Training was stopped by the user; the previous model is unchanged."""


@dataclass(frozen=True)
class EpochMetrics:
    """One epoch: running metrics on the (augmented) training batches and metrics on the test split."""

    epoch: int
    epochs: int
    train_accuracy: float
    train_loss: float
    test_accuracy: float
    test_loss: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain values; test metrics are None when there is no test split."""
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(self).items()}


@dataclass
class TrainResult:
    """What training produced; `to_dict()` is the final line of `earshot train --json`."""

    model_dir: Path
    labels: list[str]
    history: list[EpochMetrics]
    train_accuracy: float
    test_accuracy: float
    seconds: float
    parameters: int
    evaluation: Evaluation
    warnings: list[str] = field(default_factory=list)
    kind: str = SMALL
    choice: dict[str, Any] | None = None  # what `auto` compared (core.ears.choose.Choice.to_dict)

    @property
    def epochs(self) -> int:
        return len(self.history)

    def to_dict(self) -> dict[str, Any]:
        return {"test_accuracy": self.test_accuracy, "train_accuracy": self.train_accuracy,
                "epochs": self.epochs, "seconds": round(self.seconds, 3), "classes": list(self.labels),
                "model": self.kind, "choice": self.choice}


def validate_spec(spec: TrainSpec) -> None:
    checks = [(spec.epochs >= 1, f"epochs must be at least 1 (got {spec.epochs})"),
              (spec.batch_size >= 1, f"batch size must be at least 1 (got {spec.batch_size})"),
              (0 < spec.learning_rate <= 1, f"learning rate must be in (0, 1] (got {spec.learning_rate})"),
              (0 <= spec.test_fraction < 0.9,
               f"test fraction must be in [0, 0.9) (got {spec.test_fraction})")]
    for ok, message in checks:
        if not ok:
            raise TrainingError(message, "change it in the training settings")
    from core.ears import check_kind

    check_kind(spec.model)


def _features(power: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    return power_to_db(power, spec)[..., None]


class _Fitter:
    """The training loop: numpy augmentation per batch, one compiled TensorFlow step per batch."""

    def __init__(self, clips: ClipSet, train_idx: np.ndarray, test_idx: np.ndarray, spec: TrainSpec,
                 features: FeatureSpec, settings: Augment) -> None:
        self.clips, self.train_idx, self.test_idx = clips, train_idx, test_idx
        self.spec, self.features, self.settings = spec, features, settings
        self.n_classes = len(clips.labels)
        noise_class = clips.noise_index
        noise_idx = train_idx[clips.targets[train_idx] == noise_class] if noise_class is not None else []
        self.noise = clips.power[noise_idx] if len(noise_idx) else None
        self.weights = class_weights(clips.targets[train_idx], self.n_classes)
        clean = _features(clips.power[train_idx], features)
        self.tf = configure_tensorflow()
        import keras

        keras.utils.set_random_seed(spec.seed)
        self.model = build_model(features.input_shape, self.n_classes, mean=float(clean.mean()),
                                 std=float(clean.std()))
        steps = math.ceil(len(train_idx) / spec.batch_size) * spec.epochs
        schedule = keras.optimizers.schedules.CosineDecay(spec.learning_rate, decay_steps=max(steps, 1),
                                                          alpha=0.02)
        self.optimizer = keras.optimizers.Adam(schedule)
        self.loss = keras.losses.SparseCategoricalCrossentropy()
        tf = self.tf
        signature = (tf.TensorSpec((None, *features.input_shape), tf.float32),
                     tf.TensorSpec((None,), tf.int64), tf.TensorSpec((None,), tf.float32))
        self.train_step = tf.function(self._train_step, input_signature=signature, autograph=False)
        self.predict_step = tf.function(lambda x: self.model(x, training=False),
                                        input_signature=signature[:1], autograph=False)
        self.norms = [layer for layer in self.model.layers
                      if isinstance(layer, keras.layers.BatchNormalization)]
        probe = keras.Model(self.model.inputs, [layer.input for layer in self.norms])

        def moments(x: Any) -> list[Any]:
            # Per-channel mean and mean square of every BatchNorm input, reduced in the graph: copying
            # the activations out to numpy cost ~100 ms per calibration.
            outputs = probe(x, training=True)
            return [tf.stack([tf.reduce_mean(out, axis=(0, 1, 2)), tf.reduce_mean(out * out, axis=(0, 1, 2))])
                    for out in outputs]

        self.probe_step = tf.function(moments, input_signature=signature[:1], autograph=False)
        calibration = np.random.default_rng(spec.seed).permutation(train_idx)[:CALIBRATION_CLIPS]
        self.calibration = _features(clips.power[calibration], features)  # random order: any prefix

    def _train_step(self, x: Any, y: Any, w: Any) -> Any:
        with self.tf.GradientTape() as tape:
            scores = self.model(x, training=True)
            loss = self.loss(y, scores, sample_weight=w)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables, strict=True))
        return loss, scores

    def calibrate(self, clips: int = CALIBRATION_CLIPS) -> None:
        """Set every BatchNorm's statistics to those of clean training clips ("precise BN").

        Training batches are augmented and the weights move fast, so the running averages lag behind
        and describe noisier audio than the model will hear; recomputing them once per epoch makes the
        test metrics (and the saved model) match what the network learned.
        """
        calibration = self.calibration[:clips]
        totals: list[np.ndarray] = []
        for first in range(0, len(calibration), CALIBRATION_BATCH):
            chunk = calibration[first:first + CALIBRATION_BATCH]
            moments = [m.numpy().astype(np.float64) * len(chunk) for m in self.probe_step(chunk)]
            totals = moments if not totals else [t + m for t, m in zip(totals, moments, strict=True)]
        for layer, total in zip(self.norms, totals, strict=True):
            mean, square = total / len(calibration)
            layer.moving_mean.assign(mean.astype(np.float32))
            layer.moving_variance.assign(np.maximum(square - mean ** 2, 0).astype(np.float32))

    def predict(self, x: np.ndarray) -> np.ndarray:
        out = [self.predict_step(x[i:i + 256]).numpy() for i in range(0, len(x), 256)]
        return np.concatenate(out) if out else np.zeros((0, self.n_classes), dtype=np.float32)

    def run(self, on_epoch: Callable[[EpochMetrics], None] | None,
            cancel: threading.Event | None) -> list[EpochMetrics]:
        spec, rng = self.spec, np.random.default_rng(self.spec.seed)
        test_x = _features(self.clips.power[self.test_idx], self.features)
        test_y = self.clips.targets[self.test_idx]
        history: list[EpochMetrics] = []
        for epoch in range(1, spec.epochs + 1):
            start = time.perf_counter()
            order = rng.permutation(self.train_idx)
            seen, correct, loss_sum = 0, 0, 0.0
            for first in range(0, len(order), spec.batch_size):
                if cancel is not None and cancel.is_set():
                    raise TrainingCancelled("training cancelled; the previous model is unchanged")
                batch = order[first:first + spec.batch_size]
                x = augment(self.clips.power[batch], self.noise, self.features, rng, self.settings)[..., None]
                y = self.clips.targets[batch]
                loss, scores = self.train_step(x, y, self.weights[y])
                seen += len(batch)
                correct += int((scores.numpy().argmax(axis=1) == y).sum())
                loss_sum += float(loss) * len(batch)
            self.calibrate(EPOCH_CALIBRATION_CLIPS)
            test_acc, test_loss = self._test_metrics(test_x, test_y)
            metrics = EpochMetrics(epoch, spec.epochs, correct / seen, loss_sum / seen, test_acc, test_loss,
                                   time.perf_counter() - start)
            history.append(metrics)
            if on_epoch is not None:
                on_epoch(metrics)
        return history

    def _test_metrics(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        if not len(y):
            return float("nan"), float("nan")
        scores = self.predict(x)
        picked = np.clip(scores[np.arange(len(y)), y], 1e-7, 1.0)
        return float((scores.argmax(axis=1) == y).mean()), float(-np.log(picked).mean())


def train(project: Project, spec: TrainSpec | None = None, *,
          on_epoch: Callable[[EpochMetrics], None] | None = None,
          cancel: threading.Event | None = None, on_status: Callable[[str], None] | None = None,
          features: FeatureSpec | None = None, settings: Augment | None = None) -> TrainResult:
    """Train the project's classifier (kind `spec.model`) and save it to `<project>/models/latest/`."""
    from core.ears import AUTO
    from core.ears.fit import project_clips, resolve_kind

    spec = spec or project.train_spec
    status = on_status or (lambda _message: None)
    validate_spec(spec)
    started = time.perf_counter()
    if spec.model == SMALL:
        return _train_small(project, spec, on_epoch, cancel, status, features, settings, started, None)
    status("checking samples")
    clips = project_clips(project, spec.min_samples)
    train_idx, test_idx = stratified_split(clips.targets, spec.test_fraction, spec.seed)
    kind, choice = spec.model, None
    if kind == AUTO:
        picked = resolve_kind(project, clips, train_idx, spec.seed, status)
        status(picked.summary())
        kind, choice = picked.kind, picked.to_dict()
    if kind == SMALL:
        return _train_small(project, spec, on_epoch, cancel, status, features, settings, started, choice)
    return _train_head(project, spec, kind, choice, clips, train_idx, test_idx, on_epoch, cancel, status,
                       started)


def _train_head(project: Project, spec: TrainSpec, kind: str, choice: dict[str, Any] | None, clips: Any,
                train_idx: np.ndarray, test_idx: np.ndarray,
                on_epoch: Callable[[EpochMetrics], None] | None, cancel: threading.Event | None,
                status: Callable[[str], None], started: float) -> TrainResult:
    from core.ears import kind_ears
    from core.ears.fit import fit_embedding_model
    from core.runtime.ears import ear_module
    from core.runtime.head import HEAD_FILE

    for warning in clips.warnings:
        status(f"warning: {warning}")
    history: list[EpochMetrics] = []

    def epoch_done(m: Any) -> None:
        metrics = EpochMetrics(m.epoch, spec.epochs, m.train_accuracy, m.train_loss, m.test_accuracy,
                               m.test_loss, m.seconds)
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(metrics)

    fit = fit_embedding_model(project, clips, kind, train_idx, test_idx, spec, status=status,
                              on_epoch=epoch_done, cancel=cancel)
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled; the previous model is unchanged")
    files = [str(clips.paths[i].relative_to(project.root)) for i in test_idx]
    evaluation = evaluate_scores(fit.test_scores, clips.targets[test_idx], clips.labels, files)
    train_accuracy = float((fit.train_scores.argmax(axis=1) == clips.targets[train_idx]).mean())
    parameters = sum(int(np.size(a)) for a in (fit.head.w1, fit.head.b1, fit.head.w2, fit.head.b2)
                     if a is not None)
    result = TrainResult(project.models_dir / LATEST, clips.labels, history, train_accuracy,
                         evaluation.accuracy, time.perf_counter() - started, parameters, evaluation,
                         clips.warnings, kind, choice)
    test_labels = [clips.labels[i] for i in clips.targets[test_idx]]
    metadata = _metadata(project, spec, None, result, files, test_labels)
    metadata["model"] = {"kind": kind, "versions": {n: ear_module(n).VERSION for n in kind_ears(kind)},
                         "head": HEAD_FILE, "choice": choice}
    status("saving the model")
    with project.lock():
        _save(project.models_dir, {HEAD_FILE: fit.head.to_bytes()}, metadata, cancel)
    return result


def _train_small(project: Project, spec: TrainSpec, on_epoch: Callable[[EpochMetrics], None] | None,
                 cancel: threading.Event | None, status: Callable[[str], None], features: FeatureSpec | None,
                 settings: Augment | None, started: float, choice: dict[str, Any] | None) -> TrainResult:
    result, model, metadata = fit_small(project, spec, on_epoch=on_epoch, cancel=cancel, status=status,
                                        features=features, settings=settings, started=started, choice=choice)
    status("saving the model")
    files_out = {"model.keras": keras_bytes(model), "model.tflite": tflite_bytes(model)}
    with project.lock():
        _save(project.models_dir, files_out, metadata, cancel)
    return result


def fit_small(project: Project, spec: TrainSpec, *, on_epoch: Callable[[EpochMetrics], None] | None = None,
              cancel: threading.Event | None = None, status: Callable[[str], None] | None = None,
              features: FeatureSpec | None = None, settings: Augment | None = None,
              started: float | None = None,
              choice: dict[str, Any] | None = None) -> tuple[TrainResult, Any, dict[str, Any]]:
    """Train the small CNN without saving it: (result, Keras model, metadata). Export uses this to
    build the microcontroller model of a project whose own model is a pretrained ear."""
    status = status or (lambda _message: None)
    started = time.perf_counter() if started is None else started
    features = features or FeatureSpec.for_audio(project.audio)
    status("checking samples")
    clips = load_clipset(project, features, min_samples=spec.min_samples,
                         on_progress=lambda done, total: status(f"computing features {done}/{total}"))
    for warning in clips.warnings:
        status(f"warning: {warning}")
    train_idx, test_idx = stratified_split(clips.targets, spec.test_fraction, spec.seed)
    status("starting TensorFlow")
    fitter = _Fitter(clips, train_idx, test_idx, spec, features, settings or Augment())
    status(f"training {len(train_idx)} clips, testing on {len(test_idx)}")
    history = fitter.run(on_epoch, cancel)
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled; the previous model is unchanged")
    fitter.calibrate()
    train_scores = fitter.predict(_features(clips.power[train_idx], features))
    test_scores = fitter.predict(_features(clips.power[test_idx], features))
    train_accuracy = float((train_scores.argmax(axis=1) == clips.targets[train_idx]).mean())
    files = [str(clips.paths[i].relative_to(project.root)) for i in test_idx]
    evaluation = evaluate_scores(test_scores, clips.targets[test_idx], clips.labels, files)
    seconds = time.perf_counter() - started
    result = TrainResult(project.models_dir / LATEST, clips.labels, history, train_accuracy,
                         evaluation.accuracy, seconds, count_parameters(fitter.model), evaluation,
                         clips.warnings, SMALL, choice)
    test_labels = [clips.labels[i] for i in clips.targets[test_idx]]
    metadata = _metadata(project, spec, features, result, files, test_labels)
    metadata["model"] = {"kind": SMALL, "choice": choice}
    return result, fitter.model, metadata


def _metadata(project: Project, spec: TrainSpec, features: FeatureSpec | None, result: TrainResult,
              files: list[str], labels: list[str]) -> dict[str, Any]:
    small = {} if features is None else {"features": features.to_dict(),
                                         "input_shape": list(features.input_shape)}
    return {
        "labels": result.labels,
        "audio": project.audio.to_dict(),
        **small,
        "train": spec.to_dict(),
        "history": [m.to_dict() for m in result.history],
        "metrics": {"train_accuracy": result.train_accuracy, "test_accuracy": result.test_accuracy,
                    "epochs": result.epochs, "seconds": round(result.seconds, 3),
                    "parameters": result.parameters,
                    "per_class": [vars(c) for c in result.evaluation.per_class]},
        "confusion": result.evaluation.confusion,
        "test_split": [{"file": f, "label": lab} for f, lab in zip(files, labels, strict=True)],
        "project": project.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "version": __version__,
    }


def _save(models_dir: Path, model_files: dict[str, bytes], metadata: dict[str, Any],
          cancel: threading.Event | None) -> Path:
    """Write the model folder beside `latest`, then swap it in; the old one becomes `previous`."""
    models_dir.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=models_dir))
    try:
        for name, data in model_files.items():
            atomic.write_bytes(building / name, data)
        atomic.write_text(building / "labels.txt", "\n".join(metadata["labels"]) + "\n")
        atomic.write_json(building / "metadata.json", metadata)
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("training cancelled; the previous model is unchanged")
        latest, previous = models_dir / LATEST, models_dir / PREVIOUS
        if latest.exists():
            if previous.exists():
                shutil.rmtree(previous)
            latest.rename(previous)
        building.rename(latest)
        return latest
    except OSError as exc:
        raise atomic.disk_error(exc, models_dir / LATEST) from exc
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
