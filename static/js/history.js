// The history of runs: open one, delete one, pick two to compare.

import { api, listFrom } from "./api.js";
import { formatPercent, formatTime, shortRunId } from "./format.js";

export class RunHistory {
  /** `onOpen(run)`, `onCompare([runA, runB])`, `onError(message)`. */
  constructor(root, { onOpen, onCompare, onError }) {
    this.root = root;
    this.onOpen = onOpen;
    this.onCompare = onCompare;
    this.onError = onError;
    this.runs = new Map();
    this.body = root.querySelector("#history-table tbody");
    this.compareButton = root.querySelector("#compare-button");
    root.querySelector("#history-refresh").addEventListener("click", () => this.refresh());
    this.compareButton.addEventListener("click", () => {
      const ids = this.selectedIds();
      if (ids.length === 2) this.onCompare(ids.map((id) => this.runs.get(id)));
    });
  }

  selectedIds() {
    return [...this.body.querySelectorAll('input[type="checkbox"]:checked')].map((c) => c.value);
  }

  async refresh() {
    let runs;
    try {
      runs = listFrom(await api.listRuns(), "runs");
    } catch (error) {
      this.onError(`Couldn't load the run history: ${error.message}`);
      return;
    }
    const selected = new Set(this.selectedIds());
    this.runs = new Map(runs.map((run) => [String(run.id), run]));
    this.body.replaceChildren();
    if (!runs.length) {
      const row = this.body.insertRow();
      const cell = row.insertCell();
      cell.colSpan = 8;
      cell.className = "muted";
      cell.textContent = "No runs yet.";
    }
    for (const run of runs) this.body.append(this.row(run, selected.has(String(run.id))));
    this.syncCompare();
  }

  row(run, isSelected) {
    const tr = document.createElement("tr");
    tr.dataset.runId = run.id;
    const pick = document.createElement("input");
    pick.type = "checkbox";
    pick.value = String(run.id);
    pick.checked = isSelected;
    pick.setAttribute("aria-label", `Select run ${run.id} for comparison`);
    pick.addEventListener("change", () => this.syncCompare());
    const shortId = document.createElement("span");
    shortId.textContent = shortRunId(run.id);
    shortId.title = String(run.id);
    const cells = [
      pick,
      shortId,
      run.strategy_name || (run.strategy_id ? `strategy ${run.strategy_id}` : "unsaved code"),
      run.dataset || "",
      run.status || "",
      formatTime(run.created_at),
      run.metrics ? formatPercent(run.metrics.total_return) : "",
    ];
    for (const content of cells) {
      const td = document.createElement("td");
      td.append(content);
      tr.append(td);
    }
    tr.cells[4].className = `status status-${run.status}`;
    tr.cells[6].className = "num";
    const actions = document.createElement("td");
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = "Open";
    open.setAttribute("aria-label", `Open run ${run.id}`);
    open.addEventListener("click", () => this.onOpen(run));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "danger";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete run ${run.id}`);
    remove.addEventListener("click", () => this.remove(run));
    actions.append(open, " ", remove);
    tr.append(actions);
    return tr;
  }

  syncCompare() {
    const count = this.selectedIds().length;
    this.compareButton.disabled = count !== 2;
    this.compareButton.textContent = count === 2 ? "Compare the two selected runs" : `Compare (select 2, ${count} selected)`;
  }

  async remove(run) {
    if (!window.confirm(`Delete run ${run.id} and everything it produced?`)) return;
    try {
      await api.deleteRun(run.id);
    } catch (error) {
      this.onError(`Couldn't delete run ${run.id}: ${error.message}`);
      return;
    }
    await this.refresh();
  }
}
