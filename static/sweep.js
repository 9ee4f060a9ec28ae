// The sweep page: pick a strategy and a dataset, tick params and give their ranges, start a
// sweep (POST /api/sweeps), then watch it live (WS /ws/sweeps/{id}): progress, best so far,
// a sortable table of trials, a heatmap and parallel coordinates, and "open as run".
//
// The address holds the open sweep (/sweeps?sweep=<id>), so a reload or a shared link shows
// it again; the trials come from GET /api/sweeps/{id}/trials and then from the stream, merged
// by trial number.

import { apiUrl, api, listFrom, request } from "/static/js/api.js";
import { formatDuration, formatNumber } from "/static/js/format.js";
import { drawHeatmap, drawParallel, drawWalkForward } from "/static/sweep_views.js";

const $ = (selector) => document.querySelector(selector);
const TABLE_METRICS = ["sharpe", "total_return", "max_drawdown", "trades", "win_rate", "profit_factor"];

const state = {
  params: [], // [{name, kind, default}] of the chosen strategy
  sweep: null, // the open sweep's detail
  trials: new Map(), // number -> trial
  socket: null,
  sortKey: "number",
  sortAscending: true,
  drawPending: false,
};

// -- notices ----------------------------------------------------------------------------------

function notify(text) {
  const notice = $("#notice");
  notice.textContent = text;
  notice.hidden = false;
  $("#notice-error").hidden = true;
}

function fail(error) {
  const notice = $("#notice-error");
  notice.textContent = error && error.message ? error.message : String(error);
  notice.hidden = false;
}

// -- the form ---------------------------------------------------------------------------------

async function loadChoices() {
  const [examples, strategies, datasets] = await Promise.all([
    api.examples(),
    api.listStrategies(),
    api.datasets(),
  ]);
  const select = $("#sweep-strategy");
  for (const example of listFrom(examples)) {
    select.append(new Option(`Example: ${example.name}`, `example:${example.name}`));
  }
  for (const saved of listFrom(strategies)) {
    select.append(new Option(`Saved: ${saved.name} (v${saved.version})`, `saved:${saved.id}`));
  }
  state.examples = new Map(listFrom(examples).map((e) => [e.name, e]));
  const datasetSelect = $("#sweep-dataset");
  for (const dataset of listFrom(datasets)) {
    datasetSelect.append(new Option(`${dataset.name} (${dataset.rows.toLocaleString()} bars)`, dataset.name));
  }
}

/** The chosen strategy as {code} or {strategy_id} plus its code (for its params). */
async function chosenStrategy() {
  const value = $("#sweep-strategy").value;
  if (value.startsWith("example:")) {
    const example = state.examples.get(value.slice("example:".length));
    return { source: { code: example.code }, code: example.code };
  }
  if (value.startsWith("saved:")) {
    const saved = await api.getStrategy(value.slice("saved:".length));
    return { source: { strategy_id: saved.id }, code: saved.code };
  }
  return null;
}

async function showParams() {
  const body = $("#param-ranges");
  body.replaceChildren();
  const chosen = await chosenStrategy();
  if (!chosen) {
    body.innerHTML = '<tr><td colspan="7" class="muted">Choose a strategy first.</td></tr>';
    return;
  }
  const inspection = await api.validate(chosen.code);
  state.params = inspection.params || [];
  for (const param of state.params) body.append(rangeRow(param));
  if (!state.params.length) {
    body.innerHTML = '<tr><td colspan="7" class="muted">This strategy has no params to search.</td></tr>';
  }
}

function input(attributes) {
  const node = document.createElement("input");
  Object.assign(node, attributes);
  return node;
}

function cell(...children) {
  const td = document.createElement("td");
  td.append(...children);
  return td;
}

