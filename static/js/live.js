// The live view of one run: its websocket stream drawn as a progress bar with bars/s and ETA,
// an equity curve that grows, the strategy's log lines, and Cancel.

import { api, runSocketUrl } from "./api.js";
import { EquityChart } from "./charts.js";
import {
  formatDuration, formatNumber, formatTime, shortRunId, toEquityPoints,
} from "./format.js";

const FINAL_STATUSES = new Set(["done", "failed", "cancelled", "interrupted"]);
const MAX_LOG_LINES = 2000;
const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000];
// What the server says a run is doing before and after its bars (the `stage` of progress).
const STAGE_WORDS = {
  queued: "Queued: waiting for a free worker…",
  starting: "Starting the sandbox…",
  loading: "Loading the data…",
  indicators: "Computing indicators",
  running: "Running bars",
  storing: "Storing the results…",
};

/** The words for a progress message's stage, or "" while bars are running. */
export function stageText(message) {
  const stage = message.stage;
  if (!stage || stage === "running" || stage === "done") return "";
  const words = STAGE_WORDS[stage] || `${stage}…`;
  if (stage === "indicators" && message.indicators_total) {
    return `${words} ${message.indicators_done ?? 0} / ${message.indicators_total}…`;
  }
  return stage === "indicators" ? `${words}…` : words;
}

export class LiveView {
  /**
   * `root` holds the progress bar, stats, chart, log and Cancel button.
   * `onFinished(run)` fires once with the run record when it ends (done, failed or cancelled).
   */
  constructor(root, { onFinished, onMessage }) {
    this.root = root;
    this.onFinished = onFinished;
    this.onMessage = onMessage || (() => {});
    this.bar = root.querySelector("#live-progress");
    this.stats = root.querySelector("#live-stats");
    this.status = root.querySelector("#live-status");
    this.log = root.querySelector("#live-log");
    this.cancelButton = root.querySelector("#cancel-button");
    this.chart = null;
    this.socket = null;
    this.runId = null;
    this.pendingLogs = [];
    this.logFrame = 0;
    this.cancelButton.addEventListener("click", () => this.cancel());
  }

  /** Follows run `runId` from its current state to its end. */
  follow(runId, { title = "" } = {}) {
    this.stop();
    this.runId = runId;
    this.finished = false;
    this.attempt = 0;
    this.root.hidden = false;
    const name = `Run ${shortRunId(runId)}`;
    this.root.querySelector("#live-title").textContent = title ? `${name} · ${title}` : name;
    this.clearLogs();
    this.lastProgress = null;
    this.setProgress(0);
    this.stats.textContent = "Waiting for the first bars…";
    this.setStatus("queued");
    this.cancelButton.disabled = false;
    if (!this.chart) this.chart = new EquityChart(this.root.querySelector("#live-chart"), { withDrawdown: false });
    this.chart.clear();
    this.connect();
    // The server's name for what runs, whatever the page had open before.
    api.getRun(runId).then((run) => {
      if (this.runId === runId && run.strategy_name) {
        this.root.querySelector("#live-title").textContent = `${name} · ${run.strategy_name}`;
      }
    }).catch(() => {});
  }

  /** The run this view follows while it is live, else null. */
  currentRunId() {
    return this.finished ? null : this.runId;
  }

  /** Stops following and hides the view (the run itself goes on). */
  hide() {
    this.stop();
    this.root.hidden = true;
  }

