// Charts on TradingView lightweight-charts (static/vendor, loaded as the global
// `LightweightCharts`): equity with drawdown, candlesticks with trade markers, comparisons.

import { chartColors, currentTimeZone, onDisplayChange, zonedParts } from "./display.js";
import { formatTime } from "./format.js";

const THEME = {
  autoSize: true,
  layout: { background: { color: "#161b22" }, textColor: "#c9d1d9", fontSize: 12 },
  grid: { vertLines: { color: "#21262d" }, horzLines: { color: "#21262d" } },
  // A whole year of hourly points must fit a narrow window: the default minimum of 0.5 px per
  // point would leave fitContent() showing only the last months.
  timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#30363d", minBarSpacing: 0.001 },
  rightPriceScale: { borderColor: "#30363d" },
  crosshair: { mode: 0 },
};

export const COLORS = ["#58a6ff", "#f0883e", "#3fb950", "#d2a8ff"];

// Every chart made here follows the page's theme and time zone (static/js/display.js), also
// when they change: the colours are re-applied and the time labels redrawn.
const themedCharts = new Set();
onDisplayChange(() => {
  for (const ref of themedCharts) {
    const chart = ref.deref();
    if (chart) chart.applyOptions(displayOptions());
    else themedCharts.delete(ref);
  }
});

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** An axis label for a UTC timestamp in the displayed zone (lightweight-charts TickMarkType:
 * 0 year, 1 month, 2 day of month, 3 time, 4 time with seconds); null (the default) in UTC. */
function tickMark(time, type) {
  if (typeof time !== "number" || currentTimeZone() === "UTC") return null;
  const p = zonedParts(time);
  if (type === 0) return p.year;
  if (type === 1) return MONTHS[Number(p.month) - 1];
  if (type === 2) return String(Number(p.day));
  return `${p.hour}:${p.minute}`;
}

function displayOptions() {
  const colors = chartColors();
  return {
    ...colors,
    localization: { timeFormatter: (time) => (typeof time === "number" ? formatTime(time) : String(time)) },
    timeScale: { ...colors.timeScale, tickMarkFormatter: tickMark },
  };
}

/** A chart with `options` (THEME) in the current theme's colours and time zone, kept so. */
export function themedChart(lib, container, options = THEME) {
  const display = displayOptions();
  const chart = lib.createChart(container, {
    ...options,
    layout: { ...options.layout, ...display.layout },
    grid: display.grid,
    localization: display.localization,
    timeScale: { ...options.timeScale, ...display.timeScale },
    rightPriceScale: { ...options.rightPriceScale, ...display.rightPriceScale },
  });
  themedCharts.add(new WeakRef(chart));
  return chart;
}

function library() {
  const lib = window.LightweightCharts;
  if (!lib) throw new Error("lightweight-charts is missing: run ./scripts/setup to vendor it.");
  return lib;
}

/** Drawdown (fraction <= 0) of each point from the running peak, as percent points. */
export function drawdownPoints(points) {
  let peak = -Infinity;
  return points.map(({ time, value }) => {
    peak = Math.max(peak, value);
    return { time, value: peak > 0 ? (value / peak - 1) * 100 : 0 };
  });
}

/** Equity line with its drawdown underneath in a second pane; `update` appends live points. */
export class EquityChart {
  constructor(container, { withDrawdown = true } = {}) {
    const lib = library();
    this.chart = themedChart(lib, container);
    container.chartApi = this.chart; // for the browser tests and the console
    this.equity = this.chart.addSeries(lib.LineSeries, {
      color: COLORS[0], lineWidth: 2, title: "Equity", priceLineVisible: false,
    });
    this.drawdown = withDrawdown
      ? this.chart.addSeries(
          lib.AreaSeries,
          {
            lineColor: "#f85149", topColor: "rgba(248,81,73,0.05)", bottomColor: "rgba(248,81,73,0.4)",
            lineWidth: 1, title: "Drawdown %", priceLineVisible: false, invertFilledArea: true,
            priceFormat: { type: "custom", formatter: (v) => `${v.toFixed(1)} %` },
          },
          1,
        )
      : null;
    this.peak = -Infinity;
    this.last = null;
    this.benchmark = null; // buy and hold, added by setBenchmark
    if (this.drawdown) this.chart.panes()[1]?.setHeight(90);
  }

  /** A dashed buy-and-hold line beside the equity (empty `points` removes it). */
  setBenchmark(points) {
    if (!this.benchmark) {
      this.benchmark = this.chart.addSeries(library().LineSeries, {
        color: "#8b949e", lineWidth: 1, lineStyle: 2, title: "Buy and hold", priceLineVisible: false,
      });
    }
    this.benchmark.setData(points);
    this.fit();
  }