/** One param's row: a Search box, from/to/step for numbers, choices for anything. */
function rangeRow(param) {
  const row = document.createElement("tr");
  row.dataset.param = param.name;
  row.dataset.kind = param.kind;
  const isNumber = param.kind === "int" || param.kind === "float";
  const label = (what) => `${param.name} ${what}`;
  const search = input({ type: "checkbox", className: "range-search" });
  search.setAttribute("aria-label", label("search"));
  const step = param.kind === "int" ? 1 : "any";
  const low = input({ type: "number", step, className: "range-low", disabled: !isNumber });
  const high = input({ type: "number", step, className: "range-high", disabled: !isNumber });
  const stepInput = input({ type: "number", step: "any", min: 0, className: "range-step", disabled: !isNumber });
  const choices = input({ type: "text", className: "range-choices", placeholder: "a,b,c" });
  low.setAttribute("aria-label", label("from"));
  high.setAttribute("aria-label", label("to"));
  stepInput.setAttribute("aria-label", label("step"));
  choices.setAttribute("aria-label", label("choices"));
  if (isNumber) {
    low.value = String(param.default);
    high.value = String(param.default);
    if (param.kind === "int") stepInput.value = "1";
  } else if (param.kind === "bool") {
    choices.value = "true,false";
  } else {
    choices.value = String(param.default);
  }
  const code = document.createElement("code");
  code.textContent = param.name;
  row.append(cell(search), cell(code), cell(String(param.default)), cell(low), cell(high), cell(stepInput), cell(choices));
  return row;
}

function numberOrNull(text) {
  return text === "" || text === null ? null : Number(text);
}

/** The ticked rows as the API's ranges: {name, choices} or {name, low, high, step}. */
function chosenRanges() {
  const ranges = [];
  for (const row of document.querySelectorAll("#param-ranges tr[data-param]")) {
    if (!row.querySelector(".range-search").checked) continue;
    const name = row.dataset.param;
    const choices = row.querySelector(".range-choices").value.trim();
    const kind = row.dataset.kind;
    if (choices && (kind === "bool" || kind === "str" || row.querySelector(".range-low").value === "")) {
      ranges.push(`${name}=${choices}`);
      continue;
    }
    const range = {
      name,
      low: numberOrNull(row.querySelector(".range-low").value),
      high: numberOrNull(row.querySelector(".range-high").value),
    };
    const step = numberOrNull(row.querySelector(".range-step").value);
    if (step !== null) range.step = step;
    ranges.push(range);
  }
  return ranges;
}

function runOptions() {
  const options = {};
  for (const node of document.querySelectorAll("#sweep-form [data-option]")) {
    if (node.value === "") continue;
    const isText = node.dataset.text && !/^-?\d+(\.\d+)?$/.test(node.value); // "futures" vs "8"
    options[node.dataset.option] = isText ? node.value : Number(node.value) / Number(node.dataset.scale || 1);
  }
  const { fee_maker: maker, fee_taker: taker, ...rest } = options;
  return { ...rest, fees: { maker, taker } };
}

async function sweepBody() {
  const chosen = await chosenStrategy();
  if (!chosen) throw new Error("Choose a strategy first.");
  const method = $("#sweep-method").value;
  const objectives = [{ metric: $("#sweep-metric").value, direction: $("#sweep-direction").value }];
  if (method === "nsga2") {
    objectives.push({ metric: $("#sweep-metric2").value, direction: $("#sweep-direction2").value });
  }
  const body = {
    ...chosen.source,
    dataset: $("#sweep-dataset").value,
    ...runOptions(),
    ranges: chosenRanges(),
    method,
    objectives,
    seed: Number($("#sweep-seed").value || 0),
  };
  if ($("#sweep-start").value) body.start = `${$("#sweep-start").value}T00:00:00Z`;
  if ($("#sweep-end").value) body.end = `${$("#sweep-end").value}T23:59:59Z`;
  if ($("#sweep-trials").value) body.trials = Number($("#sweep-trials").value);
  if ($("#sweep-min-trades").value) body.min_trades = Number($("#sweep-min-trades").value);
  if ($("#sweep-max-drawdown").value) body.max_drawdown = Number($("#sweep-max-drawdown").value) / 100;
  if ($("#walk-enabled").checked) Object.assign(body, walkFields());
  return body;
}

