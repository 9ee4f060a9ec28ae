// The Monaco editor: loading the vendored AMD build, the strategy model, diagnostics shown as
// markers (squiggles with the message on hover) and jumping to a line.

import { editorTheme, onDisplayChange } from "./display.js";

const MONACO_BASE = "/static/vendor/monaco/vs";
const MARKER_OWNER = "strategylab";
const RUN_ERROR_OWNER = "strategylab-run";

let monacoPromise = null;

/** Loads Monaco once through its AMD loader (static/vendor/monaco/vs/loader.js). */
export function loadMonaco() {
  if (!monacoPromise) {
    monacoPromise = new Promise((resolve, reject) => {
      if (typeof window.require !== "function" || !window.require.config) {
        reject(new Error("The Monaco loader is missing: run ./scripts/setup to vendor it."));
        return;
      }
      window.require.config({ paths: { vs: MONACO_BASE } });
      window.require(
        ["vs/editor/editor.main"],
        (module) => resolve(window.monaco ?? module),
        (error) => reject(error),
      );
    });
  }
  return monacoPromise;
}

function markerFrom(monaco, model, diagnostic) {
  const lastLine = model.getLineCount();
  const line = Math.min(Math.max(1, diagnostic.line || 1), lastLine);
  const endLine = Math.min(Math.max(line, diagnostic.end_line || line), lastLine);
  const col = Math.max(1, diagnostic.col || 1);
  let endCol = diagnostic.end_col || 0;
  if (endLine === line && endCol <= col) endCol = model.getLineMaxColumn(line); // whole line
  const parts = [diagnostic.message];
  if (diagnostic.hint) parts.push(diagnostic.hint);
  if (diagnostic.suggestion) parts.push(`Did you mean '${diagnostic.suggestion}'?`);
  return {
    startLineNumber: line,
    startColumn: col,
    endLineNumber: endLine,
    endColumn: endCol,
    message: parts.join("\n"),
    code: diagnostic.code || undefined,
    severity:
      diagnostic.severity === "warning"
        ? monaco.MarkerSeverity.Warning
        : diagnostic.severity === "info"
          ? monaco.MarkerSeverity.Info
          : monaco.MarkerSeverity.Error,
    source: "Strategy Lab",
  };
}

/** The strategy editor inside `container`; `onChange(code)` fires on every edit. */
export class StrategyEditor {
  static async create(container, { onChange } = {}) {
    const monaco = await loadMonaco();
    const editor = monaco.editor.create(container, {
      value: "",
      language: "python",
      theme: editorTheme(),
      automaticLayout: true,
      minimap: { enabled: false },
      fontSize: 14,
      scrollBeyondLastLine: false,
      tabSize: 4,
      insertSpaces: true,
      fixedOverflowWidgets: true,
      ariaLabel: "Strategy code editor",
    });
    onDisplayChange(({ theme }) => monaco.editor.setTheme(editorTheme(theme)));
    return new StrategyEditor(monaco, editor, onChange);
  }

  constructor(monaco, editor, onChange) {
    this.monaco = monaco;
    this.editor = editor;
    this.settingCode = false;
    editor.onDidChangeModelContent(() => {
      monaco.editor.setModelMarkers(editor.getModel(), RUN_ERROR_OWNER, []);
      if (onChange && !this.settingCode) onChange(this.getCode());
    });
  }

  /** Binds Ctrl/Cmd+`key` (a letter or "Enter") inside the editor to `action`. */
  addShortcut(key, action) {
    const { KeyMod, KeyCode } = this.monaco;
    const code = key === "Enter" ? KeyCode.Enter : KeyCode[`Key${key.toUpperCase()}`];
    this.editor.addCommand(KeyMod.CtrlCmd | code, action);
  }

  getCode() {
    return this.editor.getValue();
  }

  /** Replaces the whole text (an example, a saved strategy or an upload). */
  setCode(code) {
    this.settingCode = true;
    try {
      this.editor.setValue(code);
    } finally {
      this.settingCode = false;
    }
    this.editor.setScrollTop(0);
  }

  /** Shows the server's diagnostics as markers; returns how many there are. */
  setDiagnostics(diagnostics) {
    const model = this.editor.getModel();
    const markers = diagnostics.map((d) => markerFrom(this.monaco, model, d));
    this.monaco.editor.setModelMarkers(model, MARKER_OWNER, markers);
    return markers.length;
  }

  /** Marks the line a run failed at (until the next edit) and moves there. */
  showRunError(line, message) {
    const model = this.editor.getModel();
    const target = Math.min(Math.max(1, line), model.getLineCount());
    this.monaco.editor.setModelMarkers(model, RUN_ERROR_OWNER, [
      {
        startLineNumber: target,
        startColumn: model.getLineFirstNonWhitespaceColumn(target) || 1,
        endLineNumber: target,
        endColumn: model.getLineMaxColumn(target),
        message: `The run failed here: ${message}`,
        severity: this.monaco.MarkerSeverity.Error,
        source: "Strategy Lab run",
      },
    ]);
    this.revealLine(target);
  }

  /** Moves the cursor to `line` (1-based), scrolls it into the middle and focuses. */
  revealLine(line, col = 1) {
    const model = this.editor.getModel();
    const target = Math.min(Math.max(1, line), model.getLineCount());
    this.editor.revealLineInCenter(target);
    this.editor.setPosition({ lineNumber: target, column: Math.max(1, col) });
    this.editor.setSelection(
      new this.monaco.Selection(target, 1, target, model.getLineMaxColumn(target)),
    );
    this.editor.focus();
  }
}
