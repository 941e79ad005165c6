"""Deploy tab: Export Model (zip), Flash to board (port picker, progress), Real-time Result Push."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static
from textual.worker import Worker, get_current_worker

from core.errors import EarshotError
from core.project import Project
from tui.hints import app_hint
from tui.messages import (
    ActionFailed,
    FlashFailed,
    FlashFinished,
    FlashProgressed,
    ModelExported,
    PortsListed,
    PushStatusChanged,
    PushStopped,
    poster,
)
from tui.screens.base import ProjectTab
from tui.widgets.board_deploy import BoardSection

STATS_SECONDS = 0.5
NO_BOARD = ("No board is plugged in: connect it with a USB data cable, then press g to look again "
            "(the machine's own serial ports are never a board).")


EXPORT_INTRO = "A zip with the TFLite model, labels, metadata and a standalone predict.py."


def accuracy_line(accuracy: dict[str, Any], kind: str, clips: int) -> str:
    """Which figure is which model: the project's model, then the small CNN the zip's .tflite files hold.

    `accuracy` is core.export's: keras, float32, int8 (the small CNN) and, for an ear model, its kind."""
    def pct(key: str) -> str | None:
        value = accuracy.get(key)
        return f"{value:.0%}" if isinstance(value, float) and value == value else None  # nan: no test clips

    figures = (("float", pct("float32")), ("int8", pct("int8")))
    small = ", ".join(f"{name} {figure}" for name, figure in figures if figure)
    if kind != "small" and pct(kind):
        return (f"test accuracy ({clips} clips): {kind} {pct(kind)}; "
                f"board model (small CNN) {small or 'not measured'}")
    if not small:
        return ""
    return f"test accuracy ({clips} clips) of the small CNN: {small}"


def port_label(port: Any) -> str:
    """A core.deploy.ports.BoardPort's label (or a plain port record's description)."""
    return str(getattr(port, "label", "") or getattr(port, "description", "") or "")


