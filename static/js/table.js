// A sortable data table (click a column header; aria-sort says the order) with CSV export.

import { onDisplayChange } from "./display.js";

function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined || a === "") return 1;
  if (b === null || b === undefined || b === "") return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), "en", { numeric: true });
}

function csvCell(value) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Rows as CSV text (raw values, not the display formatting), header line first. */
export function toCsv(columns, rows) {
  const lines = [columns.map((c) => csvCell(c.key)).join(",")];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c.key])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

/** Starts a download of `text` as `filename` without a round trip to the server. */
export function download(filename, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export class DataTable {
  /**
   * `columns`: [{key, label, format?(value,row), numeric?, tone?(value,row)}]; `tone` returns
   * "gain", "loss" or "" (the cell's colour class); `caption` names the table for readers.
   */
  constructor(table, columns, { caption = "", emptyText = "Nothing here.", onRowClick = null } = {}) {
    this.table = table;
    this.onRowClick = onRowClick; // (row) when a body row is clicked
    if (onRowClick) table.dataset.clickable = "true";
    this.columns = columns;
    this.hidden = new Set(); // keys of the columns not shown (nor exported)
    this.rows = [];
    this.sortKey = null;
    this.descending = false;
    this.emptyText = emptyText;
    this.headerButtons = [];
    // Times are formatted when drawn, and a label may name the zone: redraw on a change.
    onDisplayChange(() => {
      for (const [button, column] of this.headerButtons) button.textContent = column.label;
      this.render();
    });
    table.replaceChildren();
    if (caption) {
      const element = table.createCaption();
      element.textContent = caption;
      element.className = "visually-hidden";
    }
    this.head = table.createTHead().insertRow();
    this.renderHead();
    this.body = table.createTBody();
  }

  /** The header row: one sorting button per shown column. */
  renderHead() {
    this.headerButtons = [];
    this.head.replaceChildren();
    for (const column of this.visibleColumns()) {
      const th = document.createElement("th");
      th.scope = "col";
      th.dataset.key = column.key;
      th.setAttribute("aria-sort", this.ariaSort(column.key));
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = column.label;
      this.headerButtons.push([button, column]);
      button.addEventListener("click", () => this.sortBy(column.key));
      // The whole header cell sorts, not only its text (the button inside is the keyboard way).
      th.addEventListener("click", (event) => { if (event.target === th) this.sortBy(column.key); });
      th.append(button);
      if (column.numeric) th.className = "num";
      this.head.append(th);
    }
  }

  ariaSort(key) {
    return this.sortKey !== key ? "none" : this.descending ? "descending" : "ascending";
  }

  setRows(rows) {
    this.rows = [...rows];
    this.render();
  }

  /** Show or hide the column `key`: its header, its cells and its CSV field. */
  setColumnShown(key, shown) {
    if (shown === !this.hidden.has(key)) return;
    if (shown) this.hidden.delete(key);
    else this.hidden.add(key);
    this.renderHead();
    this.render();
  }

  visibleColumns() {
    return this.columns.filter((column) => !this.hidden.has(column.key));
  }

  sortBy(key) {
    this.descending = this.sortKey === key ? !this.descending : false;
    this.sortKey = key;
    for (const th of this.head.cells) th.setAttribute("aria-sort", this.ariaSort(th.dataset.key));
    this.render();
  }

  sortedRows() {
    if (!this.sortKey) return this.rows;
    const sign = this.descending ? -1 : 1;
    return [...this.rows].sort((a, b) => sign * compare(a[this.sortKey], b[this.sortKey]));
  }

  render() {
    const fragment = document.createDocumentFragment();
    const rows = this.sortedRows();
    const columns = this.visibleColumns();
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = columns.length;
      td.className = "muted";
      td.textContent = this.emptyText;
      tr.append(td);
      fragment.append(tr);
    }
    for (const row of rows) {
      const tr = document.createElement("tr");
      if (this.onRowClick) tr.addEventListener("click", () => this.onRowClick(row));
      for (const column of columns) {
        const td = document.createElement("td");
        const value = row[column.key];
        td.textContent = column.format ? column.format(value, row) : value ?? "";
        const tone = column.tone ? column.tone(value, row) : "";
        td.className = [column.numeric ? "num" : "", tone].filter(Boolean).join(" ");
        tr.append(td);
      }
      fragment.append(tr);
    }
    this.body.replaceChildren(fragment);
  }

  /** The rows in their current order as CSV text. */
  csv() {
    return toCsv(this.visibleColumns(), this.sortedRows());
  }
}
