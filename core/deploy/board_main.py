"""earshot on a MicroPython board: this file is flashed as the board's main.py.

It loads the labels of the trained model. When the firmware has a TFLite module (microlite) and the
user's `earshot_hooks.py` supplies features, it runs the int8 model on the board; otherwise it joins
Wi-Fi, subscribes to the MQTT topic that `earshot listen --push` publishes to (DFRobot SIoT by
default) and reacts to each label: it prints it and calls `on_label(label, confidence)` from
`earshot_hooks.py` if that file exists (flashing never overwrites it).

It is plain Python that runs on MicroPython and CPython alike (tests run its label handling on both).
"""

# The block between the two markers is replaced by `earshot flash` with the settings of the flash.
# --- earshot config ---
CONFIG = {
    "dir": "/",
    "model": "model_int8.tflite",
    "labels": "labels.txt",
    "broker": "",
    "port": 1883,
    "user": "siot",
    "password": "dfrobot",
    "topic": "earshot/device",
    "wifi_ssid": "",
    "wifi_password": "",
    "client_id": "earshot-board",
}
# --- end config ---


def path_of(name):
    """A file of the flashed model, in the folder it was flashed to."""
    folder = str(CONFIG["dir"]).rstrip("/")
    return folder + "/" + name if folder else "/" + name


def load_labels(path=None):
    """The model's labels, one per line, in output order."""
    with open(path or path_of(CONFIG["labels"])) as handle:
        return [line.strip() for line in handle.read().split("\n") if line.strip()]


def parse_message(payload):
    """(label, confidence or None) from a pushed message: a bare label, or JSON with "label"."""
    text = bytes(payload).decode("utf-8") if isinstance(payload, (bytes, bytearray)) else str(payload)
    text = text.strip()
    if text.startswith("{"):
        import json

        data = json.loads(text)
        confidence = data.get("confidence")
        return str(data.get("label", "")), (float(confidence) if confidence is not None else None)
    return text, None


def default_on_label(label, confidence):
    """What happens for each label when the user has no earshot_hooks.py: nothing beyond the print."""


def user_hook():
    """`on_label` from the user's earshot_hooks.py on the board, else the default."""
    try:
        import earshot_hooks

        return earshot_hooks.on_label
    except (ImportError, AttributeError):
        return default_on_label


class Reactor:
    """Turns incoming messages into calls of the hook, ignoring labels the model does not know."""

    def __init__(self, labels, hook=None):
        self.labels = labels
        self.hook = hook or user_hook()
        self.last = None
        self.count = 0

    def handle(self, topic, payload):
        try:
            label, confidence = parse_message(payload)
        except (ValueError, UnicodeError):
            print("earshot: ignored a message that is not a label:", payload)
            return None
        if label not in self.labels:
            print("earshot: ignored unknown label", repr(label))
            return None
        self.last = label
        self.count += 1
        if confidence is None:
            print("earshot:", label)
        else:
            print("earshot: %s %.2f" % (label, confidence))
        self.hook(label, confidence)
        return label


def connect_wifi(timeout_s=20):
    """Join the configured Wi-Fi network (boards with a network module); True when connected."""
    import time

    import network

    station = network.WLAN(network.STA_IF)
    station.active(True)
    if not station.isconnected():
        station.connect(CONFIG["wifi_ssid"], CONFIG["wifi_password"])
        waited = 0
        while not station.isconnected() and waited < timeout_s * 10:
            time.sleep(0.1)
            waited += 1
    return station.isconnected()


def run_mqtt(reactor):
    """Subscribe to the push topic and hand every message to the reactor, reconnecting on errors."""
    import time

    from umqtt.simple import MQTTClient

    while True:
        try:
            client = MQTTClient(CONFIG["client_id"], CONFIG["broker"], port=CONFIG["port"],
                                user=CONFIG["user"] or None, password=CONFIG["password"] or None)
            client.set_callback(reactor.handle)
            client.connect()
            client.subscribe(str(CONFIG["topic"]).encode())
            print("earshot: listening on", CONFIG["broker"], CONFIG["topic"])
            while True:
                client.wait_msg()
        except OSError as exc:
            print("earshot: broker connection lost:", exc, "- retrying in 5 s")
            time.sleep(5)


def run_model(reactor, interpreter_module, read_features):
    """Classify features from the user's `read_features()` with the int8 model, forever."""
    with open(path_of(CONFIG["model"]), "rb") as handle:
        model = handle.read()
    scores: list = []

    def fill_input(interpreter):
        tensor = interpreter.getInputTensor(0)
        for index, value in enumerate(read_features()):
            tensor.setValue(index, value)

    def read_output(interpreter):
        tensor = interpreter.getOutputTensor(0)
        scores[:] = [tensor.getValue(i) for i in range(len(reactor.labels))]

    interpreter = interpreter_module.interpreter(model, 60 * 1024, fill_input, read_output)
    while True:
        interpreter.invoke()
        best = max(range(len(scores)), key=lambda i: scores[i])
        reactor.handle(None, reactor.labels[best])


def main():
    labels = load_labels()
    reactor = Reactor(labels)
    print("earshot: model labels", labels)
    try:
        import earshot_hooks
        import microlite

        read_features = earshot_hooks.read_features
    except (ImportError, AttributeError):
        read_features = None
    if read_features is not None:
        run_model(reactor, microlite, read_features)
    elif not CONFIG["broker"]:
        print("earshot: no broker configured; flash again with --mqtt mqtt://user:pass@host:1883/topic")
    else:
        if CONFIG["wifi_ssid"] and not connect_wifi():
            print("earshot: could not join Wi-Fi", CONFIG["wifi_ssid"])
            return
        run_mqtt(reactor)


if __name__ == "__main__":
    main()
