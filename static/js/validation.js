// Validation while typing: the code goes to POST /api/validate a moment after the last key,
// and its diagnostics become editor squiggles and a clickable problems list.

import { api } from "./api.js";

const DELAY_MS = 350;

export class Validator {
  /** `editor` is a StrategyEditor; `list` the problems <ol>; `summary` a status element. */
  constructor(editor, list, summary) {
    this.editor = editor;
    this.list = list;
    this.summary = summary;
    this.sequence = 0;
    this.timer = null;
    this.appliedCode = null; // the code whose answer the page shows (problems, params form)
    this.onResult = () => {};
  }

  /** Validates `code` after a short pause (each new call restarts the pause). */
  schedule(code) {
    window.clearTimeout(this.timer);
    this.summary.textContent = "Checking…";
    this.timer = window.setTimeout(() => {
      this.timer = null;
      this.validate(code);
    }, DELAY_MS);
  }

  /** Resolves once the answer for `code` is applied, checking it now if it is not yet: a run
   * started right after an upload or an edit sends the params of that code, not stale ones. */
  async flush(code) {
    if (this.appliedCode === code && this.timer === null) return;
    window.clearTimeout(this.timer);
    this.timer = null;
    await this.validate(code);
  }

  async validate(code) {
    const sequence = ++this.sequence;
    let result;
    try {
      result = await api.validate(code);
    } catch (error) {
      if (sequence === this.sequence) this.summary.textContent = `Couldn't check the code: ${error.message}`;
      return;
    }
    if (sequence !== this.sequence) return; // a newer edit is being checked
    const diagnostics = result.diagnostics || [];
    this.editor.setDiagnostics(diagnostics);
    this.showList(diagnostics);
    this.onResult(result);
    this.appliedCode = code;
  }

  showList(diagnostics) {
    this.list.replaceChildren();
    const errors = diagnostics.filter((d) => d.severity !== "warning" && d.severity !== "info").length;
    const warnings = diagnostics.length - errors;
    this.summary.dataset.state = errors ? "error" : warnings ? "warning" : "ok";
    this.summary.textContent = diagnostics.length
      ? `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`
      : "No problems found";
    for (const diagnostic of diagnostics) {
      const item = document.createElement("li");
      item.className = `problem problem-${diagnostic.severity}`;
      const button = document.createElement("button");
      button.type = "button";
      const hint = diagnostic.hint ? ` — ${diagnostic.hint}` : "";
      button.textContent = `Line ${diagnostic.line}:${diagnostic.col} ${diagnostic.message}${hint}`;
      button.addEventListener("click", () => this.editor.revealLine(diagnostic.line, diagnostic.col));
      item.append(button);
      this.list.append(item);
    }
  }
}