/** The walk-forward's layout: train/test[/step] durations when given, else folds and ratio. */
function walkFields() {
  const fields = { anchored: $("#walk-anchored").checked };
  if ($("#walk-train").value.trim() || $("#walk-test").value.trim()) {
    fields.train = $("#walk-train").value.trim();
    fields.test = $("#walk-test").value.trim();
    if ($("#walk-step").value.trim()) fields.step = $("#walk-step").value.trim();
  } else {
    fields.folds = Number($("#walk-folds").value);
    fields.train_ratio = Number($("#walk-ratio").value);
  }
  return fields;
}

async function startSweep(event) {
  event.preventDefault();
  const button = $("#start-sweep");
  button.disabled = true;
  try {
    const body = await sweepBody();
    if (!body.ranges.length) throw new Error("Tick at least one param to search.");
    const isWalk = $("#walk-enabled").checked;
    const created = await request("POST", isWalk ? "/api/walkforwards" : "/api/sweeps", { json: body });
    notify(isWalk ? `Walk-forward started: ${created.trials_total} folds.` : `Sweep started: ${created.trials_total ?? "?"} trials.`);
    window.history.pushState({}, "", `/sweeps?sweep=${encodeURIComponent(created.id)}`);
    await openSweep(created.id);
  } catch (error) {
    fail(error);
  } finally {
    button.disabled = false;
  }
}

// -- the open sweep -------------------------------------------------------------------------

function searchedParams() {
  if (!state.sweep) return [];
  return state.sweep.ranges.map((text) => text.split("=")[0]);
}

function objectiveMetrics() {
  return state.sweep ? state.sweep.objectives.map((o) => o.metric) : [];
}

async function openSweep(sweepId) {
  closeSocket();
  state.trials = new Map();
  state.sweep = await request("GET", `/api/sweeps/${encodeURIComponent(sweepId)}`);
  const isWalk = state.sweep.kind === "walkforward";
  $("#sweep-live").hidden = false;
  $("#walk-view").hidden = !isWalk;
  for (const node of document.querySelectorAll("[data-sweep-only]")) node.hidden = isWalk;
  $("#sweep-title").firstChild.textContent = `${isWalk ? "Walk-forward" : "Sweep"} ${sweepId.slice(0, 8)} `;
  if (isWalk) showWalkForward(state.sweep);
  fillViewChoices();
  showStatus(state.sweep);
  showProgress(state.sweep);
  watch(sweepId); // the socket first, then the stored trials: nothing falls in between
  await loadTrials(sweepId);
  scheduleDraw();
  loadSweepList();
}

async function loadTrials(sweepId) {
  let offset = 0;
  for (;;) {
    const page = await request("GET", `/api/sweeps/${encodeURIComponent(sweepId)}/trials`, {
      query: { limit: 5000, offset },
    });
    for (const trial of page.trials) state.trials.set(trial.number, trial);
    offset += page.trials.length;
    if (!page.trials.length || offset >= page.total) return;
  }
}

function socketUrl(sweepId) {
  const url = new URL(apiUrl(`/ws/sweeps/${encodeURIComponent(sweepId)}`));
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

function closeSocket() {
  if (state.socket) {
    state.socket.onclose = null;
    state.socket.close();
    state.socket = null;
  }
}

function watch(sweepId) {
  const socket = new WebSocket(socketUrl(sweepId));
  state.socket = socket;
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "trial") {
      state.trials.set(message.number, message);
      scheduleDraw();
    } else if (message.type === "progress") {
      showProgress(message);
      showStatus(message);
    } else if (message.type === "resync") {
      loadTrials(sweepId).then(scheduleDraw, fail);
    } else if (message.type === "done" || message.type === "error") {
      finished(sweepId, message);
    }
  };
}

async function finished(sweepId, message) {
  showStatus(message);
  if (message.type === "error" && message.status !== "cancelled") fail(new Error(message.message));
  if (message.type === "error" && message.status === "cancelled") notify(message.message);
  try {
    state.sweep = await request("GET", `/api/sweeps/${encodeURIComponent(sweepId)}`);
    await loadTrials(sweepId);
    showProgress(state.sweep);
    if (state.sweep.kind === "walkforward") showWalkForward(state.sweep);
    else showStatistics(state.sweep.statistics);
    scheduleDraw();
    loadSweepList();
  } catch (error) {
    fail(error);
  }
}

