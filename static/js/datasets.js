// Dataset import from the page: choose a file and the options of `strategylab data import`,
// "Check" uploads it and shows the server's validation report (nothing is stored yet), then
// "Store" keeps it as the dataset's next version or "Cancel" discards it. The server keeps
// the checked file for an hour (POST/DELETE /api/datasets/uploads, docs/ui.md).

import { request } from "./api.js";

const UPLOADS = "/api/datasets/uploads";

const uploadUrl = (id, action = "") =>
  `${UPLOADS}/${encodeURIComponent(id)}${action ? `/${action}` : ""}`;

/** "2024-01-01T00:00:00Z" -> "2024-01-01 00:00" (the report's times are UTC). */
function shortUtc(text) {
  return text ? String(text).replace("T", " ").replace(/:\d\d(\.\d+)?(Z|\+00:00)?$/, "") : "-";
}

export class DatasetImport {
  /**
   * @param {HTMLDialogElement} dialog the import dialog (templates/index.html)
   * @param {{ onStored: (dataset: object) => Promise<void> | void }} hooks
   */
  constructor(dialog, { onStored }) {
    this.dialog = dialog;
    this.onStored = onStored;
    this.upload = null; // the staged upload the report shows, until stored or discarded
    const $ = (selector) => dialog.querySelector(selector);
    this.form = $("#dataset-import-form");
    this.fields = {
      file: $("#import-file"),
      symbol: $("#import-symbol"),
      timeframe: $("#import-timeframe"),
      map: $("#import-map"),
      market: $("#import-market"),
      format: $("#import-format"),
      replace: $("#import-replace"),
      mark: $("#import-mark"),
    };
    this.error = $("#import-error");
    this.report = $("#import-report");
    this.summary = $("#import-summary");
    this.facts = $("#import-facts");
    this.missing = $("#import-missing");
    this.problems = $("#import-problems");
    this.checkButton = $("#import-check");
    this.storeButton = $("#import-store");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.check();
    });
    $("#import-close").addEventListener("click", () => this.dialog.close());
    $("#import-cancel").addEventListener("click", () => this.cancel());
    this.storeButton.addEventListener("click", () => this.store());
    // Changing the file or an option makes the report stale: check again before storing.
    this.form.addEventListener("input", () => { if (this.upload) this.discard(); });
    this.dialog.addEventListener("close", () => { if (this.upload) this.discard(); });
  }

  open() {
    this.showError("");
    if (!this.dialog.open) this.dialog.showModal();
    this.fields.file.focus();
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
  }

  /** Uploads the chosen file with the options and shows the report; stores nothing. */
  async check() {
    const [file] = this.fields.file.files;
    if (!file) {
      this.showError("Choose a file first: a CSV, Parquet or Binance zip file.");
      return;
    }
    if (this.upload) await this.discard();
    const form = new FormData();
    form.append("file", file, file.name);
    for (const name of ["symbol", "timeframe", "map", "market", "format"]) {
      form.append(name, this.fields[name].value.trim());
    }
    form.append("replace", String(this.fields.replace.checked));
    form.append("mark", String(this.fields.mark.checked));
    this.showError("");
    this.checkButton.disabled = true;
    this.checkButton.textContent = "Checking…";
    try {
      this.upload = await request("POST", UPLOADS, { form });
      this.showReport(this.upload);
    } catch (error) {
      this.showError(`The file was not accepted: ${error.message}`);
    } finally {
      this.checkButton.disabled = false;
      this.checkButton.textContent = "Check";
    }
  }

  showReport(upload) {
    this.summary.textContent = `· ${upload.summary}`;
    const mapping = Object.entries(upload.mapping || {})
      .filter(([found, standard]) => found !== standard)
      .map(([found, standard]) => `${found} → ${standard}`);
    const facts = [
      ["Dataset", upload.dataset || "not yet known"],
      ["File", `${upload.file_name} (${upload.size_bytes.toLocaleString("en-US")} bytes)`],
      ["Rows", upload.rows.toLocaleString("en-US")],
      ["Range (UTC)", `${shortUtc(upload.first_bar)} → ${shortUtc(upload.last_bar)}`],
      ["Gaps", `${upload.gap_bars.toLocaleString("en-US")} missing bars`],
      ["Duplicates", `${upload.duplicate_bars.toLocaleString("en-US")} bars`],
      ["Columns", (upload.columns || []).join(", ") || "from the archive"],
    ];
    if (mapping.length) facts.push(["Read as", mapping.join(", ")]);
    this.facts.replaceChildren(...facts.flatMap(([term, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      return [dt, dd];
    }));
    this.missing.replaceChildren(...upload.missing.map((sentence) => {
      const item = document.createElement("li");
      item.textContent = `Still needed: ${sentence}.`;
      return item;
    }));
    const body = this.problems.tBodies[0];
    body.replaceChildren(...upload.problems.map((problem) => {
      const row = body.insertRow();
      row.className = `severity-${problem.severity}`;
      const cells = [problem.severity, problem.message, problem.count.toLocaleString("en-US"),
        shortUtc(problem.first_time)];
      for (const text of cells) row.insertCell().textContent = text;
      row.title = problem.code;
      return row;
    }));
    this.problems.hidden = !upload.problems.length;
    this.storeButton.disabled = !upload.is_storable;
    this.storeButton.title = upload.is_storable
      ? `Store as the next version of ${upload.dataset}`
      : "Fix what is listed (or fill in the missing fields) and check again";
    this.report.hidden = false;
  }

  /** Stores the checked upload, then lets the page list and select the new dataset. */
  async store() {
    if (!this.upload) return;
    this.storeButton.disabled = true;
    try {
      const stored = await request("POST", uploadUrl(this.upload.id, "store"));
      this.upload = null;
      this.resetForm();
      this.dialog.close();
      await this.onStored(stored);
    } catch (error) {
      this.storeButton.disabled = false;
      this.showError(`Nothing was stored: ${error.message}`);
    }
  }

  /** Discards the checked upload (Cancel): the server forgets the file. */
  async cancel() {
    await this.discard();
    this.showError("");
  }

  async discard() {
    const upload = this.upload;
    this.upload = null;
    this.report.hidden = true;
    if (!upload) return;
    try {
      await request("DELETE", uploadUrl(upload.id));
    } catch (error) {
      if (error.status !== 404) this.showError(`Couldn't discard the upload: ${error.message}`);
    }
  }

  resetForm() {
    this.form.reset();
    this.report.hidden = true;
  }
}
