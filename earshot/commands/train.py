"""`earshot train`, `earshot eval` and `earshot predict`.

`predict` runs the TFLite model through ai_edge_litert and never imports TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

BAR_WIDTH = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add train, eval and predict."""
    train = subparsers.add_parser("train", help="train the project's classifier",
                                  description="Train the classifier on the project's samples and save it "
                                              "to DIR/models/latest (Ctrl-C stops and keeps the old model).")
    train.add_argument("dir", nargs="?", default=".", type=Path, help="project folder (default: .)")
    train.add_argument("--epochs", type=int, help="passes over the data (default: the project's, 50)")
    train.add_argument("--batch-size", type=int, help="clips per step (default 16)")
    train.add_argument("--learning-rate", type=float, help="peak learning rate (default 0.001)")
    train.add_argument("--seed", type=int, help="random seed (same seed, same model)")
    train.add_argument("--model", choices=["auto", "speech", "music", "speech+music", "small"],
                       help="model kind: a pretrained ear (speech, music) with a trained head, the small "
                            "CNN that fits a microcontroller, or auto (default: chosen by cross-validation)")
    train.add_argument("--json", action="store_true", help="one JSON object per epoch, then a summary")
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser("eval", help="evaluate the trained model on its test split",
                                     description="Confusion matrix, per-class precision and recall, and the "
                                                 "test clips the latest model gets wrong.")
    evaluate.add_argument("dir", nargs="?", default=".", type=Path, help="project folder (default: .)")
    evaluate.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    evaluate.set_defaults(func=run_eval)

    predict = subparsers.add_parser("predict", help="classify audio files with a trained model",
                                    description="Label and confidences per file. Files longer than a clip "
                                                "are classified window by window, then by majority vote.")
    predict.add_argument("model", type=Path, help="project folder, model folder or exported model .zip")
    predict.add_argument("files", nargs="+", type=Path, metavar="FILE", help="audio files (WAV, FLAC, ...)")
    predict.add_argument("--json", action="store_true", help="one JSON object per file")
    predict.set_defaults(func=run_predict)


# -- train -----------------------------------------------------------------------------------------

def _bar(done: int, total: int) -> str:
    filled = round(BAR_WIDTH * done / max(total, 1))
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def _epoch_line(m: Any) -> str:
    return (f"epoch {m.epoch:>3}/{m.epochs} {_bar(m.epoch, m.epochs)} "
            f"train acc {m.train_accuracy:.3f} loss {m.train_loss:.3f} | "
            f"test acc {m.test_accuracy:.3f} loss {m.test_loss:.3f}  {m.seconds:.2f}s")


