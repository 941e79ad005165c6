"""Live mode of an exported model (`python predict.py --listen`, what `earshot deploy` runs on a board):
microphone -> windows -> decisions -> stdout and an MQTT broker.

The windows, smoothing, threshold and suppression are `stream.Streamer`, the code behind `earshot listen`.
Each optional package (sounddevice, paho-mqtt, the TFLite interpreter) is imported only when its feature
is used, and a missing one is reported in one line that names it. Python 3.7 syntax; copied verbatim
into bundles with the rest of the runtime.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from .audio import resample
from .bundle import Bundle, BundleError, load_bundle
from .stream import Streamer

PACKAGES = {"sounddevice": "sounddevice", "paho": "paho-mqtt"}


class Missing(Exception):
    """Something the requested feature needs is not there; the message says how to fix it."""


def need(module: str, feature: str) -> Any:
    """Import `module` for `feature`, or raise Missing naming the pip package (or PortAudio)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        package = PACKAGES.get(module.split(".")[0], module.split(".")[0])
        raise Missing("{} needs the {} package: python3 -m pip install {}".format(
            feature, package, package)) from None
    except OSError as exc:  # sounddevice without the PortAudio library
        raise Missing("{} needs PortAudio ({}): sudo apt-get install libportaudio2".format(
            feature, exc)) from None


