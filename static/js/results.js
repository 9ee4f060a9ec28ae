// A finished run's results: metrics (with each convention), equity and drawdown, candlesticks
// with the trades marked, and the trades (sortable, CSV), orders and logs tables.

import { currentTimeZone, onDisplayChange, zoneLabel } from "./display.js";
import { ApiError, api, listFrom } from "./api.js";
import { CandleChart, EquityChart, indicatorColor, tradeMarkers } from "./charts.js";
import {
  formatNumber, formatPercent, formatTime, labelFromKey, toEquityPoints, toSeconds,
  shortRunId, withoutLinePrefix,
} from "./format.js";
import { DataTable, download, toCsv } from "./table.js";

// Metrics reported as fractions (0.12 = 12 %); the rest are plain numbers in their own units.
const FRACTION_METRICS = new Set([
  "total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure",
  "buy_and_hold_return",
]);
const METRIC_ORDER = [
  "total_return", "buy_and_hold_return", "cagr", "volatility", "sharpe", "sortino", "calmar",
  "max_drawdown", "max_drawdown_days", "trades", "win_rate", "profit_factor", "expectancy",
  "avg_trade_pct", "exposure", "fees_paid", "funding_paid", "liquidations",
];

// Metrics that are times (epoch ns or ISO) rather than quantities.
const TIME_METRICS = new Set(["start", "end", "first_bar", "last_bar"]);

export function formatMetric(key, value) {
  if (FRACTION_METRICS.has(key)) return formatPercent(value);
  if (TIME_METRICS.has(key)) return `${formatTime(value)} ${currentTimeZone()}`;
  if (key === "avg_trade_pct" && typeof value === "number") return `${value.toFixed(2)} %`;
  if (key === "trades" || key === "liquidations") return formatNumber(value, 0);
  return formatNumber(value, 3);
}

export function orderedMetricKeys(metrics) {
  const keys = Object.keys(metrics || {}).filter((k) => {
    const v = metrics[k];
    return v === null || ["number", "string", "boolean"].includes(typeof v);
  });
  return [
    ...METRIC_ORDER.filter((k) => keys.includes(k)),
    ...keys.filter((k) => !METRIC_ORDER.includes(k)).sort(),
  ];
}

const price = (v) => formatNumber(v, 4);
/** "gain" above zero, "loss" below, "" otherwise (or not a number): the cell's colour. */
export const signTone = (v) => (typeof v !== "number" || v === 0 ? "" : v > 0 ? "gain" : "loss");
const orBlank = (format) => (v) => (v === null || v === undefined ? "–" : format(v));
const TRADE_COLUMNS = [
  { key: "seq", label: "#", numeric: true },
  { key: "symbol", label: "Symbol" },
  { key: "side", label: "Side" },
  { key: "entry_time", get label() { return zoneLabel("Entry"); }, format: formatTime },
  { key: "entry_price", label: "Entry price", numeric: true, format: price },
  { key: "exit_time", get label() { return zoneLabel("Exit"); }, format: formatTime },
  { key: "exit_price", label: "Exit price", numeric: true, format: price },
  { key: "size", label: "Size", numeric: true, format: (v) => formatNumber(v, 6) },
  { key: "leverage", label: "Leverage", numeric: true, format: orBlank((v) => `${formatNumber(v, 2)}x`) },
  { key: "margin", label: "Margin", numeric: true, format: orBlank((v) => formatNumber(v, 2)) },
  { key: "pnl", label: "PnL", numeric: true, format: (v) => formatNumber(v, 2), tone: signTone },
  { key: "return_pct", label: "Return %", numeric: true, format: (v) => formatNumber(v, 2), tone: signTone },
  { key: "rom_pct", label: "Return on margin %", numeric: true, format: orBlank((v) => formatNumber(v, 2)), tone: signTone },
  { key: "fees", label: "Fees", numeric: true, format: (v) => formatNumber(v, 4) },
  { key: "exit_reason", label: "Exit reason" },
];
const ORDER_COLUMNS = [
  { key: "id", label: "#", numeric: true },
  { key: "symbol", label: "Symbol" },
  { key: "created_time", get label() { return zoneLabel("Placed"); }, format: formatTime },
  { key: "side", label: "Side" },
  { key: "type", label: "Type" },
  // A filled close_position() order's amount is what it closed; one that never filled asked
  // for a share of the position, resolved only at a fill (amount 0).
  { key: "amount", label: "Amount", numeric: true, format: (v) => (v === 0 ? "share of position" : formatNumber(v, 6)) },
  { key: "filled_amount", label: "Filled amount", numeric: true, format: (v) => formatNumber(v, 6) },
  { key: "leverage", label: "Leverage", numeric: true, format: (v) => formatNumber(v, 2) },
  { key: "status", label: "Status" },
  { key: "filled_time", get label() { return zoneLabel("Filled"); }, format: formatTime },
  { key: "filled_price", label: "Fill price", numeric: true, format: price },
  // A liquidation's fee is its clearance fee: the margin left at the liquidation price.
  { key: "fee", label: "Fee", numeric: true, format: (v) => formatNumber(v, 4) },
  { key: "reason", label: "Reason" },
];