function showStatus(message) {
  const status = message.status || "";
  const badge = $("#sweep-status");
  badge.textContent = status;
  badge.dataset.status = status;
  $("#cancel-sweep").hidden = !(status === "queued" || status === "running");
}

function showProgress(progress) {
  const done = progress.trials_done || 0;
  const total = progress.trials_total;
  const bar = $("#sweep-bar");
  bar.max = total || Math.max(done, 1);
  bar.value = done;
  const speed = progress.trials_per_s ? `${formatNumber(progress.trials_per_s, 2)} trials/s` : "";
  const eta = progress.eta_s !== null && progress.eta_s !== undefined ? `ETA ${formatDuration(progress.eta_s)}` : "";
  if (progress.fold !== undefined || (state.sweep && state.sweep.kind === "walkforward")) {
    showFoldProgress(progress);
    return;
  }
  $("#sweep-progress").textContent = [`${done} / ${total ?? "?"} trials`, speed, eta].filter(Boolean).join(" · ");
  const best = progress.best && (Array.isArray(progress.best) ? progress.best[0] : progress.best);
  if (best) {
    const params = Object.entries(best.params)
      .filter(([name]) => searchedParams().includes(name))
      .map(([name, value]) => `${name}=${value}`)
      .join(", ");
    const values = objectiveMetrics().map((m) => `${m} ${formatNumber(best.metrics[m], 4)}`).join(", ");
    $("#sweep-best").textContent = `Best so far: trial ${best.number} (${params}): ${values}`;
  } else {
    $("#sweep-best").textContent = "No feasible trial yet.";
  }
}

/** Walk-forward progress: fold k of n, and trial j of m while the fold optimises. */
function showFoldProgress(progress) {
  const bar = $("#sweep-bar");
  const folds = progress.folds_total ?? (state.sweep && state.sweep.trials_total) ?? 0;
  if (progress.fold === undefined) {
    bar.max = Math.max(folds, 1);
    bar.value = progress.trials_done || 0;
    $("#sweep-progress").textContent = `${progress.trials_done || 0} / ${folds} folds`;
    $("#sweep-best").textContent = "";
    return;
  }
  bar.max = Math.max(folds, 1);
  bar.value = progress.fold - 1;
  const trial = progress.phase === "optimize" && progress.trials_total
    ? `, trial ${progress.trials_done} of ${progress.trials_total}` : "";
  $("#sweep-progress").textContent = `fold ${progress.fold} of ${folds} (${progress.phase}${trial})`;
  $("#sweep-best").textContent = "";
}

function showWalkForward(walk) {
  const document_ = walk.statistics;
  drawWalkForward($("#walk-timeline"), document_);
  if (!document_) {
    $("#walk-summary").textContent = "";
    return;
  }
  const efficiency = document_.efficiency || {};
  const oos = (document_.out_of_sample && document_.out_of_sample.metrics) || {};
  $("#walk-summary").textContent =
    `Walk-forward efficiency ${formatNumber(efficiency.overall, 3)} ` +
    `(annualised out-of-sample return / annualised in-sample return); stitched out-of-sample: ` +
    `total return ${formatNumber(oos.total_return, 4)}, Sharpe ${formatNumber(oos.sharpe, 3)}, ` +
    `max drawdown ${formatNumber(oos.max_drawdown, 4)}.`;
  const metric = objectiveMetrics()[0];
  const columns = [
    ["fold", (f) => f.fold],
    ["status", (f) => f.status],
    ["train", (f) => `${f.train_start.slice(0, 10)} → ${f.train_end.slice(0, 10)}`],
    ["test", (f) => `${f.test_start.slice(0, 10)} → ${f.test_end.slice(0, 10)}`],
    ["params", (f) => (f.params ? searchedParams().map((n) => `${n}=${f.params[n]}`).join(", ") : f.reason || "–")],
    [`train ${metric}`, (f) => f[`train_${metric}`]],
    [`test ${metric}`, (f) => f[`test_${metric}`]],
    ["test trades", (f) => f.test_trades],
    ["efficiency", (f) => f.efficiency],
  ];
  const table = $("#folds-table");
  const head = document.createElement("tr");
  for (const [label] of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = label;
    head.append(th);
  }
  table.tHead.replaceChildren(head);
  const body = document.createElement("tbody");
  for (const fold of document_.folds || []) {
    const tr = document.createElement("tr");
    tr.dataset.fold = String(fold.fold);
    for (const [, value] of columns) {
      const v = value(fold);
      const td = document.createElement("td");
      td.textContent = typeof v === "number" ? formatNumber(v, 4) : String(v ?? "–");
      if (typeof v === "number") td.className = "num";
      tr.append(td);
    }
    body.append(tr);
  }
  table.tBodies[0].replaceWith(body);
}