  connect() {
    const runId = this.runId;
    const socket = new WebSocket(runSocketUrl(runId));
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      if (this.runId !== runId) return;
      this.attempt = 0;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.handle(message);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket || this.finished) return;
      // The stream ended before the run did: reconnect (the server replays the state first).
      const delay = RECONNECT_DELAYS_MS[Math.min(this.attempt, RECONNECT_DELAYS_MS.length - 1)];
      this.attempt += 1;
      this.stats.textContent = `Connection lost; reconnecting in ${delay / 1000} s…`;
      this.timer = window.setTimeout(() => this.reconcile(), delay);
    });
  }

  /** After a dropped stream: end if the run already finished, else listen again. */
  async reconcile() {
    if (this.finished) return;
    try {
      const run = await api.getRun(this.runId);
      if (FINAL_STATUSES.has(run.status)) {
        this.finish(run);
        return;
      }
    } catch {
      // the server may be restarting; try the socket again
    }
    if (!this.finished) this.connect();
  }

  handle(message) {
    this.onMessage(message);
    switch (message.type) {
      case "progress":
        this.showProgress(message);
        break;
      case "log":
        this.appendLogs(Array.isArray(message.lines) ? message.lines : [message]);
        break;
      case "skipped":
        this.appendLogs([{
          level: "info",
          message: `… ${formatNumber(message.lines, 0)} log lines skipped to keep up (all of them are in the run's Logs) …`,
        }]);
        break;
      case "equity":
        this.chart.append(toEquityPoints(message.points ?? message));
        break;
      case "status":
      case "state":
        if (message.status) this.setStatus(message.status);
        if (typeof message.pct === "number") this.showProgress(message);
        if (FINAL_STATUSES.has(message.status)) this.finishFromServer();
        break;
      case "done":
        if (this.lastProgress) this.showProgress({ ...this.lastProgress, stage: "done" });
        this.setProgress(100);
        this.setStatus("done");
        this.finishFromServer({ metrics: message.metrics });
        break;
      case "error":
        this.setStatus(message.status || "failed");
        if (message.status !== "cancelled") this.appendLogs([{ level: "error", message: message.message }]);
        this.finishFromServer({ error: { message: message.message, line: message.line } });
        break;
      case "cancelled":
        this.setStatus("cancelled");
        this.finishFromServer();
        break;
      default:
        break;
    }
  }

  showProgress(message) {
    if (message.status) this.setStatus(message.status);
    else if (this.status.dataset.status === "queued" && message.stage !== "queued") this.setStatus("running");
    this.lastProgress = message;
    this.setProgress(message.pct ?? 0);
    const parts = [];
    const stage = stageText(message);
    this.root.dataset.stage = message.stage || "";
    if (stage) parts.push(stage);
    if (message.bars_total) {
      parts.push(`${formatNumber(message.bars_done ?? 0, 0)} / ${formatNumber(message.bars_total, 0)} bars`);
    }
    if (message.bars_per_s) parts.push(`${formatNumber(Math.round(message.bars_per_s), 0)} bars/s`);
    if (typeof message.eta_s === "number" && (message.pct ?? 0) < 100) parts.push(`ETA ${formatDuration(message.eta_s)}`);
    if (typeof message.equity === "number") parts.push(`equity ${formatNumber(message.equity)}`);
    this.stats.textContent = parts.join(" · ");
  }

  setProgress(pct) {
    const value = Math.max(0, Math.min(100, Number(pct) || 0));
    this.bar.value = value;
    this.bar.setAttribute("aria-valuenow", String(Math.round(value)));
    this.bar.setAttribute("aria-valuetext", `${value.toFixed(1)} %`);
    this.root.querySelector("#live-pct").textContent = `${value.toFixed(value >= 100 ? 0 : 1)} %`;
  }

  setStatus(status) {
    this.status.dataset.status = status;
    this.status.textContent = status;
  }

  /**
   * Queues log lines for the next frame. A log-heavy run sends thousands of one-line messages;
   * drawing each at once (append, trim, scroll to the end) laid the 2,000-line list out again
   * per message, ~12 ms each in headless Chromium, so the page fell minutes behind its stream.
   */
  appendLogs(lines) {
    this.pendingLogs.push(...lines);
    if (this.pendingLogs.length > MAX_LOG_LINES) {
      this.pendingLogs.splice(0, this.pendingLogs.length - MAX_LOG_LINES);
    }
    if (!this.logFrame) this.logFrame = window.requestAnimationFrame(() => this.drawLogs());
  }

  /** Draws the queued log lines: one layout per frame, however many lines arrived. */
  drawLogs() {
    this.logFrame = 0;
    const items = this.pendingLogs.map((line) => {
      const item = document.createElement("li");
      const level = line.level || "info";
      item.className = `log-${level}`;
      const when = line.time !== undefined ? `${formatTime(line.time)}  ` : "";
      item.textContent = `${when}${level !== "info" ? `${level.toUpperCase()}: ` : ""}${line.message ?? line.text ?? ""}`;
      return item;
    });
    this.pendingLogs = [];
    this.log.append(...items);
    while (this.log.childElementCount > MAX_LOG_LINES) this.log.firstElementChild.remove();
    this.log.scrollTop = this.log.scrollHeight;
  }

  clearLogs() {
    window.cancelAnimationFrame(this.logFrame);
    this.logFrame = 0;
    this.pendingLogs = [];
    this.log.replaceChildren();
  }

  /**
   * The stream said the run ended: fetch its record (retrying briefly while the server is still
   * writing it) and fall back to what the stream said.
   */
  async finishFromServer(streamed = {}) {
    if (this.finished) return;
    this.finished = true;
    this.cancelButton.disabled = true;
    const status = this.status.dataset.status;
    let run = null;
    for (let attempt = 0; attempt < 10; attempt += 1) {
      try {
        run = await api.getRun(this.runId);
        if (FINAL_STATUSES.has(run.status)) break;
      } catch {
        // keep what the stream said
      }
      await new Promise((resolve) => window.setTimeout(resolve, 300));
    }
    if (!run || !FINAL_STATUSES.has(run.status)) {
      run = { ...(run || { id: this.runId }), status, ...streamed };
    }
    this.finish(run);
  }

  finish(run) {
    this.finished = true;
    this.cancelButton.disabled = true;
    if (run.status) this.setStatus(run.status);
    if (run.status === "done") this.setProgress(100);
    if (run.status === "cancelled") this.stats.textContent = `Cancelled at ${this.bar.value.toFixed(1)} %.`;
    if (run.status === "failed") this.stats.textContent = "Failed: see the error above the results.";
    this.closeSocket();
    this.onFinished(run);
  }

  async cancel() {
    if (!this.runId || this.finished) return;
    this.cancelButton.disabled = true;
    this.stats.textContent = "Cancelling…";
    try {
      await api.cancelRun(this.runId);
    } catch (error) {
      if (error.status === 409) {
        // It ended on its own first: show how it ended rather than a refusal.
        this.reconcileAfterCancel();
        return;
      }
      this.stats.textContent = `Cancel failed: ${error.message}`;
      this.cancelButton.disabled = false;
      return;
    }
    // The stream reports the end; if it doesn't within a moment, ask the server.
    window.setTimeout(() => this.reconcileAfterCancel(), 1500);
  }

  async reconcileAfterCancel() {
    if (this.finished) return;
    try {
      const run = await api.getRun(this.runId);
      if (FINAL_STATUSES.has(run.status)) this.finish(run);
      else window.setTimeout(() => this.reconcileAfterCancel(), 1000);
    } catch {
      window.setTimeout(() => this.reconcileAfterCancel(), 1000);
    }
  }

  closeSocket() {
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close();
    }
  }

  stop() {
    window.clearTimeout(this.timer);
    this.finished = true;
    this.closeSocket();
  }
}