function normaliseTrades(body) {
  return listFrom(body, "trades").map((t, i) => ({
    ...t,
    seq: t.seq ?? i + 1,
    return_pct:
      t.size && t.entry_price ? (t.pnl / Math.abs(t.size * t.entry_price)) * 100 : null,
    rom_pct: typeof t.return_on_margin === "number" ? t.return_on_margin * 100 : null,
  }));
}

function normaliseCandles(body) {
  if (body && Array.isArray(body.time) && Array.isArray(body.open)) {
    return body.time.map((t, i) => ({
      time: Math.floor(toSeconds(t)), open: body.open[i], high: body.high[i], low: body.low[i], close: body.close[i],
    }));
  }
  return listFrom(body, "candles", "bars").map((c) => ({
    time: Math.floor(toSeconds(c.time)), open: c.open, high: c.high, low: c.low, close: c.close,
  }));
}

/**
 * Buy and hold on the same chart: the starting equity in the asset from the first candle's close,
 * valued at each close (the `buy_and_hold_return` metric's convention: last close / first close).
 */
export function benchmarkPoints(candles, initial) {
  const first = candles.find((c) => Number.isFinite(c.close) && c.close > 0);
  if (!first) return [];
  return candles.map((c) => ({ time: c.time, value: (initial * c.close) / first.close }));
}

export class ResultsView {
  /** `onErrorLine(run, line)` shows a failed run's line in the editor. */
  constructor(root, { catalog, onErrorLine, onTabChange = () => {}, onShown = () => {} }) {
    this.root = root;
    this.onTabChange = onTabChange;
    this.onShown = onShown; // (run, {orders}) once its tables are filled
    this.definitions = catalog.metric_definitions || {};
    this.onErrorLine = onErrorLine;
    this.trades = new DataTable(root.querySelector("#trades-table"), TRADE_COLUMNS, {
      caption: "Trades", emptyText: "No closed trades.",
      onRowClick: (trade) => this.showTrade(trade), // the price chart zoomed to it
    });
    this.orders = new DataTable(root.querySelector("#orders-table"), ORDER_COLUMNS, {
      caption: "Orders", emptyText: "No orders.",
    });
    this.equityChart = null;
    this.candleChart = null;
    this.runId = null;
    // Times are drawn in the displayed zone: the metrics and logs again when it changes (the
    // tables and charts redraw themselves).
    onDisplayChange(({ changed }) => {
      if (changed !== "timeZone") return;
      if (this.metrics) this.showMetrics(this.metrics);
      if (this.logLines) this.showLogs(this.logLines);
    });
    root.querySelector("#export-orders")?.addEventListener("click", () => {
      download(`run-${this.runId}-orders.csv`, this.orders.csv());
    });
    root.querySelector("#export-equity")?.addEventListener("click", () => this.exportEquity());
    root.querySelector("#export-trades").addEventListener("click", () => {
      download(`run-${this.runId}-trades.csv`, this.trades.csv());
    });
    this.setupTabs();
  }

