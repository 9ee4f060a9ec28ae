// Formatting of numbers, times and durations for display; every time the API sends is UTC and
// is shown in the displayed time zone (static/js/display.js).

import { currentTimeZone, zonedParts } from "./display.js";

/** Seconds since the epoch from epoch ns / us / ms / s numbers or ISO strings. */
export function toSeconds(value) {
  if (value === null || value === undefined || value === "") return NaN;
  if (typeof value === "string") {
    if (/^-?\d+(\.\d+)?$/.test(value)) return toSeconds(Number(value));
    const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
    return Date.parse(iso) / 1000;
  }
  const abs = Math.abs(value);
  if (abs > 1e17) return value / 1e9; // nanoseconds
  if (abs > 1e14) return value / 1e6; // microseconds
  if (abs > 1e11) return value / 1e3; // milliseconds
  return value;
}

/** "2024-03-01 14:00" for any time value the API sends, in the displayed time zone
 * (static/js/display.js; UTC unless chosen otherwise). */
export function formatTime(value) {
  const seconds = toSeconds(value);
  if (!Number.isFinite(seconds)) return "";
  const zone = currentTimeZone();
  if (zone === "UTC") return formatUtcTime(seconds);
  const p = zonedParts(seconds, zone);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** "2024-03-01 14:00" in UTC whatever zone is displayed: for what the run form takes in UTC. */
export function formatUtcTime(value) {
  const seconds = toSeconds(value);
  if (!Number.isFinite(seconds)) return "";
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");
}

/** "2024-03-01" (UTC) for an <input type="date">. */
export function formatDate(value) {
  const seconds = toSeconds(value);
  if (!Number.isFinite(seconds)) return "";
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}

export function formatNumber(value, digits = 2) {
  if (value === null || value === undefined || value === "") return "–";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return value > 0 ? "∞" : value < 0 ? "-∞" : "–";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: 0,
    maximumFractionDigits: Math.abs(value) >= 1000 ? Math.min(digits, 2) : digits,
  });
}

export function formatPercent(fraction, digits = 2) {
  if (typeof fraction !== "number" || !Number.isFinite(fraction)) return formatNumber(fraction);
  return `${(fraction * 100).toFixed(digits)} %`;
}

/** "1 h 05 m", "42 s" for a duration in seconds. */
export function formatDuration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} m ${String(Math.round(seconds % 60)).padStart(2, "0")} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${String(minutes % 60).padStart(2, "0")} m`;
}

/** Equity points from any of the shapes a curve comes in, as [{time (s), value}] ascending. */
export function toEquityPoints(payload) {
  if (!payload) return [];
  if (Array.isArray(payload.points)) return toEquityPoints(payload.points);
  let rows = [];
  if (Array.isArray(payload)) {
    rows = payload.map((p) =>
      Array.isArray(p)
        ? { time: p[0], value: p[1] }
        : { time: p.time ?? p.t, value: p.equity ?? p.value ?? p.v },
    );
  } else if (Array.isArray(payload.time) && Array.isArray(payload.equity)) {
    rows = payload.time.map((t, i) => ({ time: t, value: payload.equity[i] }));
  }
  const points = [];
  for (const row of rows) {
    const time = Math.floor(toSeconds(row.time));
    const value = Number(row.value);
    if (!Number.isFinite(time) || !Number.isFinite(value)) continue;
    const last = points[points.length - 1];
    if (last && time <= last.time) {
      if (time === last.time) last.value = value; // charts need strictly increasing times
      continue;
    }
    points.push({ time, value });
  }
  return points;
}

/** Words from a snake_case key: "max_drawdown_days" -> "Max drawdown days". */
export function labelFromKey(key) {
  const text = String(key).replaceAll("_", " ").replace(/\bcagr\b/, "CAGR");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A failure message without a leading "line N: " (the page says the line itself). */
export function withoutLinePrefix(message) {
  return String(message ?? "").replace(/^line \d+:\s*/, "");
}

/** The first 8 characters of a long run id, for display (links and tooltips keep it whole). */
export function shortRunId(id) {
  const text = String(id);
  return text.length > 12 ? text.slice(0, 8) : text;
}