class StreamResampler:
    """Resample a stream block by block to what earshot_runtime's `resample` gives for the whole signal.

    Input is converted in steps of ~20 ms (a multiple of the rate ratio's denominator) with `margin`
    samples of context on each side, so every output sample sees the same taps as in one piece.
    """

    def __init__(self, orig_sr: int, target_sr: int) -> None:
        from math import gcd

        from .audio import _filters

        self.orig, self.target = int(orig_sr), int(target_sr)
        g = gcd(self.orig, self.target)
        self.up, self.down = self.target // g, self.orig // g
        half = _filters(self.up, self.down)[1]
        self.margin = -(-half // self.down) * self.down
        self.step = max(1, int(round(self.orig * 0.02 / self.down))) * self.down
        self.buffer = np.zeros(self.margin, dtype=np.float32)  # the zeros before the stream
        self.start = self.margin  # first input sample not converted yet

    @property
    def pending(self) -> int:
        """Input samples received but not converted yet (the lookahead)."""
        return self.buffer.size - self.start

    def process(self, block: np.ndarray) -> np.ndarray:
        """`float32 [n]` at the input rate -> the output samples now complete, `float32 [m]`."""
        self.buffer = np.concatenate([self.buffer, np.asarray(block, dtype=np.float32).reshape(-1)])
        out: List[np.ndarray] = []
        first = self.margin * self.up // self.down
        size = self.step * self.up // self.down
        while self.pending >= self.step + self.margin:
            piece = self.buffer[self.start - self.margin:self.start + self.step + self.margin]
            out.append(resample(piece, self.orig, self.target)[first:first + size])
            self.start += self.step
        drop = self.start - self.margin
        if drop > 0:
            self.buffer, self.start = self.buffer[drop:], self.start - drop
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def input_settings(sd: Any, device: Any, max_channels: int, rates: List[int]) -> Optional[Any]:
    """(rate, channels) of the first of `rates` the input `device` records at (mono first, then its
    own channel count, to be mixed down), or None. Shared with earshot's own microphone source."""
    for channels in sorted({1, max(1, int(max_channels))}):
        for rate in rates:
            try:
                sd.check_input_settings(device=device, channels=channels, samplerate=rate, dtype="float32")
                return int(rate), channels
            except Exception:  # PortAudioError or ValueError: not this combination
                continue
    return None


class Microphone:
    """Mono float32 blocks at the model's rate from a PortAudio input; the callback only queues them.

    A microphone that cannot record at the model's rate (USB microphones opened as `hw:` devices record
    at 44.1 or 48 kHz only) is opened at its own rate and resampled here, and a stereo-only one mixed down.
    """

    def __init__(self, rate: int, device: Optional[str] = None, mic_rate: Optional[int] = None,
                 block_seconds: float = 0.02) -> None:
        import queue

        self.sd = need("sounddevice", "listening to a microphone")
        self.rate = int(rate)
        self.device: Any = int(device) if isinstance(device, str) and device.isdigit() else device
        self.block_seconds = block_seconds
        self.queue: Any = queue.Queue(maxsize=int(30 / block_seconds))
        self.overflows = 0
        self.stream: Any = None
        try:
            info = self.sd.query_devices(self.device, "input")
        except (ValueError, self.sd.PortAudioError) as exc:
            if device is None:
                raise Missing("no microphone found ({}): plug one in, or choose one with --device "
                              "(python3 -m sounddevice lists them)".format(exc)) from None
            raise Missing("no microphone {!r} ({}); python3 -m sounddevice lists them".format(
                device, exc)) from None
        self.name = str(info["name"])
        self.device_rate, self.channels = self._choose(info, mic_rate)
        self.resampler: Optional[StreamResampler] = None
        if self.device_rate != self.rate:
            self.resampler = StreamResampler(self.device_rate, self.rate)

    def _choose(self, info: Any, mic_rate: Optional[int]) -> Any:
        rates = [int(mic_rate)] if mic_rate else [self.rate, int(info["default_samplerate"]), 48000, 44100]
        chosen = input_settings(self.sd, self.device, int(info["max_input_channels"]), rates)
        if chosen is not None:
            return chosen
        raise Missing("{} records at none of {} Hz; choose another with --device".format(
            self.name, ", ".join(map(str, rates)))) from None

    def __enter__(self) -> "Microphone":
        import time

        def callback(indata: np.ndarray, frames: int, when: Any, status: Any) -> None:
            if status.input_overflow:
                self.overflows += 1
            block = indata[:, 0].copy() if indata.shape[1] == 1 else indata.mean(axis=1)
            try:
                self.queue.put_nowait((block, time.monotonic()))
            except Exception:  # full: the classifier fell 30 s behind; drop rather than grow
                self.overflows += 1

        try:
            self.stream = self.sd.InputStream(device=self.device, samplerate=self.device_rate,
                                              channels=self.channels, dtype="float32",
                                              blocksize=max(1, int(self.device_rate * self.block_seconds)),
                                              latency="low", callback=callback)
            self.stream.start()
        except self.sd.PortAudioError as exc:
            raise Missing("cannot open {} at {} Hz ({}); choose another with --device".format(
                self.name, self.device_rate, exc)) from None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.stream is not None:
            self.stream.stop()
            self.stream.close()

    def read(self, timeout: float) -> Any:
        """(block at the model's rate, when its last sample was captured), or None after `timeout`."""
        import queue

        try:
            block, arrived = self.queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if self.resampler is None:
            return block, arrived
        block = self.resampler.process(block)
        return block, arrived - self.resampler.pending / float(self.device_rate)


class Publisher:
    """Publish decisions to an MQTT broker with paho-mqtt 1.x or 2.x; reconnects by itself.

    on_change: only when the label changes; min_interval: at least this many seconds between messages
    (a change inside it is sent when it ends): the rules of `earshot listen --push`.
    """

    def __init__(self, push: Dict[str, Any], report: Callable[[str], None]) -> None:
        import threading

        mqtt = need("paho.mqtt.client", "--push")
        self.push, self.report = push, report
        self.topic = str(push.get("topic") or "siot/earshot")
        self.qos = int(push.get("qos", 0))
        self.json = push.get("payload", "label") == "json"
        self.on_change = bool(push.get("on_change", True))
        self.min_interval = float(push.get("min_interval", 0) or 0)
        self.host, self.port = str(push.get("host", "localhost")), int(push.get("port", 1883))
        self.where = "{}:{}".format(self.host, self.port)
        self.sent = self.lost = self.skipped = 0
        self.last_label: Optional[str] = None
        self.last_time = float("-inf")
        self.held: Optional[Dict[str, Any]] = None
        self.connected = threading.Event()
        self.stopping = False
        if hasattr(mqtt, "CallbackAPIVersion"):
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        else:
            self.client = mqtt.Client()
        if push.get("username"):
            self.client.username_pw_set(str(push["username"]), str(push.get("password") or ""))
        if push.get("tls"):
            self.client.tls_set()
        self.client.reconnect_delay_set(1, 8)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    def start(self) -> "Publisher":
        self.report("push: connecting to {}".format(self.where))
        try:
            self.client.connect_async(self.host, self.port, keepalive=15)
        except (OSError, ValueError) as exc:
            self.report("push: cannot reach {} ({})".format(self.where, exc))
        self.client.loop_start()
        return self

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, properties: Any = None) -> None:
        failed = rc.is_failure if hasattr(rc, "is_failure") else rc != 0
        if failed:
            refused = "authori" in str(rc).lower() or rc in (4, 5)
            self.report("push: not authorised: check the user name and password" if refused
                        else "push: {} refused the connection ({})".format(self.where, rc))
            return
        self.connected.set()
        self.last_label = None  # after a reconnect the current label is sent again
        self.report("push: connected to {}".format(self.where))

    def _on_disconnect(self, client: Any, *args: Any) -> None:
        if self.connected.is_set() and not self.stopping:
            self.report("push: connection to {} lost".format(self.where))
        self.connected.clear()

    def offer(self, decision: Dict[str, Any], now: float) -> None:
        """Apply the publishing rules to one decision (a dict; `now`: time.monotonic())."""
        if self.on_change and decision["label"] == self.last_label:
            self._drop_held()
            self.skipped += 1
            return
        if now - self.last_time < self.min_interval:
            if self.on_change:
                self._drop_held()
                self.held = decision
            else:
                self.skipped += 1
            return
        self._drop_held()
        self._send(decision, now)

    def tick(self, now: float) -> None:
        """Send a held decision once its interval has passed."""
        if self.held is not None and now - self.last_time >= self.min_interval:
            held, self.held = self.held, None
            self._send(held, now)

    def _drop_held(self) -> None:
        if self.held is not None:
            self.held = None
            self.skipped += 1

    def _send(self, decision: Dict[str, Any], now: float) -> None:
        self.last_label, self.last_time = decision["label"], now
        if not self.connected.is_set():
            self.lost += 1
            return
        payload = json.dumps(decision) if self.json else decision["label"]
        self.client.publish(self.topic, payload, qos=self.qos)
        self.sent += 1

    def stop(self) -> None:
        import time

        deadline = time.monotonic() + 2.0  # let queued QoS 1 messages go out
        while self.client.want_write() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.stopping = True
        self.client.disconnect()
        self.client.loop_stop()
        self.report("push: stopped: {} sent, {} lost (not connected), {} skipped (unchanged or too soon)"
                    .format(self.sent, self.lost, self.skipped))