  setupTabs() {
    const tabs = [...this.root.querySelectorAll('[role="tab"]')];
    const select = (tab) => {
      for (const other of tabs) {
        const isSelected = other === tab;
        other.setAttribute("aria-selected", String(isSelected));
        other.tabIndex = isSelected ? 0 : -1;
        document.getElementById(other.getAttribute("aria-controls")).hidden = !isSelected;
      }
      // Charts drawn while their panel was hidden had no width: refit them once shown.
      this.equityChart?.fit();
      this.candleChart?.fit();
    };
    const chosen = (tab) => {
      select(tab);
      this.onTabChange(tab.id.replace(/^tab-/, ""));
    };
    tabs.forEach((tab, i) => {
      tab.addEventListener("click", () => chosen(tab));
      tab.addEventListener("keydown", (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        const next = tabs[(i + step + tabs.length) % tabs.length];
        chosen(next);
        next.focus();
      });
    });
    this.selectTabElement = select;
  }

  /** Downloads the run's whole equity curve (every bar, not the chart's thinned points). */
  async exportEquity() {
    const runId = this.runId;
    try {
      const body = await api.runEquity(runId, 1_000_000);
      const rows = listFrom(body, "points").map((p) => ({
        time: new Date(toSeconds(p.time) * 1000).toISOString(),
        equity: p.equity, drawdown: p.drawdown, position: p.position,
      }));
      const columns = ["time", "equity", "drawdown", "position"].map((key) => ({ key }));
      download(`run-${runId}-equity.csv`, toCsv(columns, rows));
    } catch (error) {
      this.root.querySelector("#candle-note").textContent = `Couldn't export the equity: ${error.message}`;
    }
  }

  /** Switches to the price chart, zoomed to `trade` (a row of the trades table). */
  showTrade(trade) {
    if (!this.candleChart) return;
    this.selectTab("chart");
    this.onTabChange("chart");
    this.candleChart.zoomTo(Math.floor(toSeconds(trade.entry_time)), Math.floor(toSeconds(trade.exit_time)));
  }

  /** Shows results tab `name` ("overview", "chart", "trades", "orders", "logs"). */
  selectTab(name) {
    const tab = this.root.querySelector(`#tab-${CSS.escape(name || "overview")}`);
    if (tab) this.selectTabElement(tab);
  }

  /** The results tab shown now. */
  currentTab() {
    const tab = this.root.querySelector('[role="tab"][aria-selected="true"]');
    return tab ? tab.id.replace(/^tab-/, "") : "overview";
  }

  /** Shows run `run` (a record from GET /api/runs/{id}); loads its tables and charts. */
  async show(run) {
    this.runId = run.id;
    this.root.hidden = false;
    this.root.querySelector("#results-title").textContent =
      `Results · run ${shortRunId(run.id)}${run.strategy_name ? ` · ${run.strategy_name}` : ""} · ${run.status}`;
    this.showError(run);
    this.showMetrics(run.metrics || {});
    const report = this.root.querySelector("#report-link");
    report.href = `/api/runs/${encodeURIComponent(run.id)}/report`;
    report.hidden = run.status !== "done";
    const [equity, trades, orders, logs, candles, indicators] = await Promise.allSettled([
      api.runEquity(run.id), api.runTrades(run.id), api.runOrders(run.id), api.runLogs(run.id),
      api.runCandles(run.id), api.runIndicators(run.id),
    ]);
    if (this.runId !== run.id) return; // another run was opened meanwhile
    const tradeRows = trades.status === "fulfilled" ? normaliseTrades(trades.value) : [];
    this.tradeRows = tradeRows;
    this.indicatorBody = candles.status === "fulfilled" && indicators.status === "fulfilled" ? indicators.value : null;
    const orderRows = orders.status === "fulfilled" ? listFrom(orders.value, "orders") : [];
    // the Symbol column belongs to runs over several symbols (as in their trades.csv)
    const symbols = candles.status === "fulfilled" ? candles.value?.symbols || [] : [];
    const isSeveral = symbols.length > 1 || new Set([...tradeRows, ...orderRows].map((r) => r.symbol || "")).size > 1;
    this.trades.setColumnShown("symbol", isSeveral);
    this.orders.setColumnShown("symbol", isSeveral);
    this.trades.setRows(tradeRows);
    this.orders.setRows(orderRows);
    this.showLogs(logs.status === "fulfilled" ? listFrom(logs.value, "logs", "lines") : []);
    const curve = equity.status === "fulfilled" ? toEquityPoints(equity.value) : [];
    this.showEquity(curve);
    this.showCandles(candles, tradeRows);
    this.showIndicators(this.indicatorBody);
    if (candles.status === "fulfilled" && curve.length) {
      this.equityChart.setBenchmark(benchmarkPoints(normaliseCandles(candles.value), curve[0].value));
    }
    this.onShown(run, { orders: orderRows });
  }

