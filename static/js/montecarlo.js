// The run page's "Monte Carlo" tab: simulate the shown run (POST /api/runs/{id}/montecarlo),
// then show each figure's intervals, the probability of ruin and a fan chart of equity paths.
// Loaded before main.js, it adds its tab and panel to the results section, so the results
// view wires the tab like the others; it follows the shown run through the report link, which
// the results view points at the run (and hides until the run is done).

import { request } from "./api.js";
import { COLORS, themedChart } from "./charts.js";
import { formatNumber, formatPercent, toSeconds } from "./format.js";

const FIGURES = [
  ["final_equity", "Final equity", false],
  ["cagr", "CAGR", true],
  ["max_drawdown", "Max drawdown", true],
  ["sharpe", "Sharpe", false],
  ["longest_drawdown_days", "Longest drawdown, days", false],
];
const CHART_THEME = {
  autoSize: true,
  layout: { background: { color: "#161b22" }, textColor: "#c9d1d9", fontSize: 12 },
  grid: { vertLines: { color: "#21262d" }, horzLines: { color: "#21262d" } },
  timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#30363d" },
  rightPriceScale: { borderColor: "#30363d" },
};

// Static markup only (no data from the server goes through innerHTML).
const PANEL_HTML = `
  <form id="mc-form" class="mc-form">
    <label>Method <select id="mc-method">
      <option value="shuffle">Shuffle trade order</option>
      <option value="bootstrap" selected>Bootstrap trades</option>
      <option value="block">Block bootstrap of daily returns</option>
    </select></label>
    <label>Simulations <input id="mc-n" type="number" min="1" max="100000" value="10000"></label>
    <label>Seed <input id="mc-seed" type="number" min="0" value="1"></label>
    <label>Levels <input id="mc-levels" value="0.9,0.95,0.99" size="14"></label>
    <label>Ruin at <input id="mc-ruin" type="number" min="0.01" max="0.99" step="0.01" value="0.5"> x start</label>
    <button id="mc-run" type="submit">Simulate</button>
  </form>
  <p id="mc-status" class="muted" role="status"></p>
  <table id="mc-table" class="metrics" aria-label="Monte Carlo intervals" hidden>
    <thead><tr></tr></thead><tbody></tbody>
  </table>
  <div id="mc-fan" class="chart tall" role="img" aria-label="Fan chart of simulated equity paths"></div>`;