def run_train(args: argparse.Namespace) -> int:
    from core.errors import TrainingError
    from core.project import Project
    from core.train import TrainingCancelled, train

    project = Project.open(args.dir)
    spec = project.train_spec
    overrides = {"epochs": args.epochs, "batch_size": args.batch_size,
                 "learning_rate": args.learning_rate, "seed": args.seed, "model": args.model}
    spec = replace(spec, **{k: v for k, v in overrides.items() if v is not None})
    cancel = threading.Event()

    def on_sigint(_signum: int, _frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping after this batch (Ctrl-C again to quit at once)...", file=sys.stderr, flush=True)

    def on_epoch(m: Any) -> None:
        print(json.dumps(m.to_dict()) if args.json else _epoch_line(m), flush=True)

    def on_status(message: str) -> None:
        if not args.json or message.startswith(("warning", "auto chose")):
            print(message, file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = train(project, spec, on_epoch=on_epoch, cancel=cancel, on_status=on_status)
    except TrainingCancelled:
        print("earshot: training cancelled; the project and its previous model are unchanged",
              file=sys.stderr)
        return 130
    except MemoryError as exc:
        raise TrainingError("out of memory while training",
                            "close other programs or use fewer samples") from exc
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.json:
        print(json.dumps(result.to_dict()), flush=True)
        return 0
    print(f"\ntrained a {result.kind} model, {result.epochs} epochs in {result.seconds:.1f} s: "
          f"train accuracy {result.train_accuracy:.3f}, test accuracy {result.test_accuracy:.3f} "
          f"({result.parameters} parameters)")
    if result.choice is not None:
        scores = ", ".join(f"{k} {v:.3f}" for k, v in result.choice["scores"].items())
        print(f"model: auto chose {result.kind}" + (f" (cross-validated: {scores})" if scores else
                                                   f" ({result.choice['reason']})"))
    print(charts(result.history))
    print(confusion_table(result.evaluation.labels, result.evaluation.confusion))
    print(f"saved to {result.model_dir}")
    return 0


def charts(history: list[Any], width: int = 100, height: int = 15) -> str:
    """Accuracy and loss per epoch as plotext text charts."""
    import plotext as plt

    epochs = [m.epoch for m in history]
    out = []
    for title, train_key, test_key in (("accuracy", "train_accuracy", "test_accuracy"),
                                       ("loss", "train_loss", "test_loss")):
        plt.clear_figure()
        plt.theme("clear")
        plt.plotsize(width, height)
        plt.plot(epochs, [getattr(m, train_key) for m in history], label=f"train {title}", marker="braille")
        plt.plot(epochs, [getattr(m, test_key) for m in history], label=f"test {title}", marker="braille")
        plt.title(title)
        plt.xlabel("epoch")
        out.append(plt.build())
    plt.clear_figure()
    text = "\n".join(out)
    return text if sys.stdout.isatty() else re.sub(r"\x1b\[[0-9;]*m", "", text)


def confusion_table(labels: list[str], confusion: list[list[int]]) -> str:
    """Rows: true class; columns: predicted class (numbered like the rows)."""
    width = max(len(label) for label in labels)
    cell = max(4, *(len(str(v)) + 1 for row in confusion for v in row))
    header = " " * (width + 4) + "".join(f"{f'[{j + 1}]':>{cell}}" for j in range(len(labels)))
    lines = ["confusion matrix (rows: true class, columns: predicted)", header]
    for i, (label, row) in enumerate(zip(labels, confusion, strict=True)):
        lines.append(f"[{i + 1}] {label:<{width}}" + "".join(f"{v:>{cell}}" for v in row))
    return "\n".join(lines)


# -- eval ------------------------------------------------------------------------------------------

def run_eval(args: argparse.Namespace) -> int:
    from core.evaluate import evaluate_project
    from core.project import Project

    project = Project.open(args.dir)
    evaluation = evaluate_project(project.root)
    if args.json:
        print(json.dumps(evaluation.to_dict()))
        return 0
    print(f"accuracy {evaluation.accuracy:.3f} on {evaluation.count} test clips")
    width = max(len(label) for label in evaluation.labels)
    print(f"{'class':<{width}}  precision  recall  clips")
    for c in evaluation.per_class:
        print(f"{c.label:<{width}}  {c.precision:>9.3f}  {c.recall:>6.3f}  {c.support:>5}")
    print(confusion_table(evaluation.labels, evaluation.confusion))
    if evaluation.mistakes:
        print("wrong:")
        for m in evaluation.mistakes:
            print(f"  {m.file}: {m.label} heard as {m.predicted} ({m.confidence:.2f})")
    return 0


# -- predict ---------------------------------------------------------------------------------------

def run_predict(args: argparse.Namespace) -> int:
    from core.audio import load
    from core.classifier import load_classifier
    from core.errors import EarshotError

    classifier = load_classifier(args.model)
    failed = 0
    for path in args.files:
        try:
            prediction = classifier.predict(load(path, classifier.audio.sample_rate))
        except EarshotError as error:
            failed += 1
            hint = f" ({error.hint})" if error.hint else ""
            print(f"earshot: error: {error.message}{hint}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": str(path), "error": error.message}), flush=True)
            continue
        if args.json:
            print(json.dumps({"file": str(path), **prediction.to_dict()}), flush=True)
        else:
            print(_prediction_text(str(path), prediction), flush=True)
    return 1 if failed else 0


def _prediction_text(name: str, prediction: Any) -> str:
    ranked = sorted(prediction.scores.items(), key=lambda item: -item[1])
    scores = "  ".join(f"{label} {p:.2f}" for label, p in ranked)
    if not prediction.windows:
        return f"{name}: {prediction.label} ({prediction.confidence:.2f})  [{scores}]"
    lines = [f"{name}: {prediction.label} (vote of {len(prediction.windows)} windows, "
             f"{prediction.confidence:.0%} agree)  [mean {scores}]"]
    lines += [f"  {w.start:7.2f}s  {w.label} ({w.confidence:.2f})" for w in prediction.windows]
    return "\n".join(lines)