class DeployPane(ProjectTab):
    TITLE = "Deploy"
    TAB_ID = "deploy"
    KEY = "5"
    DEFAULT_FOCUS = ("#export-btn",)
    BINDINGS = [
        Binding("e", "export", "Export", tooltip="Export Model as a zip"),
        Binding("f", "flash", "Flash", tooltip="Flash the model to the board on the chosen port"),
        Binding("g", "refresh_ports", "Find boards", tooltip="Look for plugged-in boards again"),
        Binding("p", "push", "Push", tooltip="Real-time Result Push: connect to the broker"),
        Binding("o", "push_stop", "Stop push", tooltip="Real-time Result Push: disconnect"),
        Binding("t", "push_test", "Test msg", tooltip="Send a test message to the push topic"),
        Binding("b", "board_deploy", "Linux board", tooltip="Run on a Linux board over SSH"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label("Export Model", classes="section")
            with Horizontal(classes="button-row"):
                yield Button("Export Model", variant="primary", id="export-btn", classes="compact")
            yield Static(EXPORT_INTRO, id="export-result", classes="dim")
            yield Label("Flash to board", classes="section")
            with Horizontal(classes="form-row compact-row"):
                yield Label("Port")
                yield Select[str]([], prompt="Serial port", id="deploy-port", compact=True)
                yield Label("Folder")
                yield Input(placeholder="/", id="flash-dir", compact=True)
                yield Button("Refresh", id="ports-btn", classes="compact")
                yield Button("Flash", id="flash-btn", classes="compact")
            yield ProgressBar(total=100, id="flash-progress", show_eta=False, classes="hidden")
            yield Static("", id="flash-result")
            yield Label("Real-time Result Push (MQTT, e.g. SIoT)", classes="section")
            with Horizontal(classes="form-row compact-row push-form"):
                yield Label("Host")
                yield Input(placeholder="siot.local", id="push-host", compact=True)
                yield Label("Port")
                yield Input(placeholder="1883", id="push-port", type="integer", compact=True)
                yield Label("User")
                yield Input(placeholder="siot", id="push-user", compact=True)
            with Horizontal(classes="form-row compact-row push-form"):
                yield Label("Password")
                yield Input(placeholder="dfrobot", id="push-password", password=True, compact=True)
                yield Label("Topic")
                yield Input(placeholder="project/device", id="push-topic", compact=True)
            with Horizontal(classes="form-row compact-row push-form"):
                yield Label("Send")
                yield Select([("on change", "change"), ("every decision", "every")], id="push-when",
                             allow_blank=False, value="change", compact=True)
                yield Label("As")
                yield Select([("label", "label"), ("JSON", "json")], id="push-payload", allow_blank=False,
                             value="label", compact=True)
                yield Label("QoS")
                yield Select([("0", "0"), ("1", "1")], id="push-qos", allow_blank=False, value="0",
                             compact=True)
            with Horizontal(classes="button-row"):
                yield Button("Connect", variant="primary", id="push-btn", classes="compact")
                yield Button("Disconnect", id="push-stop-btn", classes="compact", disabled=True)
                yield Button("Send test message", id="push-test-btn", classes="compact")
            yield Static("Not pushing. Decisions from Validate > Listen are published while connected.",
                         id="push-status")
            yield BoardSection(self.need_project, self.push_settings)

    ports_found = 0

    def on_mount(self) -> None:
        self.set_interval(STATS_SECONDS, self.show_push_stats)

    def shown(self) -> None:
        if not getattr(self, "_listed", False):
            self._listed = True
            self.action_refresh_ports()

    def action_board_deploy(self) -> None:
        self.query_one(BoardSection).deploy()

    def show_project(self, project: Project | None) -> None:
        super().show_project(project)
        self.workers.cancel_group(self, "export")  # the previous project's export or flash
        self.workers.cancel_group(self, "flash")
        self.query_one("#export-result", Static).update(EXPORT_INTRO)
        self.query_one("#flash-result", Static).update(  # the boards found stay; the last flash goes
            f"{self.ports_found} board port(s) found." if self.ports_found
            else NO_BOARD if getattr(self, "_listed", False) else "")
        self.query_one("#flash-btn", Button).disabled = False
        self.query_one("#flash-progress", ProgressBar).add_class("hidden")
        self.query_one(BoardSection).show_project(project)
        if project is None:
            return
        from core.push.settings import PushSettings, default_topic, load_push_settings

        try:
            settings = load_push_settings(project) or PushSettings(topic=default_topic(project.name))
        except EarshotError:
            settings = PushSettings(topic=default_topic(project.name))
        self.fill_push_form(settings)

    def fill_push_form(self, settings: Any) -> None:
        for field, value in (("#push-host", settings.host), ("#push-port", str(settings.port)),
                             ("#push-user", settings.username), ("#push-password", settings.password),
                             ("#push-topic", settings.topic)):
            self.query_one(field, Input).value = value
        self.query_one("#push-when", Select).value = "change" if settings.on_change else "every"
        self.query_one("#push-payload", Select).value = settings.payload
        self.query_one("#push-qos", Select).value = str(settings.qos)

    # -- export -----------------------------------------------------------------------------

    @on(Button.Pressed, "#export-btn")
    def action_export(self) -> None:
        project = self.need_project()
        if project is not None:
            self.query_one("#export-result", Static).update("Exporting...")
            self.export(project)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export", description="Export Model")
    def export(self, project: Project) -> None:
        from core.export import export_project

        cancel = get_current_worker().cancelled_event
        try:
            result = export_project(project.root, cancel=cancel,
                                    on_status=poster(self, lambda text: FlashProgressed(text, -1.0)))
        except EarshotError as error:
            self.post_message(FlashProgressed(f"[red]Export failed:[/] {escape(error.message)}", -1.0))
            self.post_message(ActionFailed("Export Model failed", error))
            return
        contents = [f"{name} ({size / 1024:,.0f} KB)" for name, size in result.sizes.items()]
        accuracy = accuracy_line(result.accuracy, getattr(result, "kind", "small"), result.test_clips)
        if accuracy:
            contents.append(accuracy)
        self.post_message(ModelExported(Path(result.path), contents))

    def worker_crashed(self, worker: Worker[object]) -> None:
        if worker.group == "export":
            self.query_one("#export-result", Static).update("[red]Export failed[/] (see the message).")
        elif worker.group == "flash":
            self.query_one("#flash-btn", Button).disabled = False
            self.query_one("#flash-result", Static).update("[red]Flash failed[/] (see the message).")

    def on_model_exported(self, message: ModelExported) -> None:
        """Two lines (the path, then the files), so the Push section stays on screen."""
        from tui.paths import shown_path

        files = [line for line in message.contents if not line.startswith("test accuracy")]
        accuracy = [line for line in message.contents if line.startswith("test accuracy")]
        self.query_one("#export-result", Static).update(
            f"[b]Exported[/b] {shown_path(message.path)} ({len(files)} files)\n"
            f"[dim]{'; '.join(accuracy)}[/]")
        self.notify(str(message.path), title="Model exported")

    # -- flash ------------------------------------------------------------------------------

    @on(Button.Pressed, "#ports-btn")
    def action_refresh_ports(self) -> None:
        self.list_ports()

    @work(thread=True, exclusive=True, exit_on_error=False, group="ports", description="List serial ports")
    def list_ports(self) -> None:
        try:
            ports = self.services.serial_ports()
        except EarshotError as error:
            self.post_message(PortsListed([], error))
            return
        listed = [(str(getattr(p, "device", p)), port_label(p)) for p in ports]
        self.post_message(PortsListed(listed))

    def on_ports_listed(self, message: PortsListed) -> None:
        select = self.query_one("#deploy-port", Select)
        select.set_options([(f"{device} {label}"[:44].strip(), device) for device, label in message.ports])
        result = self.query_one("#flash-result", Static)
        self.ports_found = len(message.ports)
        if message.ports:
            select.value = message.ports[0][0]
            result.update(f"{len(message.ports)} board port(s) found.")
        elif message.error is not None:
            result.update(f"{message.error.message} ({app_hint(message.error.hint)})")
        else:
            result.update(NO_BOARD)

    @on(Button.Pressed, "#flash-btn")
    def action_flash(self) -> None:
        project = self.need_project()
        select = self.query_one("#deploy-port", Select)
        if project is None:
            return
        if select.is_blank():
            text = NO_BOARD if not self.ports_found else "Choose the board's port (g looks for boards again)."
            self.query_one("#flash-result", Static).update(text)
            self.notify(text, title="Flash to board", severity="warning")
            return
        from core.deploy.flash import BoardConfig

        try:
            push = self.push_settings(project)
        except EarshotError as error:
            self.fail("Flash to board", error)
            return
        folder = self.query_one("#flash-dir", Input).value.strip() or "/"
        config = BoardConfig(dir=folder, broker=push.host, port=push.port, user=push.username,
                             password=push.password, topic=push.topic)
        self.query_one("#flash-btn", Button).disabled = True
        progress = self.query_one("#flash-progress", ProgressBar)
        progress.update(total=100, progress=0)
        progress.remove_class("hidden")
        self.flash(project, str(select.value), config)

    @work(thread=True, exclusive=True, exit_on_error=False, group="flash", description="Flash to board")
    def flash(self, project: Project, port: str, config: Any) -> None:
        from core.deploy.flash import deployable_files, flash_files
        from core.export import export_project

        cancel = get_current_worker().cancelled_event

        def progress(step: Any) -> None:
            fraction = step.done_bytes / step.total_bytes if step.total_bytes else 0.0
            self.post_message(FlashProgressed(f"{step.step} {step.name}", fraction))

        try:
            self.post_message(FlashProgressed("exporting the model...", 0.0))
            exported = export_project(project.root, cancel=cancel)
            files = deployable_files(Path(exported.path), config)
            result = flash_files(files, port, remote_dir=config.dir, on_progress=progress, cancel=cancel)
        except EarshotError as error:
            self.post_message(FlashFailed(error))
            return
        summary = (f"wrote {', '.join(result.written) or 'nothing'} ({result.bytes_written:,} bytes in "
                   f"{result.seconds:.1f} s)")
        if result.skipped:
            summary += f"; unchanged: {', '.join(result.skipped)}"
        self.post_message(FlashFinished(port, summary))

    def on_flash_progressed(self, message: FlashProgressed) -> None:
        if message.fraction < 0:  # a status line of the export
            self.query_one("#export-result", Static).update(message.text)
            return
        self.query_one("#flash-progress", ProgressBar).update(total=100, progress=100 * message.fraction)
        self.query_one("#flash-result", Static).update(message.text)

    def on_flash_finished(self, message: FlashFinished) -> None:
        self.query_one("#flash-btn", Button).disabled = False
        self.query_one("#flash-progress", ProgressBar).update(total=100, progress=100)
        self.query_one("#flash-result", Static).update(f"[green]Flashed {message.port}[/]: {message.summary}")

    def on_flash_failed(self, message: FlashFailed) -> None:
        self.query_one("#flash-btn", Button).disabled = False
        self.query_one("#flash-result", Static).update(f"[red]Flash failed:[/] {message.error.message}")
        self.fail("Flash to board failed", message.error)

    # -- push -------------------------------------------------------------------------------

    def push_settings(self, project: Project) -> Any:
        from core.push.settings import PushSettings, load_push_settings

        try:
            base = load_push_settings(project) or PushSettings()
        except EarshotError:
            base = PushSettings()
        port = self.query_one("#push-port", Input).value.strip()
        return PushSettings.from_dict({
            **base.to_dict(),
            "host": self.query_one("#push-host", Input).value.strip() or base.host,
            "port": port or base.port,
            "username": self.query_one("#push-user", Input).value.strip(),
            "password": self.query_one("#push-password", Input).value,
            "topic": self.query_one("#push-topic", Input).value.strip() or base.topic,
            "on_change": self.query_one("#push-when", Select).value != "every",
            "payload": str(self.query_one("#push-payload", Select).value),
            "qos": int(str(self.query_one("#push-qos", Select).value)),
        })

    @on(Button.Pressed, "#push-btn")
    def action_push(self) -> None:
        from core.push.settings import save_push_settings

        project = self.need_project()
        if project is None:
            return
        if self.services.push.active:
            self.notify("Already pushing: o disconnects.", title="Real-time Result Push")
            return
        try:
            settings = self.push_settings(project)
            save_push_settings(project, settings)
            self.services.push.start(settings, poster(self, PushStatusChanged.of))
        except EarshotError as error:
            self.fail("Real-time Result Push", error)
            return
        self.push_line, self.push_reason = f"connecting to {settings.display_url}", ""
        self.query_one("#push-btn", Button).disabled = True
        self.query_one("#push-stop-btn", Button).disabled = False
        self.focus_if_active("#push-stop-btn")
        self.show_push_stats()

    def on_push_status_changed(self, message: PushStatusChanged) -> None:
        self.push_line = message.text
        self.push_reason = "" if message.state == "connected" else message.reason or self.push_reason
        self.show_push_stats()

    def show_push_stats(self) -> None:
        publisher = self.services.push.publisher
        if publisher is None:
            return
        stats = publisher.stats
        line = getattr(self, "push_line", "")
        reason = getattr(self, "push_reason", "")
        if stats.connected:
            state = f"[green]connected[/]: {line}"
        elif reason and reason != line:
            state = f"[yellow]not connected[/]: [b]{reason}[/]; {line}"
        else:
            state = f"[yellow]not connected[/]: {line}"
        last = self.services.push.last
        sent = f"last sent: {last}" if last else "Start Validate > Listen (4, l) to publish."
        self.query_one("#push-status", Static).update(
            f"{state}\n{stats.sent} sent, {stats.dropped} dropped, {stats.lost} lost, "
            f"{stats.skipped} unchanged. {sent}")

    @on(Button.Pressed, "#push-test-btn")
    def action_push_test(self) -> None:
        publisher = self.services.push.publisher
        if publisher is None or not publisher.connected:
            self.notify("Connect first (p); the test message goes to the topic once connected.",
                        title="Send test message", severity="warning")
            return
        self.services.push.send_test()
        self.notify("Test message sent: label \"test\".", title="Real-time Result Push", timeout=3)

    @on(Button.Pressed, "#push-stop-btn")
    def action_push_stop(self) -> None:
        publisher = self.services.push.detach()
        if publisher is None:
            self.notify("Not pushing: p connects.", title="Real-time Result Push")
            return
        self.stop_push(publisher)

    @work(thread=True, exclusive=False, exit_on_error=False, group="push-stop", description="Push disconnect")
    def stop_push(self, publisher: Any) -> None:
        stats = publisher.stop()
        self.post_message(PushStopped(stats.sent, stats.dropped))

    def on_push_stopped(self, message: PushStopped) -> None:
        self.query_one("#push-btn", Button).disabled = False
        self.query_one("#push-stop-btn", Button).disabled = True
        self.focus_if_active("#push-btn")
        reason = getattr(self, "push_reason", "")
        self.query_one("#push-status", Static).update(
            f"Disconnected: {message.sent} sent, {message.dropped} dropped."
            + (f" Last problem: {reason}." if reason else ""))