function cell(tag, text, className) {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

function formatFigure(value, isPercent) {
  return isPercent ? formatPercent(value) : formatNumber(value, 2);
}

/** Points of one fan band, one per distinct time (the last mark of a time wins). */
function bandPoints(times, values) {
  const points = [];
  times.forEach((time, i) => {
    const point = { time: toSeconds(time), value: values[i] };
    if (points.length && points[points.length - 1].time === point.time) points.pop();
    if (Number.isFinite(point.time) && Number.isFinite(point.value)) points.push(point);
  });
  return points;
}

class MonteCarloTab {
  constructor(results) {
    const tab = cell("button", "Monte Carlo");
    Object.entries({
      role: "tab", id: "tab-montecarlo", "aria-controls": "panel-montecarlo",
      "aria-selected": "false", tabindex: "-1", type: "button",
    }).forEach(([name, value]) => tab.setAttribute(name, value));
    results.querySelector('[role="tablist"]').append(tab);
    this.panel = document.createElement("div");
    Object.entries({ id: "panel-montecarlo", role: "tabpanel", "aria-labelledby": "tab-montecarlo" })
      .forEach(([name, value]) => this.panel.setAttribute(name, value));
    this.panel.hidden = true;
    this.panel.innerHTML = PANEL_HTML;
    results.append(this.panel);
    this.status = this.panel.querySelector("#mc-status");
    this.table = this.panel.querySelector("#mc-table");
    this.chart = null;
    this.series = [];
    this.runId = null;
    this.isDone = false;
    this.panel.querySelector("#mc-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.simulate();
    });
    const link = results.querySelector("#report-link");
    new MutationObserver(() => this.follow(link)).observe(link, {
      attributes: true, attributeFilter: ["href", "hidden"],
    });
    // The chart sizes itself to its container: draw it again once the panel is shown.
    new MutationObserver(() => { if (!this.panel.hidden && this.result) this.showFan(this.result); })
      .observe(this.panel, { attributes: true, attributeFilter: ["hidden"] });
  }

  follow(link) {
    const match = /\/api\/runs\/([^/]+)\/report/.exec(link.getAttribute("href") || "");
    const runId = match ? decodeURIComponent(match[1]) : null;
    this.isDone = !link.hidden;
    this.panel.querySelector("#mc-run").disabled = !this.isDone;
    if (runId === this.runId) return;
    this.runId = runId;
    this.clear(this.isDone ? "" : "A run can be simulated once it is done.");
    if (runId && this.isDone) this.load(runId);
  }

  async load(runId) {
    try {
      const result = await request("GET", `/api/runs/${encodeURIComponent(runId)}/montecarlo`);
      if (runId === this.runId) this.show(result);
    } catch {
      if (runId === this.runId) this.status.textContent = "Not simulated yet.";
    }
  }

  clear(message) {
    this.result = null;
    this.status.textContent = message;
    this.table.hidden = true;
    for (const series of this.series) this.chart.removeSeries(series);
    this.series = [];
  }

  async simulate() {
    if (!this.runId || !this.isDone) return;
    const runId = this.runId;
    const value = (id) => this.panel.querySelector(id).value;
    const body = {
      method: value("#mc-method"),
      n: Number(value("#mc-n")),
      seed: Number(value("#mc-seed")),
      levels: value("#mc-levels").split(",").map((part) => Number(part.trim())).filter((x) => !Number.isNaN(x)),
      ruin: Number(value("#mc-ruin")),
    };
    this.status.textContent = `Simulating ${formatNumber(body.n, 0)} paths…`;
    this.panel.querySelector("#mc-run").disabled = true;
    try {
      const result = await request("POST", `/api/runs/${encodeURIComponent(runId)}/montecarlo`, { json: body });
      if (runId === this.runId) this.show(result);
    } catch (error) {
      if (runId === this.runId) this.status.textContent = error.message;
    } finally {
      this.panel.querySelector("#mc-run").disabled = !this.isDone;
    }
  }

  /** Shows a montecarlo.json document (`result`). */
  show(result) {
    this.result = result;
    const ruin = result.ruin;
    this.status.textContent =
      `${result.method}: ${formatNumber(result.simulations, 0)} simulations, seed ${result.seed}` +
      ` · P(equity ever <= ${ruin.threshold} x start) = ${formatPercent(ruin.probability)}`;
    const head = this.table.querySelector("thead tr");
    head.replaceChildren(cell("th", "Figure"), cell("th", "Run", "num"), cell("th", "Median", "num"),
      ...result.levels.map((level) => cell("th", `${formatPercent(level, 0)} interval`, "num")));
    const rows = FIGURES.map(([key, label, isPercent]) => {
      const figure = result.figures[key];
      const row = document.createElement("tr");
      row.append(cell("td", label), cell("td", formatFigure(result.observed[key], isPercent), "num"),
        cell("td", formatFigure(figure.median, isPercent), "num"),
        ...figure.intervals.map((i) =>
          cell("td", `${formatFigure(i.low, isPercent)} .. ${formatFigure(i.high, isPercent)}`, "num")));
      return row;
    });
    this.table.querySelector("tbody").replaceChildren(...rows);
    this.table.hidden = false;
    if (!this.panel.hidden) this.showFan(result);
  }

  /** Draws the fan chart of `result`: one line per percentile band, the median bold. */
  showFan(result) {
    const lib = window.LightweightCharts;
    if (!lib) return;
    if (!this.chart) this.chart = themedChart(lib, this.panel.querySelector("#mc-fan"), CHART_THEME);
    for (const series of this.series) this.chart.removeSeries(series);
    const bands = result.fan.percentiles;
    this.series = bands.map((band) => {
      const isMedian = band.percentile === 50;
      const series = this.chart.addSeries(lib.LineSeries, {
        color: isMedian ? COLORS[0] : COLORS[1], lineWidth: isMedian ? 2 : 1,
        lineStyle: isMedian ? 0 : 2, title: `p${band.percentile}`, priceLineVisible: false,
        lastValueVisible: false,
      });
      series.setData(bandPoints(result.fan.time, band.equity));
      return series;
    });
    this.chart.timeScale().fitContent();
  }
}

const results = document.querySelector("#results");
if (results) new MonteCarloTab(results);