  showError(run) {
    const box = this.root.querySelector("#run-error");
    const error = run.error;
    box.replaceChildren();
    box.hidden = !error;
    if (!error) return;
    const message = typeof error === "string" ? error : error.message || JSON.stringify(error);
    const line = typeof error === "object" ? error.line : null;
    const text = document.createElement("p");
    if (run.status === "cancelled") text.textContent = "This run was cancelled before it finished.";
    else if (error.kind === "interrupted") text.textContent = `This run didn't finish: ${message}`;
    else text.textContent = `The strategy failed${line ? ` at line ${line}` : ""}: ${withoutLinePrefix(message)}`;
    box.append(text);
    if (line) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `Go to line ${line}`;
      button.addEventListener("click", () => this.onErrorLine(run, line));
      box.append(button);
    }
  }

  showMetrics(metrics) {
    this.metrics = metrics;
    const body = this.root.querySelector("#metrics-table tbody");
    body.replaceChildren();
    const keys = orderedMetricKeys(metrics);
    if (!keys.length) {
      const row = body.insertRow();
      const cell = row.insertCell();
      cell.colSpan = 3;
      cell.className = "muted";
      cell.textContent = "No metrics for this run.";
      return;
    }
    for (const key of keys) {
      const row = body.insertRow();
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = labelFromKey(key);
      row.append(name);
      const value = row.insertCell();
      value.className = "num";
      value.dataset.metric = key;
      value.textContent = formatMetric(key, metrics[key]);
      const convention = row.insertCell();
      convention.className = "muted";
      convention.textContent = this.definitions[key] || "";
    }
  }

  showEquity(points) {
    const container = this.root.querySelector("#equity-chart");
    container.hidden = points.length === 0; // a run that failed early has no curve
    if (!this.equityChart) this.equityChart = new EquityChart(container);
    this.equityChart.setPoints(points);
  }

  showCandles(result, trades) {
    const container = this.root.querySelector("#candle-chart");
    const note = this.root.querySelector("#candle-note");
    if (result.status !== "fulfilled") {
      const reason = result.reason instanceof ApiError && result.reason.status === 404
        ? "This server doesn't offer the run's candles (GET /api/runs/{id}/candles)."
        : `Candles unavailable: ${result.reason.message}`;
      note.textContent = reason;
      container.hidden = true;
      return;
    }
    container.hidden = false;
    note.textContent = "▲ long entry · ▼ short entry · ● exit · ■ liquidation · hover a marker for its trade; click a trade in Trades to zoom to it";
    if (!this.candleChart) this.candleChart = new CandleChart(container);
    const candles = normaliseCandles(result.value);
    const times = candles.map((c) => c.time);
    const symbol = result.value?.symbol || "";
    this.showSymbolPicker(result.value?.symbols || [], symbol);
    // a run over several symbols: this symbol's trades only (a trade without one is the run's)
    const own = trades.filter((t) => !t.symbol || !symbol || t.symbol === symbol);
    this.candleChart.setCandles(candles, tradeMarkers(own, toSeconds, times));
  }

  /**
   * The symbol picker above the price chart of a run over several symbols (hidden for one):
   * choosing a symbol draws its candles with its trades' markers; the strategy's indicator
   * lines belong to the primary symbol (the first) and are shown with it only.
   */
  showSymbolPicker(symbols, current) {
    let picker = this.root.querySelector("#candle-symbol");
    if (!picker) {
      const label = document.createElement("label");
      label.className = "candle-symbol";
      label.textContent = "Symbol ";
      picker = document.createElement("select");
      picker.id = "candle-symbol";
      label.append(picker);
      this.root.querySelector("#candle-chart").before(label);
      picker.addEventListener("change", () => this.pickSymbol(picker.value));
    }
    picker.parentElement.hidden = symbols.length < 2;
    picker.replaceChildren(...symbols.map((symbol) => new Option(symbol, symbol, false, symbol === current)));
  }

  async pickSymbol(symbol) {
    const runId = this.runId;
    let result;
    try {
      result = { status: "fulfilled", value: await api.runCandles(runId, symbol) };
    } catch (reason) {
      result = { status: "rejected", reason };
    }
    if (this.runId !== runId) return;
    this.showCandles(result, this.tradeRows || []);
    const isPrimary = result.status === "fulfilled" && result.value.symbols?.[0] === symbol;
    this.showIndicators(isPrimary ? this.indicatorBody : null);
  }

  /**
   * The strategy's indicators on the price chart, with a checkbox per `self.indicator(...)`
   * (all shown at first); `body` is GET /api/runs/{id}/indicators' answer, or null.
   */
  showIndicators(body) {
    const box = this.indicatorToggles();
    box.replaceChildren();
    const indicators = body?.indicators || [];
    box.hidden = !this.candleChart || indicators.length === 0;
    if (!this.candleChart) return;
    const shown = new Set(indicators.map((_, i) => i).filter((i) => indicators[i].lines?.length));
    const legend = document.createElement("legend");
    legend.textContent = "Indicators";
    box.append(legend);
    indicators.forEach((indicator, i) => {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.checked = shown.has(i);
      input.disabled = !indicator.lines?.length;
      input.dataset.indicator = String(i);
      input.addEventListener("change", () => {
        if (input.checked) shown.add(i);
        else shown.delete(i);
        this.candleChart.setIndicators(indicators, shown);
      });
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = indicatorColor(i, 0);
      const where = indicator.lines?.some((line) => line.placement === "pane") ? " (pane)" : "";
      label.append(input, swatch, `${indicator.label}${where}`);
      if (indicator.error) label.title = indicator.error;
      box.append(label);
    });
    this.candleChart.setIndicators(indicators, shown);
  }

  /** The fieldset of indicator checkboxes above the price chart (made on first use). */
  indicatorToggles() {
    let box = this.root.querySelector("#indicator-toggles");
    if (!box) {
      box = document.createElement("fieldset");
      box.id = "indicator-toggles";
      box.className = "indicator-toggles";
      this.root.querySelector("#candle-chart").before(box);
    }
    return box;
  }

  showLogs(lines) {
    this.logLines = lines;
    const list = this.root.querySelector("#results-log");
    list.replaceChildren();
    for (const line of lines) {
      const item = document.createElement("li");
      item.className = `log-${line.level || "info"}`;
      item.textContent = `${formatTime(line.time)}  ${line.level && line.level !== "info" ? `${line.level.toUpperCase()}: ` : ""}${line.message ?? ""}`;
      list.append(item);
    }
    if (!lines.length) {
      const item = document.createElement("li");
      item.className = "muted";
      item.textContent = "The strategy logged nothing.";
      list.append(item);
    }
  }

  hide() {
    this.root.hidden = true;
    this.runId = null;
  }
}