  setPoints(points) {
    this.benchmark?.setData([]); // a new run: its own benchmark comes with its candles
    this.equity.setData(points);
    if (this.drawdown) this.drawdown.setData(drawdownPoints(points));
    this.peak = points.reduce((m, p) => Math.max(m, p.value), -Infinity);
    this.last = points.length ? points[points.length - 1] : null;
    this.chart.timeScale().fitContent();
    this.fit();
  }

  /** Appends points arriving while a run goes (older or equal times are skipped). */
  append(points) {
    for (const point of points) {
      if (this.last && point.time <= this.last.time) continue;
      this.equity.update(point);
      this.peak = Math.max(this.peak, point.value);
      if (this.drawdown) {
        this.drawdown.update({ time: point.time, value: this.peak > 0 ? (point.value / this.peak - 1) * 100 : 0 });
      }
      this.last = point;
    }
    this.chart.timeScale().fitContent();
  }

  clear() {
    this.setPoints([]);
  }

  /** Refits the time axis (after the chart's container was hidden and shown again). */
  fit() {
    const refit = () => this.chart.timeScale().fitContent();
    window.requestAnimationFrame(() => window.requestAnimationFrame(refit)); // after the resize
  }

  remove() {
    this.chart.remove();
  }
}

/**
 * Candlesticks with entries, exits and liquidations of the trades marked. Hovering a candle
 * that carries markers shows a tooltip with each one (entry or exit, price, PnL, reason);
 * `zoomTo` shows one trade; `setIndicators` draws the strategy's indicators.
 */
export class CandleChart {
  constructor(container) {
    const lib = library();
    this.chart = themedChart(lib, container);
    container.chartApi = this.chart; // for the browser tests and the console
    this.candles = this.chart.addSeries(lib.CandlestickSeries, {
      upColor: "#3fb950", downColor: "#f85149", borderVisible: false,
      wickUpColor: "#3fb950", wickDownColor: "#f85149",
    });
    this.container = container;
    this.indicatorSeries = [];
    this.paneCount = 0;
    this.markers = lib.createSeriesMarkers(this.candles, []);
    container.markersApi = this.markers; // for the browser tests
    this.details = new Map(); // candle time (s) -> lines describing its markers
    this.tooltip = document.createElement("div");
    this.tooltip.className = "chart-tooltip";
    this.tooltip.setAttribute("role", "tooltip");
    this.tooltip.hidden = true;
    container.style.position = "relative";
    container.append(this.tooltip);
    this.chart.subscribeCrosshairMove((param) => this.showTooltip(param));
  }

  setCandles(candles, markers) {
    this.candles.setData(candles);
    this.markers.setMarkers(markers);
    this.details = new Map();
    for (const marker of markers) {
      if (!marker.detail) continue;
      const lines = this.details.get(marker.time) || [];
      lines.push(marker.detail);
      this.details.set(marker.time, lines);
    }
    this.chart.timeScale().fitContent();
    this.fit();
  }

  /**
   * Draws `indicators` (GET /api/runs/{id}/indicators' list) whose index is in `shown` (a Set):
   * "price" lines over the candles, each indicator's "pane" lines in a pane of its own below
   * them (panes numbered in order, so hiding one closes its gap). Replaces what was drawn.
   */
  setIndicators(indicators, shown) {
    const lib = library();
    for (const series of this.indicatorSeries || []) this.chart.removeSeries(series);
    this.indicatorSeries = [];
    let pane = 0;
    indicators.forEach((indicator, i) => {
      if (!shown.has(i) || !indicator.lines?.length) return;
      const hasPane = indicator.lines.some((line) => line.placement === "pane");
      if (hasPane) pane += 1;
      indicator.lines.forEach((line, j) => {
        const series = this.chart.addSeries(
          lib.LineSeries,
          {
            color: indicatorColor(i, j), lineWidth: 1, title: line.column,
            priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
          },
          line.placement === "pane" ? pane : 0,
        );
        series.setData(indicatorPoints(indicator.time, line.values));
        this.indicatorSeries.push(series);
      });
    });
    this.paneCount = pane;
    for (const [index, chartPane] of this.chart.panes().entries()) {
      if (index > 0) chartPane.setHeight(INDICATOR_PANE_PX);
    }
    this.container.style.height = `${CANDLE_PANE_PX + pane * INDICATOR_PANE_PX}px`;
  }

