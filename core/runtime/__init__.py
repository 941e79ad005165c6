"""earshot's runtime: everything that runs a trained model, with numpy and a TFLite interpreter only.

Python 3.7 syntax, no earshot imports outside this package, so exports copy it verbatim (as
`earshot_runtime/`) and boards run it. earshot itself imports it for predict, listen and eval.

    from earshot_runtime import load_bundle, load_audio, Streamer
    model = load_bundle("model-folder")        # metadata.json, labels.txt, model files (BundleError if bad)
    model.labels, model.sample_rate, model.clip_samples, model.kind   # kind: "small", "speech", ...
    model.scores(clip)                         # float32 [clip_samples] -> float32 [n_labels]
    model.scores_batch(clips)                  # float32 [n, clip_samples] -> float32 [n, n_labels]
    model.predict(load_audio("a.wav", model.sample_rate))   # {"label", "confidence", "scores", "windows"?}
    stream = Streamer(model.scores, model.labels, model.sample_rate, model.clip_samples,
                      hop_seconds=0.25, smooth_windows=3, threshold=0.5)
    for decision in stream.feed(block): ...    # Decision(time, label, confidence, scores); .to_dict()
    stream.process(block) -> [Window]          # every scored window (raw/smoothed scores, decision)

Modules: audio (resample, to_mono, fit_clip, load_audio, clip_starts/cut_clips, vote), tflite
(TFLiteModel: float/int8 I/O, quantize/dequantize), logmel (FeatureSpec, log_mel: the small CNN's
input), ears (registry of pretrained embeddings: speech, music), head (the trained head on embeddings),
stream (Streamer, Window, Decision), bundle (Bundle, load_bundle, BundleError).
"""

from __future__ import annotations

from .audio import clip_starts, cut_clips, fit_clip, load_audio, resample, to_mono, vote
from .bundle import Bundle, BundleError, load_bundle
from .stream import Decision, Streamer, Window
from .tflite import TFLiteModel

__all__ = ["Bundle", "BundleError", "Decision", "Streamer", "TFLiteModel", "Window", "clip_starts",
           "cut_clips", "fit_clip", "load_audio", "load_bundle", "resample", "to_mono", "vote"]