class Timing:
    """Window end to decision latency and CPU share while listening (`--stats`)."""

    def __init__(self) -> None:
        import time

        self.latencies: List[float] = []
        self.cpu0, self.wall0 = time.process_time(), time.monotonic()

    def summary(self) -> Dict[str, Any]:
        import time

        wall = max(1e-9, time.monotonic() - self.wall0)
        lat = np.array(self.latencies or [float("nan")]) * 1000
        cpu = 100 * (time.process_time() - self.cpu0) / wall
        return {"stats": {"windows": len(self.latencies), "seconds": round(wall, 2),
                          "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 2),
                                         "p95": round(float(np.percentile(lat, 95)), 2),
                                         "max": round(float(np.max(lat)), 2)},
                          "cpu_percent_of_one_core": round(cpu, 2)}}


def listen_parser(default_model: str = "") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="predict.py --listen",
        description="Classify live sound from a microphone with this model, like 'earshot listen'.")
    parser.add_argument("--listen", action="store_true", help="live mode (this one)")
    parser.add_argument("--model", help="the model file to run (default: {})".format(default_model or "auto"))
    parser.add_argument("--device", help="microphone number or name (python3 -m sounddevice lists them)")
    parser.add_argument("--threshold", type=float,
                        help="smallest confidence reported "
                             "(default: the project's validation setting, else 0.5)")
    parser.add_argument("--smooth", type=int, help="windows averaged "
                                                   "(default: the project's validation setting, else 3)")
    parser.add_argument("--hop", type=float, help="seconds between windows (default: 0.25)")
    parser.add_argument("--mic-rate", type=int, help="record at this rate and resample (default: the "
                                                     "model's rate when the microphone has it)")
    parser.add_argument("--background", action="store_true", help="also report Background Noise")
    parser.add_argument("--push", metavar="URL", help="publish labels to mqtt://user:password@host:port/topic")
    parser.add_argument("--payload", choices=("label", "json"), help="the bare label (default) or JSON")
    parser.add_argument("--json", action="store_true", help="print one JSON object per decision")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    parser.add_argument("--stats", action="store_true", help="print latency and CPU use at the end")
    parser.add_argument("--config", help="a listen.json written by 'earshot deploy'")
    return parser


def push_from_url(url: str, topic: str = "") -> Dict[str, Any]:
    """mqtt[s]://user:password@host:port/topic (a bare host[:port] means mqtt://) -> the settings
    `earshot deploy` writes to listen.json. The rules of core/push/settings.py's parse_mqtt_url: a
    missing user means siot/dfrobot, a user alone an empty password, a missing topic `topic` ("" here
    means the bundle's default topic, filled in once the model is loaded)."""
    from urllib.parse import unquote, urlsplit

    text = url.strip()
    if "://" not in text:
        text = "mqtt://" + text
    hint = "use mqtt://user:password@host:1883/topic"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise Missing("{!r} is not a broker address (bad port): {}".format(url, hint)) from None
    scheme = "mqtt" if parts.scheme == "tcp" else parts.scheme
    if scheme not in ("mqtt", "mqtts") or not parts.hostname or port == 0:
        raise Missing("{!r} is not a broker address: {}".format(url, hint))
    tls = scheme == "mqtts"
    named = unquote(parts.path.lstrip("/")) + ("#" if "#" in url else "")
    chosen = named or topic
    if any(c.isspace() for c in parts.hostname) or any(c in chosen for c in "#+\0"):
        raise Missing("{!r} is not a broker address: {}".format(url, hint))
    return {"host": parts.hostname, "port": port or (8883 if tls else 1883), "tls": tls,
            "username": unquote(parts.username) if parts.username is not None else "siot",
            "password": unquote(parts.password or "") if parts.username is not None else "dfrobot",
            "topic": chosen}