function showStatistics(statistics) {
  $("#sweep-statistics").textContent = statistics && statistics.meaning ? `Overfitting: ${statistics.meaning}` : "";
}

// -- the table and the pictures ------------------------------------------------------------

function fillViewChoices() {
  const params = searchedParams();
  const metrics = [...new Set([...objectiveMetrics(), ...TABLE_METRICS])];
  const fill = (select, values, chosen) => {
    select.replaceChildren(...values.map((v) => new Option(v, v)));
    if (chosen !== undefined && values.includes(chosen)) select.value = chosen;
  };
  fill($("#heat-x"), params, params[0]);
  fill($("#heat-y"), params, params[1] ?? params[0]);
  fill($("#heat-metric"), metrics, objectiveMetrics()[0]);
}

function scheduleDraw() {
  if (state.drawPending) return;
  state.drawPending = true;
  window.requestAnimationFrame(() => {
    state.drawPending = false;
    draw();
  });
}

function draw() {
  const trials = [...state.trials.values()];
  $("#trials-count").textContent = `(${trials.length})`;
  drawTable(trials);
  drawHeatmap($("#heatmap"), trials, {
    xParam: $("#heat-x").value,
    yParam: $("#heat-y").value,
    metric: $("#heat-metric").value,
    aggregate: $("#heat-agg").value,
  });
  drawParallel($("#parallel"), trials, searchedParams(), $("#heat-metric").value);
}

function columns() {
  const metrics = [...new Set([...objectiveMetrics(), ...TABLE_METRICS])];
  return [
    { key: "number", label: "#", value: (t) => t.number },
    ...searchedParams().map((name) => ({ key: `param:${name}`, label: name, value: (t) => t.params[name] })),
    ...metrics.map((name) => ({ key: `metric:${name}`, label: name, value: (t) => t.metrics[name] })),
    { key: "feasible", label: "feasible", value: (t) => (t.feasible ? "yes" : t.error || t.infeasible_reason || "no") },
  ];
}

function sortValue(value) {
  if (value === null || value === undefined) return -Infinity;
  return value;
}

function drawTable(trials) {
  const table = $("#trials-table");
  const shown = columns();
  const headRow = document.createElement("tr");
  for (const column of shown) {
    const th = document.createElement("th");
    th.scope = "col";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.dataset.key = column.key;
    const arrow = state.sortKey === column.key ? (state.sortAscending ? " ▲" : " ▼") : "";
    button.textContent = column.label + arrow;
    th.setAttribute("aria-sort", state.sortKey === column.key ? (state.sortAscending ? "ascending" : "descending") : "none");
    th.append(button);
    headRow.append(th);
  }
  headRow.append(document.createElement("th"));
  table.tHead.replaceChildren(headRow);
  const column = shown.find((c) => c.key === state.sortKey) || shown[0];
  const sign = state.sortAscending ? 1 : -1;
  const rows = [...trials].sort((a, b) => {
    const x = sortValue(column.value(a));
    const y = sortValue(column.value(b));
    if (x === y) return a.number - b.number;
    if (typeof x === "number" && typeof y === "number") return sign * (x - y);
    return sign * String(x).localeCompare(String(y));
  });
  const body = document.createElement("tbody");
  for (const trial of rows) {
    const tr = document.createElement("tr");
    tr.dataset.number = String(trial.number);
    if (!trial.feasible) tr.className = "infeasible";
    for (const c of shown) {
      const td = document.createElement("td");
      const value = c.value(trial);
      td.textContent = typeof value === "number" ? formatNumber(value, 4) : String(value ?? "–");
      if (typeof value === "number") {
        td.className = "num";
        td.dataset.value = String(value);
      }
      td.dataset.column = c.key;
      tr.append(td);
    }
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open-trial";
    open.textContent = "Open as run";
    open.dataset.number = String(trial.number);
    open.disabled = Boolean(trial.error);
    tr.append(cell(open));
    body.append(tr);
  }
  table.tBodies[0].replaceWith(body);
}