  showTooltip(param) {
    const lines = param.time !== undefined ? this.details.get(param.time) : undefined;
    if (!lines || !param.point) {
      this.tooltip.hidden = true;
      return;
    }
    this.tooltip.replaceChildren(...lines.map((line) => Object.assign(document.createElement("div"), { textContent: line })));
    this.tooltip.hidden = false;
    const width = this.chart.options().width || 600;
    const left = param.point.x + 16 + 260 > width ? param.point.x - 276 : param.point.x + 16;
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${Math.max(0, param.point.y - 10)}px`;
  }

  /** Shows the candles from `from` to `to` (seconds) with a margin of a third on each side. */
  zoomTo(from, to) {
    const span = Math.max(to - from, 3600);
    const zoom = () => this.chart.timeScale().setVisibleRange({ from: from - span / 3, to: to + span / 3 });
    window.requestAnimationFrame(() => window.requestAnimationFrame(zoom)); // after fit()
  }

  fit() {
    const refit = () => this.chart.timeScale().fitContent();
    window.requestAnimationFrame(() => window.requestAnimationFrame(refit)); // after the resize
  }

  remove() {
    this.chart.remove();
  }
}

// The candles' height, and each indicator pane's below them (the chart grows to fit them).
const CANDLE_PANE_PX = 380;
const INDICATOR_PANE_PX = 120;
const INDICATOR_COLORS = ["#f0883e", "#d2a8ff", "#58a6ff", "#e3b341", "#56d4dd", "#ff7b72", "#a5d6ff"];

/** An indicator's `j`-th line's colour (indicators cycle the palette, their lines step on). */
export function indicatorColor(i, j) {
  return INDICATOR_COLORS[(i * 2 + j) % INDICATOR_COLORS.length];
}

/** Line points from parallel `times` (s) and `values`; a null value leaves a gap. */
export function indicatorPoints(times, values) {
  return times.map((time, k) => (values[k] === null || values[k] === undefined ? { time } : { time, value: values[k] }));
}

function snapToCandle(times, time) {
  let low = 0;
  let high = times.length - 1;
  if (high < 0 || time < times[0]) return times[0] ?? time;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (times[mid] <= time) low = mid;
    else high = mid - 1;
  }
  return times[low];
}

// Past this many trades the markers go without text (a wall of labels at 300+ trades); each
// marker's tooltip still says what it is.
export const MARKER_TEXT_LIMIT = 60;

const signed = (value) => (typeof value === "number" ? `${value >= 0 ? "+" : ""}${value.toFixed(2)}` : "–");
const words = (value) => String(value || "").replaceAll("_", " ");

/**
 * Trade markers for the candle chart: entries as arrows, exits as circles, liquidations as red
 * squares; `candleTimes` (ascending seconds) places each on the candle that contains it. Each
 * carries `detail`, the tooltip line; the text goes once there are more than
 * MARKER_TEXT_LIMIT trades.
 */
export function tradeMarkers(trades, toSeconds, candleTimes) {
  const place = (value) => snapToCandle(candleTimes, Math.floor(toSeconds(value)));
  const hasText = trades.length <= MARKER_TEXT_LIMIT;
  const markers = [];
  trades.forEach((trade, i) => {
    const number = trade.seq ?? i + 1;
    const isLong = trade.side === "long";
    const leverage = typeof trade.leverage === "number" ? ` ${Number(trade.leverage.toFixed(2))}x` : "";
    markers.push({
      time: place(trade.entry_time),
      position: isLong ? "belowBar" : "aboveBar",
      shape: isLong ? "arrowUp" : "arrowDown",
      color: isLong ? "#3fb950" : "#f0883e",
      text: hasText ? (isLong ? "Long" : "Short") : "",
      detail: `#${number} ${isLong ? "long" : "short"}${leverage} entry at ${trade.entry_price}`,
    });
    const isLiquidation = trade.exit_reason === "liquidation";
    const reason = trade.exit_reason && trade.exit_reason !== "signal" ? ` (${words(trade.exit_reason)})` : "";
    markers.push({
      time: place(trade.exit_time),
      position: isLong ? "aboveBar" : "belowBar",
      shape: isLiquidation ? "square" : "circle",
      color: isLiquidation ? "#ff2d55" : "#8b949e",
      text: hasText ? (isLiquidation ? "Liquidated" : `Exit${reason}`) : "",
      detail: `#${number} exit at ${trade.exit_price} · PnL ${signed(trade.pnl)} · ${words(trade.exit_reason) || "signal"}`,
    });
  });
  return markers.sort((a, b) => a.time - b.time);
}

/** Several equity curves on one chart, each relative to its own start (percent return). */
export class CompareChart {
  constructor(container) {
    this.lib = library();
    this.chart = themedChart(this.lib, container);
    this.series = [];
  }

  setCurves(curves) {
    for (const series of this.series) this.chart.removeSeries(series);
    this.series = curves.map(({ label, points }, i) => {
      const series = this.chart.addSeries(this.lib.LineSeries, {
        color: COLORS[i % COLORS.length], lineWidth: 2, title: label, priceLineVisible: false,
        priceFormat: { type: "custom", formatter: (v) => `${v.toFixed(1)} %` },
      });
      const base = points.length ? points[0].value : 1;
      series.setData(points.map((p) => ({ time: p.time, value: (p.value / base - 1) * 100 })));
      return series;
    });
    this.chart.timeScale().fitContent();
  }

  remove() {
    this.chart.remove();
  }
}
