// The page's entry point: builds each part (editor, library, run form, live view, results,
// history, comparison) and connects them. Each part lives in its own module.

import { api } from "./api.js";
import { CompareView } from "./compare.js";
import { DatasetImport } from "./datasets.js";
import { installThemeToggle, installTimeZonePicker, onDisplayChange, zoneLabel } from "./display.js";
import { loadCatalog, registerCompletion } from "./completion.js";
import { StrategyEditor } from "./editor.js";
import { shortRunId, withoutLinePrefix } from "./format.js";
import { RunHistory } from "./history.js";
import { StrategyLibrary, className } from "./library.js";
import { LiveView } from "./live.js";
import { paramsFromInspection } from "./params.js";
import { ResultsView } from "./results.js";
import { RunForm } from "./runform.js";
import { PeriodReturnsView } from "./periods.js";
import { RunSettingsView } from "./runsettings.js";
import {
  readDraft, readFormValues, readView, removeDraft, writeDraft, writeFormValues, writeView,
} from "./session.js";
import { Validator } from "./validation.js";

const $ = (selector) => document.querySelector(selector);

/** Reports to the user: polite status for news, an alert for errors. */
function notify(message, kind = "info") {
  const box = kind === "error" ? $("#notice-error") : $("#notice");
  box.textContent = message;
  box.hidden = false;
  window.clearTimeout(box.timer);
  // An error stays longer (and goes on a click) but never covers the toolbar for good.
  box.timer = window.setTimeout(() => { box.hidden = true; }, kind === "error" ? 15000 : 6000);
}

async function checkHealth() {
  const badge = $("#server-status");
  try {
    const health = await api.health();
    badge.textContent = `server ${health.status || "ok"}${health.version ? ` · v${health.version}` : ""}`;
    badge.dataset.state = "ok";
  } catch (error) {
    badge.textContent = "server unreachable";
    badge.dataset.state = "error";
    notify(`The server isn't answering: ${error.message}`, "error");
  }
}