def listen_options(argv: Optional[List[str]], default_model: str = "") -> Dict[str, Any]:
    """listen.json (if given) overridden by the command line."""
    args = listen_parser(default_model).parse_args(argv)
    options: Dict[str, Any] = {}
    if args.config is not None:
        try:
            with open(args.config, encoding="utf-8") as handle:
                options.update(json.load(handle))
        except (OSError, ValueError) as exc:
            raise Missing("cannot read {}: {}".format(args.config, exc)) from None
    for name in ("model", "device", "threshold", "smooth", "hop", "seconds", "mic_rate"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    for name in ("background", "json", "stats"):
        if getattr(args, name):
            options[name] = True
    if args.push:
        options["push"] = push_from_url(args.push)
    if args.payload and options.get("push"):
        options["push"]["payload"] = args.payload
    return options


def open_stream(options: Dict[str, Any], folder: str, default_model: str = "") -> Any:
    """(model, Streamer) with the options, the project's saved threshold and smoothing as the defaults
    and its default topic where --push named none."""
    model_file = options.get("model") or default_model or None
    try:
        model: Bundle = load_bundle(folder, os.path.basename(model_file) if model_file else None)
    except BundleError as exc:
        raise Missing("{} ({})".format(exc.message, exc.hint)) from None
    except ImportError as exc:  # no TFLite interpreter
        raise Missing("running the model needs the ai-edge-litert package: python3 -m pip install "
                      "ai-edge-litert (tflite-runtime on Python 3.7/3.8) [{}]".format(exc)) from None
    saved = model.metadata.get("validate") or {}
    if options.get("push") and not options["push"].get("topic"):  # as `earshot listen --push mqtt://HOST`
        options["push"]["topic"] = str(model.metadata.get("push_topic") or "siot/earshot")
    try:
        stream = Streamer(model.scores, model.labels, model.sample_rate, model.clip_samples,
                          hop_seconds=float(options.get("hop", 0.25)),
                          smooth_windows=int(options.get("smooth", saved.get("smooth_windows", 3))),
                          threshold=float(options.get("threshold", saved.get("threshold", 0.5))),
                          report_background=bool(options.get("background")))
    except ValueError as exc:
        raise Missing(str(exc)) from None
    return model, stream


def listen_main(argv: Optional[List[str]], folder: str, default_model: str, *, out: Callable[[str], None],
                report: Callable[[str], None]) -> int:
    """`predict.py --listen` for the model in `folder`: microphone -> windows -> decisions, each a line
    through `out` and a message to the broker; status and errors go to `report`. Returns the exit code."""
    import signal
    import threading
    import time

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    publisher: Optional[Publisher] = None
    options: Dict[str, Any] = {}
    timing = Timing()
    try:
        options = listen_options(argv, default_model)
        model, stream = open_stream(options, folder, default_model)
        rate = model.sample_rate
        with Microphone(rate, options.get("device"), options.get("mic_rate")) as mic:
            if options.get("push"):
                publisher = Publisher(options["push"], report).start()
                publisher.connected.wait(3.0)
            pushing = "; pushing to {}/{}".format(publisher.where, publisher.topic) if publisher else ""
            at = ("{} Hz".format(rate) if mic.resampler is None
                  else "{} Hz (resampled to {} Hz)".format(mic.device_rate, rate))
            report("predict.py: listening to {} at {} for {}{}".format(mic.name, at, ", ".join(model.labels),
                                                                    pushing))
            timing = Timing()
            limit = options.get("seconds")
            seen = 0
            while not stop.is_set() and (limit is None or seen < limit * rate):
                got = mic.read(0.2)
                if publisher is not None:
                    publisher.tick(time.monotonic())
                if got is None:
                    continue
                block, arrived = got
                seen += block.size
                for window in stream.process(block):
                    done = time.monotonic()
                    end = int(round(window.time * rate))
                    timing.latencies.append(done - (arrived - (seen - end) / rate))
                    if window.decision is None:
                        continue
                    decision = window.decision.to_dict()
                    if options.get("json"):
                        out(json.dumps(decision))
                    else:
                        out("{:8.2f} s  {}  {:.0%}".format(decision["time"], decision["label"],
                                                            decision["confidence"]))
                    if publisher is not None:
                        publisher.offer(decision, done)
    except Missing as exc:
        report("predict.py: error: {}".format(exc))
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        if publisher is not None:
            publisher.stop()
    if options.get("stats"):
        report(json.dumps(timing.summary()))
    return 0
