// The monthly returns heatmap of a finished run (GET /api/runs/{id}/periods): a row per year,
// a cell per UTC month coloured by its return (green up, red down), and the year's return.

import { api } from "./api.js";
import { formatPercent } from "./format.js";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A background colour for return `value` (fraction), scaled by the largest absolute return. */
export function heatColour(value, scale) {
  const strength = scale > 0 ? Math.min(1, Math.abs(value) / scale) : 0;
  const alpha = (0.12 + 0.6 * strength).toFixed(2);
  return value >= 0 ? `rgba(63,185,80,${alpha})` : `rgba(248,81,73,${alpha})`;
}

export class PeriodReturnsView {
  constructor(root) {
    this.root = root;
    this.table = root.querySelector("table");
    this.note = root.querySelector(".muted");
    this.runId = null;
  }

  async show(run) {
    this.runId = run.id;
    let body;
    try {
      body = await api.runPeriods(run.id);
    } catch {
      this.root.hidden = true; // an older server without the route: the rest still works
      return;
    }
    if (this.runId !== run.id) return;
    this.render(body);
  }

  render(body) {
    const months = body.months || [];
    this.root.hidden = months.length === 0;
    if (!months.length) return;
    const scale = Math.max(...months.map((m) => Math.abs(m.ret)));
    const years = new Map((body.years || []).map((y) => [y.year, y]));
    this.table.replaceChildren();
    const caption = this.table.createCaption();
    caption.className = "visually-hidden";
    caption.textContent = "Monthly returns";
    const head = this.table.createTHead().insertRow();
    for (const text of ["Year", ...MONTHS, "Year return"]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = text;
      head.append(th);
    }
    const tbody = this.table.createTBody();
    const byYear = new Map();
    for (const month of months) {
      if (!byYear.has(month.year)) byYear.set(month.year, new Map());
      byYear.get(month.year).set(month.month, month);
    }
    for (const [year, cells] of byYear) {
      const row = tbody.insertRow();
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = String(year);
      row.append(name);
      for (let month = 1; month <= 12; month += 1) {
        const cell = row.insertCell();
        cell.className = "num heat";
        const period = cells.get(month);
        if (!period) continue;
        cell.textContent = formatPercent(period.ret, 1);
        cell.dataset.year = String(year);
        cell.dataset.month = String(month);
        cell.dataset.return = String(period.ret);
        cell.style.background = heatColour(period.ret, scale);
        cell.title = `${MONTHS[month - 1]} ${year}: ${formatPercent(period.ret, 2)}${period.is_partial ? " (part of the month)" : ""}`;
      }
      const total = row.insertCell();
      total.className = "num";
      const summary = years.get(year);
      if (summary) {
        total.textContent = formatPercent(summary.ret, 1);
        total.dataset.return = String(summary.ret);
        if (summary.is_partial) total.title = "part of the year";
      }
    }
    this.note.textContent = body.convention ? `Convention: ${body.convention}.` : "";
  }
}
