// The settings a shown run ran with (strategy and version, dataset, period, market, leverage,
// cash, fees, slippage, funding, params), with "Rerun" and "Load these settings into the
// form"; and the banner of a run whose orders were refused.

import { currentTimeZone } from "./display.js";
import { formatNumber, formatTime, formatUtcTime, toSeconds } from "./format.js";

function percent(fraction) {
  return typeof fraction === "number" ? `${formatNumber(fraction * 100, 4)} %` : "–";
}

/** [label, text] rows describing `run` (a record from GET /api/runs/{id}). */
export function settingsRows(run) {
  const config = run.config || {};
  const isSpot = config.mode === "spot";
  const strategy = run.strategy_id
    ? `${run.strategy_name} (saved #${run.strategy_id}${run.strategy_version ? `, version ${run.strategy_version}` : ""})`
    : `${run.strategy_name || "–"} (unsaved code)`;
  const period = [
    config.start !== null && config.start !== undefined ? formatUtcTime(config.start) : "dataset start",
    config.end !== null && config.end !== undefined ? formatUtcTime(config.end) : "dataset end",
  ].join(" → ");
  const params = Object.entries(run.params || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return [
    ["Strategy", strategy],
    ["Code", run.code_hash ? `sha256 ${String(run.code_hash).slice(0, 12)}…` : "–"],
    ["Dataset", `${run.dataset}${run.dataset_version && run.dataset_version !== run.dataset ? ` (${run.dataset_version})` : ""}`],
    ["Period (UTC)", period],
    ["Market", isSpot ? "Spot" : "Futures"],
    ["Max leverage", isSpot ? "1 (spot)" : formatNumber(config.leverage_max)],
    ["Starting cash", formatNumber(config.cash)],
    ["Fees (maker / taker)", `${percent(config.fee_maker)} / ${percent(config.fee_taker)}`],
    ["Slippage", `${formatNumber(config.slippage_bps)} bps`],
    ["Funding", isSpot ? "none (spot)" : `${percent(config.funding_rate)} every ${formatNumber(config.funding_interval_h)} h`],
    ["Params", params.length ? params.join(", ") : "none"],
    ["Config", run.config_hash ? `sha256 ${String(run.config_hash).slice(0, 12)}…` : "–"],
  ];
}

/** Refused orders of a run: {count, first} from its orders (denied or rejected). */
export function refusedOrders(orders) {
  const refused = orders.filter((o) => o.status === "denied" || o.status === "rejected");
  const first = refused.length
    ? refused.reduce((a, b) => (toSeconds(a.created_time) <= toSeconds(b.created_time) ? a : b))
    : null;
  return { count: refused.length, first };
}

export class RunSettingsView {
  /** `onRerun(run)` and `onLoad(run)` act on the shown run. */
  constructor(root, { onRerun, onLoad }) {
    this.root = root;
    this.run = null;
    this.table = root.querySelector("#run-settings-table tbody");
    root.querySelector("#rerun-button").addEventListener("click", () => this.run && onRerun(this.run));
    root.querySelector("#load-settings-button").addEventListener("click", () => this.run && onLoad(this.run));
  }

  show(run) {
    this.run = run;
    this.table.replaceChildren();
    for (const [label, text] of settingsRows(run)) {
      const row = this.table.insertRow();
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = label;
      row.append(name);
      row.insertCell().textContent = text;
    }
    this.root.hidden = false;
  }

  /** The banner above a run's results when orders were refused: count and first reason. */
  showRefused(banner, orders) {
    const { count, first } = refusedOrders(orders);
    banner.hidden = count === 0;
    if (!count) return;
    const when = formatTime(first.created_time);
    banner.textContent =
      `${formatNumber(count, 0)} order${count === 1 ? " was" : "s were"} refused. ` +
      `The first, at ${when} ${currentTimeZone()}: ${first.reason || "no reason given"}. ` +
      "The Orders tab and the log list each one.";
  }
}
