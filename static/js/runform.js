// The run form: dataset (with its range and warnings), period, spot/futures, cash, leverage,
// fees, slippage, funding and metrics options (rendered from RunConfig's field table) and the
// strategy's params; builds the POST /api/runs request body.

import { listFrom } from "./api.js";
import { formatDate, formatUtcTime } from "./format.js";

function datasetName(dataset) {
  if (typeof dataset === "string") return dataset;
  if (dataset.name || dataset.ref || dataset.id) return String(dataset.name ?? dataset.ref ?? dataset.id);
  return `${dataset.symbol}/${dataset.timeframe}`;
}

function datasetRange(dataset) {
  const range = dataset.range || {};
  return {
    start: dataset.start ?? dataset.first_bar ?? range.start ?? range.first ?? null,
    end: dataset.end ?? dataset.last_bar ?? range.end ?? range.last ?? null,
  };
}

function datasetWarnings(dataset) {
  const raw = dataset.warnings ?? dataset.validation?.warnings ?? [];
  return (Array.isArray(raw) ? raw : [raw]).map((w) =>
    typeof w === "string" ? w : w.message || w.text || JSON.stringify(w),
  );
}

export class RunForm {
  /** `form` is the <form>; `onSubmit(body)` is called with the request body. */
  constructor(form, { onSubmit, onChange = () => {} }) {
    this.form = form;
    this.onChange = onChange;
    this.restoredParams = new Map();
    this.datasets = new Map();
    this.params = [];
    this.select = form.querySelector("#run-dataset");
    this.info = form.querySelector("#dataset-info");
    this.paramsBox = form.querySelector("#run-params");
    this.leverage = form.querySelector("#run-leverage");
    this.select.addEventListener("change", () => this.showDataset());
    form.querySelectorAll('input[name="mode"]').forEach((radio) =>
      radio.addEventListener("change", () => this.syncMode()),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (form.reportValidity()) onSubmit(this.body());
    });
    form.addEventListener("input", () => this.onChange(this.values()));
    form.addEventListener("change", () => this.onChange(this.values()));
    this.syncMode();
  }

  /**
   * The form's values to keep across a reload: {"#id": value} for the dataset, period and
   * option inputs, "mode", and "param:<name>" for the params the user typed.
   */
  values() {
    const values = { mode: this.form.querySelector('input[name="mode"]:checked').value };
    for (const input of this.form.querySelectorAll("#run-dataset, #run-start, #run-end, #run-tiers, [data-option]")) {
      values[`#${input.id}`] = input.value;
    }
    for (const input of this.paramsBox.querySelectorAll("input[data-touched]")) {
      values[input.name] = input.dataset.kind === "bool" ? input.checked : input.value;
    }
    return values;
  }

  /** Puts back values from `values()`; unknown ids and datasets that no longer exist are skipped. */
  setValues(values) {
    if (!values) return;
    const mode = this.form.querySelector(`input[name="mode"][value="${CSS.escape(String(values.mode ?? ""))}"]`);
    if (mode) mode.checked = true;
    for (const [key, value] of Object.entries(values)) {
      if (!key.startsWith("#")) continue;
      const input = this.form.querySelector(key.replace(/[^#\w-]/g, ""));
      if (!input || input.closest("#run-params")) continue;
      if (input === this.select && !this.datasets.has(String(value))) continue;
      input.value = String(value);
    }
    this.restoredParams = new Map(
      Object.entries(values).filter(([key]) => key.startsWith("param:")),
    );
    for (const input of this.paramsBox.querySelectorAll("input")) this.restoreParam(input);
    this.syncMode();
    this.showDataset();
  }

  /** A param input takes the value restored for it, if any (then counts as typed). */
  restoreParam(input) {
    if (!this.restoredParams.has(input.name)) return false;
    const value = this.restoredParams.get(input.name);
    if (input.dataset.kind === "bool") input.checked = Boolean(value);
    else input.value = String(value);
    input.dataset.touched = "1";
    return true;
  }

  /**
   * Puts a stored run's settings in the form (GET /api/runs/{id}): dataset, period, market,
   * the options in the form's units (a fee of 0.0005 shows as 0.05 %), and its params.
   */
  loadRun(run) {
    const config = run.config || {};
    const values = { mode: config.mode, "#run-dataset": run.dataset, ...this.optionValues(config) };
    values["#run-start"] = config.start !== null && config.start !== undefined ? formatDate(config.start) : "";
    values["#run-end"] = config.end !== null && config.end !== undefined ? formatDate(config.end) : "";
    // The run's table by name ("exchange/SYMBOL@snapshot (sha256:...)"); a stand-in or an
    // inline table that is not listed leaves "the symbol's latest".
    const table = typeof config.tier_table === "string" ? config.tier_table.split(" (")[0] : "";
    const isListed = [...this.form.querySelectorAll("#run-tiers option")].some((o) => o.value === table);
    values["#run-tiers"] = isListed && !config.tier_table.includes("standing in") ? table : "";
    this.setValues(values);
    this.setParamValues(run.params || {});
    this.onChange(this.values());
  }

  /** Form values ({"#id": text}) for RunConfig options ({field: value}), in the form's units. */
  optionValues(options) {
    const values = {};
    for (const input of this.form.querySelectorAll("[data-option]")) {
      const value = options[input.dataset.option];
      if (typeof value !== "number" && typeof value !== "string") continue;
      const scale = Number(input.dataset.scale || 1);
      values[`#${input.id}`] = typeof value === "number" ? String(Number((value * scale).toPrecision(12))) : value;
    }
    return values;
  }

  /** Sets the market and options an example needs ({mode, leverage_max, ...}); the rest stays. */
  applyOptions(options) {
    if (!options || !Object.keys(options).length) return;
    const values = { ...this.values(), ...this.optionValues(options) };
    if (options.mode) values.mode = options.mode;
    for (const key of Object.keys(values)) if (key.startsWith("param:")) delete values[key];
    this.setValues(values);
    this.onChange(this.values());
  }

  /** Sets the strategy params' inputs to `params` ({name: value}), as if typed. */
  setParamValues(params) {
    this.restoredParams = new Map(Object.entries(params || {}).map(([k, v]) => [`param:${k}`, v]));
    for (const input of this.paramsBox.querySelectorAll("input")) this.restoreParam(input);
  }

  setDatasets(body) {
    const list = listFrom(body, "datasets");
    const previous = this.select.value;
    this.select.replaceChildren();
    this.datasets.clear();
    for (const dataset of list) {
      const name = datasetName(dataset);
      this.datasets.set(name, dataset);
      const option = new Option(name, name);
      this.select.append(option);
    }
    if (!list.length) this.select.append(new Option("No datasets: import one first", ""));
    if (previous && this.datasets.has(previous)) this.select.value = previous;
    const more = this.form.querySelector("#run-more-datasets");
    if (more) {
      const kept = new Set([...more.selectedOptions].map((o) => o.value));
      more.replaceChildren(...[...this.datasets.keys()].map((name) => new Option(name, name, false, kept.has(name))));
    }
    this.showDataset();
  }

  showDataset() {
    const dataset = this.datasets.get(this.select.value);
    this.info.replaceChildren();
    if (!dataset) return;
    const { start, end } = datasetRange(dataset);
    const facts = [];
    if (start && end) facts.push(`${formatUtcTime(start)} → ${formatUtcTime(end)} UTC`); // as the form's dates
    if (dataset.rows ?? dataset.bars) facts.push(`${(dataset.rows ?? dataset.bars).toLocaleString("en-US")} bars`);
    if (dataset.timeframe) facts.push(dataset.timeframe);
    const summary = document.createElement("p");
    summary.textContent = facts.join(" · ");
    this.info.append(summary);
    for (const warning of datasetWarnings(dataset)) {
      const item = document.createElement("p");
      item.className = "warning";
      item.setAttribute("role", "note");
      item.textContent = `⚠ ${warning}`;
      this.info.append(item);
    }
    const startInput = this.form.querySelector("#run-start");
    const endInput = this.form.querySelector("#run-end");
    for (const input of [startInput, endInput]) {
      input.min = start ? formatDate(start) : "";
      input.max = end ? formatDate(end) : "";
    }
    if (startInput.value && (startInput.value < startInput.min || startInput.value > startInput.max)) startInput.value = "";
    if (endInput.value && (endInput.value < endInput.min || endInput.value > endInput.max)) endInput.value = "";
    startInput.placeholder = startInput.min;
    endInput.placeholder = endInput.max;
  }

  syncMode() {
    const isSpot = this.form.querySelector('input[name="mode"]:checked').value === "spot";
    this.leverage.disabled = isSpot;
    this.leverage.title = isSpot ? "Spot mode trades without leverage" : "";
  }

  /** Shows inputs for the strategy's params, keeping values the user already typed. */
  setParams(params) {
    const typed = new Map(
      [...this.paramsBox.querySelectorAll("input")].map((input) => [input.name, input]),
    );
    const same =
      params.length === this.params.length &&
      params.every((p, i) => p.name === this.params[i].name && p.kind === this.params[i].kind);
    if (same) {
      // New defaults from the code only replace values the user hasn't touched.
      params.forEach((p) => {
        const input = typed.get(`param:${p.name}`);
        if (input && !input.dataset.touched) this.writeParam(input, p);
      });
      this.params = params;
      return;
    }
    this.params = params;
    this.paramsBox.replaceChildren();
    if (!params.length) {
      const empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = "This strategy has no params.";
      this.paramsBox.append(empty);
      return;
    }
    for (const param of params) {
      const id = `param-${param.name}`;
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = param.name;
      const input = document.createElement("input");
      input.id = id;
      input.name = `param:${param.name}`;
      input.dataset.kind = param.kind;
      if (param.kind === "bool") input.type = "checkbox";
      else if (param.kind === "str") input.type = "text";
      else {
        input.type = "number";
        input.step = param.kind === "int" ? "1" : "any";
        input.required = true;
      }
      const previous = typed.get(input.name);
      if (previous && previous.dataset.touched && previous.dataset.kind === param.kind) {
        input.value = previous.value;
        input.checked = previous.checked;
        input.dataset.touched = "1";
      } else if (!this.restoreParam(input)) {
        this.writeParam(input, param);
      }
      input.addEventListener("input", () => { input.dataset.touched = "1"; });
      const row = document.createElement("div");
      row.className = "field";
      row.append(label, input);
      this.paramsBox.append(row);
    }
    this.restoredParams = new Map(); // used by this strategy's inputs; not for the next one
  }

  writeParam(input, param) {
    if (param.kind === "bool") input.checked = Boolean(param.value);
    else input.value = String(param.value);
  }

  readParams() {
    const params = {};
    for (const input of this.paramsBox.querySelectorAll("input")) {
      const name = input.name.slice("param:".length);
      const kind = input.dataset.kind;
      if (kind === "bool") params[name] = input.checked;
      else if (kind === "int") params[name] = Math.trunc(Number(input.value));
      else if (kind === "float") params[name] = Number(input.value);
      else params[name] = input.value;
    }
    return params;
  }

  /** The POST /api/runs body (without the code or strategy id, which the page adds). */
  body() {
    const value = (id) => this.form.querySelector(id).value;
    const mode = this.form.querySelector('input[name="mode"]:checked').value;
    return {
      dataset: this.select.value,
      start: value("#run-start") ? `${value("#run-start")}T00:00:00Z` : null,
      end: value("#run-end") ? `${value("#run-end")}T23:59:59Z` : null,
      mode,
      ...this.readOptions(),
      ...(mode === "spot" ? { leverage_max: 1 } : {}),
      params: this.readParams(),
      tiers: value("#run-tiers") || null,
      ...this.readMoreDatasets(),
    };
  }

  /** A run over several symbols: the further datasets chosen (not the primary) and what a
   * bar time one of them lacks does; nothing when none is chosen. */
  readMoreDatasets() {
    const select = this.form.querySelector("#run-more-datasets");
    if (!select) return {};
    const chosen = [...select.selectedOptions].map((o) => o.value).filter((name) => name && name !== this.select.value);
    if (!chosen.length) return {};
    return { more_datasets: chosen, missing_bars: this.form.querySelector("#run-missing-bars").value };
  }

  /** Lists the maintenance-tier tables (GET /api/tiers) after "the symbol's latest". */
  setTiers(list) {
    const select = this.form.querySelector("#run-tiers");
    if (!select || !Array.isArray(list)) return;
    const previous = select.value;
    select.replaceChildren(new Option("The symbol's latest table", ""));
    for (const table of list) {
      const where = table.is_stored ? "imported" : "shipped";
      const label = `${table.name} (${where}, ${table.brackets} brackets, up to ${table.max_leverage}x)`;
      select.append(new Option(label, table.name));
    }
    if ([...select.options].some((option) => option.value === previous)) select.value = previous;
  }

  /**
   * The RunConfig options the page renders from the field table (`data-option` inputs), in
   * RunConfig's units: a shown percent is divided by its `data-scale`; fees go as `fees`.
   */
  readOptions() {
    const options = {};
    for (const input of this.form.querySelectorAll("[data-option]")) {
      const number = Number(input.value);
      // a choice of words (margin_mode) goes as text; every other option is a number
      options[input.dataset.option] =
        input.tagName === "SELECT" && Number.isNaN(number) ? input.value : number / Number(input.dataset.scale || 1);
    }
    const { fee_maker: maker, fee_taker: taker, ...rest } = options;
    return { ...rest, fees: { maker, taker } };
  }

  setBusy(isBusy) {
    this.form.querySelector("#run-button").disabled = isBusy;
  }
}