async function openTrial(number) {
  try {
    const sweepId = state.sweep.id;
    const run = await request("POST", `/api/sweeps/${encodeURIComponent(sweepId)}/trials/${number}/run`);
    notify(`Trial ${number} queued as run ${run.id.slice(0, 8)}; opening it…`);
    window.location.assign(`/?run=${encodeURIComponent(run.id)}`);
  } catch (error) {
    fail(error);
  }
}

// -- recent sweeps --------------------------------------------------------------------------

async function loadSweepList() {
  const list = $("#sweep-list");
  const sweeps = await request("GET", "/api/sweeps", { query: { limit: 20 } });
  if (!sweeps.length) return;
  list.replaceChildren(
    ...sweeps.map((sweep) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `/sweeps?sweep=${encodeURIComponent(sweep.id)}`;
      const isWalk = sweep.kind === "walkforward";
      const what = isWalk ? `walk-forward (${sweep.method})` : sweep.method;
      const count = `${sweep.trials_done}/${sweep.trials_total ?? "?"} ${isWalk ? "folds" : "trials"}`;
      link.textContent = `${sweep.strategy_name} on ${sweep.dataset}: ${what}, ${count}`;
      link.dataset.sweep = sweep.id;
      const status = document.createElement("span");
      status.className = "badge";
      status.dataset.status = sweep.status;
      status.textContent = sweep.status;
      item.append(link, " ", status);
      return item;
    }),
  );
}

// -- wiring ----------------------------------------------------------------------------------

function wire() {
  $("#sweep-form").addEventListener("submit", startSweep);
  $("#sweep-strategy").addEventListener("change", () => showParams().catch(fail));
  $("#walk-enabled").addEventListener("change", () => {
    for (const node of document.querySelectorAll("[data-walk]")) node.hidden = !$("#walk-enabled").checked;
  });
  $("#sweep-method").addEventListener("change", () => {
    for (const node of document.querySelectorAll("[data-nsga2]")) node.hidden = $("#sweep-method").value !== "nsga2";
  });
  for (const id of ["#heat-x", "#heat-y", "#heat-metric", "#heat-agg"]) $(id).addEventListener("change", scheduleDraw);
  $("#trials-table").addEventListener("click", (event) => {
    const sort = event.target.closest("button.sort");
    if (sort) {
      state.sortAscending = state.sortKey === sort.dataset.key ? !state.sortAscending : false;
      state.sortKey = sort.dataset.key;
      scheduleDraw();
      return;
    }
    const open = event.target.closest("button.open-trial");
    if (open) openTrial(Number(open.dataset.number));
  });
  $("#cancel-sweep").addEventListener("click", async () => {
    try {
      await request("POST", `/api/sweeps/${encodeURIComponent(state.sweep.id)}/cancel`);
    } catch (error) {
      fail(error);
    }
  });
  $("#notice-error").addEventListener("click", () => ($("#notice-error").hidden = true));
  window.addEventListener("popstate", () => openFromAddress().catch(fail));
}

async function openFromAddress() {
  const sweepId = new URLSearchParams(window.location.search).get("sweep");
  if (sweepId) await openSweep(sweepId);
}

async function main() {
  wire();
  try {
    await loadChoices();
    await loadSweepList();
    await openFromAddress();
  } catch (error) {
    fail(error);
  }
  document.body.dataset.ready = "true";
}

main();