async function start() {
  $("#notice-error").addEventListener("click", () => { $("#notice-error").hidden = true; });
  installThemeToggle($("#theme-toggle"));
  installTimeZonePicker($("#time-zone"));
  const showZoneLabels = () => {
    for (const element of document.querySelectorAll("[data-zone-label]")) {
      element.textContent = zoneLabel(element.dataset.zoneLabel);
    }
  };
  showZoneLabels();
  checkHealth();
  const catalogPromise = loadCatalog();

  let editor;
  try {
    editor = await StrategyEditor.create($("#editor"), { onChange: (code) => codeChanged(code) });
  } catch (error) {
    notify(`The editor couldn't start: ${error.message}`, "error");
    throw error;
  }
  const catalog = await catalogPromise;
  const completion = registerCompletion(editor.monaco, catalog);

  const validator = new Validator(editor, $("#problems"), $("#problems-summary"));
  // The server's inspection of the code names the class that runs and its merged params.
  validator.onResult = (result) => {
    // Mid-edit code that does not parse names no class: keep the params last seen, so typing
    // `self.params["` still completes them (a run of such code is refused by the server anyway).
    if (!result.strategy_class) return;
    const params = paramsFromInspection(result);
    form.setParams(params);
    completion.params = params;
  };
  const form = new RunForm($("#run-form"), {
    onSubmit: () => startRun(),
    onChange: (values) => writeFormValues(values),
  });
  // While the page follows the address (load, back/forward) it doesn't write it.
  let isApplyingView = false;
  const remember = (changes, options) => {
    if (!isApplyingView) writeView(changes, options);
  };
  const library = new StrategyLibrary($("#strategy-panel"), {
    getCode: () => editor.getCode(),
    onLoad: ({ code, source, isQuiet, key, settings: options }) => {
      // An example sets the market and leverage it needs (not when the page restores a view).
      if (!isQuiet && options) form.applyOptions(options);
      // Unsaved changes kept in this browser win over the stored code (Discard draft reverts).
      const draft = readDraft(key);
      const hasDraft = Boolean(draft) && draft.code !== code;
      editor.setCode(hasDraft ? draft.code : code);
      validator.schedule(editor.getCode()); // its answer sets the params form
      library.showState(editor.getCode());
      showDraftState();
      if (hasDraft) notify(`Opened ${source} with your unsaved changes from this browser.`);
      else if (!isQuiet) notify(`Opened ${source}.`);
      if (key && !key.startsWith("run:")) remember({ strategy: key }, { isNewEntry: !isQuiet });
    },
    onSaved: (previousKey, key) => {
      removeDraft(previousKey);
      removeDraft(key);
      showDraftState();
      remember({ strategy: key }, { isNewEntry: false });
    },
    notify,
  });
  const discardButton = $("#discard-draft");
  discardButton?.addEventListener("click", () => {
    const { key, sourceCode } = library.current;
    removeDraft(key);
    if (typeof sourceCode === "string") editor.setCode(sourceCode);
    codeChanged(editor.getCode());
    notify("Discarded the unsaved changes.");
  });
  function showDraftState() {
    if (!discardButton) return;
    const { sourceCode } = library.current;
    discardButton.hidden = typeof sourceCode !== "string" || sourceCode === editor.getCode();
  }
  // Ctrl/Cmd+S saves anywhere on the page; Ctrl/Cmd+Enter in the editor runs.
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
      event.preventDefault();
      library.save(false);
    }
  });
  editor.addShortcut("Enter", () => $("#run-form").requestSubmit());
  const jumpTo = (line) => editor.revealLine(line);
  // From a failed run's results: show the line in the run's own code.
  const showRunErrorLine = (run, line) => {
    if (typeof run.code === "string" && run.code !== editor.getCode()) library.openRunCode(run);
    editor.showRunError(line, withoutLinePrefix(run.error?.message));
  };
  const results = new ResultsView($("#results"), {
    catalog,
    onErrorLine: showRunErrorLine,
    onTabChange: (tab) => remember({ tab }, { isNewEntry: false }),
    onShown: (run, { orders }) => {
      settings.show(run);
      periods.show(run);
      settings.showRefused($("#refused-banner"), orders);
    },
  });
  const periods = new PeriodReturnsView($("#period-returns"));
  const settings = new RunSettingsView($("#run-settings"), {
    onRerun: (run) => rerun(run),
    onLoad: (run) => {
      form.loadRun(run);
      notify(`Loaded the settings of run ${shortRunId(run.id)} into the form.`);
    },
  });

  /** Queues the same code, dataset version, config and params again and follows it. */
  async function rerun(run) {
    form.setBusy(true);
    try {
      const created = await api.rerunRun(run.id);
      results.hide();
      live.follow(created.id, { title: run.strategy_name });
      remember({ run: created.id, tab: null });
      history.refresh();
      $("#live").scrollIntoView({ behavior: "smooth", block: "start" });
    } catch (error) {
      form.setBusy(false);
      notify(`Couldn't rerun run ${shortRunId(run.id)}: ${error.message}`, "error");
    }
  }
  const compare = new CompareView($("#compare"), { onError: (m) => notify(m, "error") });
  const history = new RunHistory($("#history"), {
    onOpen: (run) => openRun(run.id, { tab: "overview" }),
    onCompare: (runs) => compare.show(runs),
    onError: (m) => notify(m, "error"),
  });
  const live = new LiveView($("#live"), {
    onMessage: (message) => {
      // A cancelled run ends with an "error" message too, but it's no failure of the strategy.
      if (message.type === "error" && message.status !== "cancelled") {
        showStrategyError(message.message, message.line);
      }
    },
    onFinished: async (run) => {
      form.setBusy(false);
      history.refresh();
      if (run.status === "done" || run.status === "failed") await results.show(run);
      if (run.status === "cancelled") notify(`Run ${shortRunId(run.id)} was cancelled.`);
      if (run.status === "done") $("#results").scrollIntoView({ behavior: "smooth", block: "start" });
    },
  });

  function codeChanged(code) {
    validator.schedule(code); // its answer sets the params form
    library.showState(code);
    const { key, sourceCode } = library.current;
    if (key && code !== sourceCode) writeDraft(key, code);
    else if (key) removeDraft(key);
    showDraftState();
  }

  function showStrategyError(message, line) {
    notify(`The strategy failed${line ? ` at line ${line}` : ""}: ${withoutLinePrefix(message)}`, "error");
    if (line) editor.showRunError(line, message);
  }

  async function startRun() {
    const code = editor.getCode();
    await validator.flush(code); // the params form then belongs to this code
    const formBody = form.body();
    const body = library.isClean()
      ? { ...formBody, strategy_id: library.current.id }
      : { ...formBody, code };
    form.setBusy(true);
    results.hide();
    try {
      const created = await api.createRun(body);
      live.follow(created.id, { title: className(code) || library.current.name });
      remember({ run: created.id, tab: null });
      history.refresh();
      $("#live").scrollIntoView({ behavior: "smooth", block: "start" });
    } catch (error) {
      form.setBusy(false);
      const diagnostics = error.body?.detail?.diagnostics ?? error.body?.diagnostics;
      if (Array.isArray(diagnostics) && diagnostics.length) {
        editor.setDiagnostics(diagnostics);
        validator.showList(diagnostics);
        jumpTo(diagnostics[0].line);
        notify(`The strategy has problems to fix before it can run: ${diagnostics[0].message}`, "error");
      } else {
        notify(`Couldn't start the run: ${error.message}`, "error");
      }
    }
  }

  /**
   * Opens a run: live when it's still going (reattached to its stream), results when it's over.
   * `tab` picks the results tab; the address then names the run.
   */
  async function openRun(id, { tab = null } = {}) {
    let run;
    try {
      run = await api.getRun(id);
    } catch (error) {
      notify(`Couldn't open run ${id}: ${error.message}`, "error");
      if (readView().run === id) writeView({ run: null, tab: null }, { isNewEntry: false });
      return;
    }
    remember({ run: run.id, tab });
    if (run.status === "queued" || run.status === "running") {
      results.hide();
      live.follow(run.id, { title: run.strategy_name });
      $("#live").scrollIntoView({ behavior: "smooth", block: "start" });
    } else {
      live.hide();
      results.selectTab(tab || "overview");
      await results.show(run);
      $("#results").scrollIntoView({ behavior: "smooth", block: "start" });
    }
  }

  /** Makes the page show what the address names (after a reload, back/forward or a link). */
  async function applyView(view) {
    isApplyingView = true;
    try {
      const [kind, key] = (view.strategy || "").split(/:(.*)/s);
      if (view.strategy && view.strategy !== library.current.key) {
        if (kind === "example" && library.hasExample(key)) library.openExample(key, { isQuiet: true });
        else if (kind === "strategy") await library.openStrategy(key);
      }
      if (view.run && view.run !== (results.runId || live.currentRunId())) {
        await openRun(view.run, { tab: view.tab });
      } else if (view.run) {
        results.selectTab(view.tab || "overview");
      } else {
        results.hide();
        live.hide();
      }
    } finally {
      isApplyingView = false;
    }
  }
  window.addEventListener("popstate", () => applyView(readView()));
  onDisplayChange(({ changed }) => {
    if (changed !== "timeZone") return;
    showZoneLabels(); // the tables and charts redraw themselves; the history is drawn again
    history.refresh();
  });

  const importer = new DatasetImport($("#dataset-import"), {
    onStored: async ({ dataset, is_new_version: isNew }) => {
      form.setDatasets(await api.datasets());
      form.select.value = dataset.name;
      form.select.dispatchEvent(new Event("change", { bubbles: true }));
      notify(isNew ? `Stored ${dataset.name}: ${dataset.rows.toLocaleString("en-US")} bars.`
        : `${dataset.name} already holds exactly this data.`);
    },
  });
  $("#dataset-import-button").addEventListener("click", () => importer.open());

  const [datasets, , , tiers] = await Promise.allSettled([
    api.datasets(), library.refresh(), history.refresh(), api.tiers(),
  ]);
  if (datasets.status === "fulfilled") form.setDatasets(datasets.value);
  else notify(`Couldn't load the datasets: ${datasets.reason.message}`, "error");
  if (tiers.status === "fulfilled") form.setTiers(tiers.value);
  form.setValues(readFormValues());
  await applyView(readView());
  if (!editor.getCode()) library.openStarter();
  validator.schedule(editor.getCode());
  document.body.dataset.ready = "true";
}

start();
