// Side-by-side comparison of two runs: their metrics in columns and both equity curves
// (as percent return from each run's start) on one chart.

import { api } from "./api.js";
import { COLORS, CompareChart } from "./charts.js";
import { labelFromKey, shortRunId, toEquityPoints } from "./format.js";
import { formatMetric, orderedMetricKeys } from "./results.js";

// Which way is better for the metrics where it is clear (max drawdown is a fraction <= 0, so
// nearer 0, i.e. higher, is better); the others are facts, not scores.
const HIGHER_IS_BETTER = new Set([
  "total_return", "cagr", "sharpe", "sortino", "calmar", "win_rate", "profit_factor",
  "expectancy", "avg_trade", "avg_trade_pct", "final_equity", "max_drawdown", "psr",
]);
const LOWER_IS_BETTER = new Set([
  "volatility", "max_drawdown_days", "fees_paid", "funding_paid", "liquidations",
]);

/** The index of the better of `values` for metric `key`, or -1 (a tie, unknown or unranked). */
export function betterIndex(key, values) {
  const direction = HIGHER_IS_BETTER.has(key) ? 1 : LOWER_IS_BETTER.has(key) ? -1 : 0;
  if (!direction || values.some((v) => typeof v !== "number" || !Number.isFinite(v))) return -1;
  const best = direction > 0 ? Math.max(...values) : Math.min(...values);
  const winners = values.flatMap((v, i) => (v === best ? [i] : []));
  return winners.length === 1 ? winners[0] : -1;
}

export class CompareView {
  constructor(root, { onError }) {
    this.root = root;
    this.onError = onError;
    this.chart = null;
    root.querySelector("#compare-close").addEventListener("click", () => { root.hidden = true; });
  }

  async show(runs) {
    let records;
    let curves;
    try {
      records = await Promise.all(runs.map((run) => api.getRun(run.id)));
      curves = await Promise.all(runs.map((run) => api.runEquity(run.id)));
    } catch (error) {
      this.onError(`Couldn't load the runs to compare: ${error.message}`);
      return;
    }
    this.root.hidden = false;
    const label = (run) => `Run ${shortRunId(run.id)}${run.strategy_name ? ` (${run.strategy_name})` : ""}`;
    const head = this.root.querySelector("#compare-table thead tr");
    head.replaceChildren();
    for (const [i, text] of ["Metric", ...records.map(label)].entries()) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = text;
      if (i > 0) th.style.color = COLORS[(i - 1) % COLORS.length];
      head.append(th);
    }
    const body = this.root.querySelector("#compare-table tbody");
    body.replaceChildren();
    const keys = [...new Set(records.flatMap((r) => orderedMetricKeys(r.metrics || {})))];
    const facts = [
      ["Dataset", (r) => r.dataset], ["Status", (r) => r.status],
      ["Mode", (r) => r.config?.mode], ["Params", (r) => JSON.stringify(r.params || {})],
    ];
    for (const [name, read] of facts) this.addRow(body, name, records.map((r) => read(r) ?? ""));
    for (const key of keys) {
      const raw = records.map((r) => r.metrics?.[key]);
      const row = this.addRow(body, labelFromKey(key), raw.map((v) => formatMetric(key, v)));
      const better = betterIndex(key, raw);
      if (better >= 0) {
        const cell = row.cells[better + 1];
        cell.classList.add("better");
        cell.title = "the better value";
        cell.append(Object.assign(document.createElement("span"), { className: "visually-hidden", textContent: " (better)" }));
      }
    }
    if (!this.chart) this.chart = new CompareChart(this.root.querySelector("#compare-chart"));
    this.chart.setCurves(records.map((r, i) => ({ label: label(r), points: toEquityPoints(curves[i]) })));
    this.root.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  addRow(body, name, values) {
    const row = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = name;
    row.append(th);
    for (const value of values) {
      const td = row.insertCell();
      td.className = "num";
      td.textContent = value;
    }
    return row;
  }
}
