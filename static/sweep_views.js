// The sweep page's pictures, drawn as plain SVG: a heatmap of one metric over two params (the
// trials sharing a cell, which differ in the other params, aggregated by max or mean) and
// parallel coordinates over every searched param and the metric.

const SVG = "http://www.w3.org/2000/svg";

function svgElement(name, attributes = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

/** A finite number, or null (metrics may be null, text or missing). */
export function metricValue(trial, metric) {
  const value = trial.metrics ? trial.metrics[metric] : undefined;
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function compareValues(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b));
}

/**
 * The heatmap's cells: one per (x value, y value) pair that a trial with a finite `metric`
 * reached, holding the max or the mean of that metric over those trials.
 * Returns {xs, ys, cells: [{x, y, value, count}]}, xs and ys sorted.
 */
export function heatmapCells(trials, xParam, yParam, metric, aggregate) {
  const groups = new Map();
  for (const trial of trials) {
    const value = metricValue(trial, metric);
    if (value === null) continue;
    const x = trial.params[xParam];
    const y = trial.params[yParam];
    const key = JSON.stringify([x, y]);
    if (!groups.has(key)) groups.set(key, { x, y, values: [] });
    groups.get(key).values.push(value);
  }
  const cells = [...groups.values()].map(({ x, y, values }) => ({
    x,
    y,
    count: values.length,
    value:
      aggregate === "mean"
        ? values.reduce((sum, v) => sum + v, 0) / values.length
        : Math.max(...values),
  }));
  const distinct = (pick) => [...new Map(cells.map((c) => [JSON.stringify(pick(c)), pick(c)])).values()];
  return {
    xs: distinct((c) => c.x).sort(compareValues),
    ys: distinct((c) => c.y).sort(compareValues),
    cells,
  };
}

/** A colour from red (low) through yellow to green (high) for `share` in [0, 1]. */
function colour(share) {
  const hue = Math.round(120 * Math.min(1, Math.max(0, share)));
  return `hsl(${hue} 65% 42%)`;
}

function formatValue(value) {
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(3);
}

function clear(svg) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
}

function emptyNote(svg, text) {
  svg.append(svgElement("text", { x: 20, y: 40, class: "sweep-empty" }, text));
}

/** Draws the heatmap into `svg`; each cell is a <rect> with data-x, data-y, data-value. */
export function drawHeatmap(svg, trials, { xParam, yParam, metric, aggregate }) {
  clear(svg);
  if (!xParam || !yParam || xParam === yParam) {
    emptyNote(svg, "Choose two different params.");
    return;
  }
  const { xs, ys, cells } = heatmapCells(trials, xParam, yParam, metric, aggregate);
  if (!cells.length) {
    emptyNote(svg, `No trial has a value of ${metric} yet.`);
    return;
  }
  const width = Number(svg.getAttribute("width"));
  const height = Number(svg.getAttribute("height"));
  const left = 70;
  const bottom = 50;
  const top = 10;
  const cellWidth = (width - left - 10) / xs.length;
  const cellHeight = (height - top - bottom) / ys.length;
  const values = cells.map((c) => c.value);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const xIndex = new Map(xs.map((x, i) => [JSON.stringify(x), i]));
  const yIndex = new Map(ys.map((y, i) => [JSON.stringify(y), i]));
  for (const cell of cells) {
    const column = xIndex.get(JSON.stringify(cell.x));
    const row = yIndex.get(JSON.stringify(cell.y));
    const share = high > low ? (cell.value - low) / (high - low) : 1;
    const rect = svgElement("rect", {
      x: left + column * cellWidth,
      y: top + (ys.length - 1 - row) * cellHeight,
      width: Math.max(1, cellWidth - 1),
      height: Math.max(1, cellHeight - 1),
      fill: colour(share),
      class: "heat-cell",
      "data-x": JSON.stringify(cell.x),
      "data-y": JSON.stringify(cell.y),
      "data-value": String(cell.value),
      "data-count": String(cell.count),
    });
    rect.append(
      svgElement(
        "title",
        {},
        `${xParam}=${cell.x}, ${yParam}=${cell.y}: ${metric} ${formatValue(cell.value)}` +
          (cell.count > 1 ? ` (${aggregate} of ${cell.count} trials)` : ""),
      ),
    );
    svg.append(rect);
  }
  const everyX = Math.max(1, Math.ceil(xs.length / 12));
  xs.forEach((x, i) => {
    if (i % everyX) return;
    const attributes = { x: left + (i + 0.5) * cellWidth, y: height - bottom + 16, class: "axis-label" };
    svg.append(svgElement("text", { ...attributes, "text-anchor": "middle" }, formatValue(x)));
  });
  const everyY = Math.max(1, Math.ceil(ys.length / 12));
  ys.forEach((y, i) => {
    if (i % everyY) return;
    const attributes = { x: left - 6, y: top + (ys.length - 1 - i + 0.6) * cellHeight, class: "axis-label" };
    svg.append(svgElement("text", { ...attributes, "text-anchor": "end" }, formatValue(y)));
  });
  svg.append(svgElement("text", { x: left + (width - left) / 2, y: height - 8, "text-anchor": "middle", class: "axis-title" }, xParam));
  svg.append(svgElement("text", { x: 12, y: top + 12, class: "axis-title" }, yParam));
  svg.append(
    svgElement("text", { x: width - 10, y: height - 8, "text-anchor": "end", class: "axis-label" },
      `${metric}: ${formatValue(low)} … ${formatValue(high)}`),
  );
}

/** Draws one polyline per trial across the axes `params` + `metric` into `svg`. */
export function drawParallel(svg, trials, params, metric) {
  clear(svg);
  const rows = trials.filter((t) => metricValue(t, metric) !== null);
  if (!rows.length || !params.length) {
    emptyNote(svg, `No trial has a value of ${metric} yet.`);
    return;
  }
  const width = Number(svg.getAttribute("width"));
  const height = Number(svg.getAttribute("height"));
  const axes = [...params, metric];
  const top = 20;
  const bottom = 40;
  const left = 40;
  const step = (width - left - 70) / Math.max(1, axes.length - 1);
  const value = (trial, axis) => (axis === metric ? metricValue(trial, metric) : trial.params[axis]);
  const scales = axes.map((axis) => {
    const seen = rows.map((t) => value(t, axis));
    if (seen.every((v) => typeof v === "number")) {
      const low = Math.min(...seen);
      const high = Math.max(...seen);
      return { position: (v) => (high > low ? (v - low) / (high - low) : 0.5), low, high };
    }
    const categories = [...new Set(seen.map(String))].sort();
    return {
      position: (v) => (categories.length > 1 ? categories.indexOf(String(v)) / (categories.length - 1) : 0.5),
      low: categories[0],
      high: categories[categories.length - 1],
    };
  });
  const metricScale = scales[scales.length - 1];
  for (const trial of rows) {
    const points = axes.map((axis, i) => {
      const y = top + (1 - scales[i].position(value(trial, axis))) * (height - top - bottom);
      return `${left + i * step},${y.toFixed(1)}`;
    });
    const line = svgElement("polyline", {
      points: points.join(" "),
      fill: "none",
      stroke: colour(metricScale.position(metricValue(trial, metric))),
      "stroke-width": 1.2,
      "stroke-opacity": trial.feasible ? 0.8 : 0.3,
      class: "parallel-line",
      "data-number": trial.number,
    });
    line.append(svgElement("title", {}, `trial ${trial.number}: ${metric} ${formatValue(metricValue(trial, metric))}`));
    svg.append(line);
  }
  axes.forEach((axis, i) => {
    const x = left + i * step;
    svg.append(svgElement("line", { x1: x, x2: x, y1: top, y2: height - bottom, class: "axis-line" }));
    svg.append(svgElement("text", { x, y: height - bottom + 16, "text-anchor": "middle", class: "axis-title" }, axis));
    svg.append(svgElement("text", { x: x + 3, y: top - 6, class: "axis-label" }, formatValue(scales[i].high)));
    svg.append(svgElement("text", { x: x + 3, y: height - bottom - 2, class: "axis-label" }, formatValue(scales[i].low)));
  });
}

/**
 * Draws a walk-forward into `svg`: the stitched out-of-sample equity on top, and below it one
 * row per fold with its train window (rect.fold-train) and test window (rect.fold-test) on the
 * same time axis. `walk` is the walk-forward's document (GET /api/walkforwards/{id}).
 */
export function drawWalkForward(svg, walk) {
  clear(svg);
  const folds = (walk && walk.folds) || [];
  if (!folds.length) {
    emptyNote(svg, "No folds yet.");
    return;
  }
  const seconds = (iso) => Date.parse(iso.endsWith("Z") || iso.includes("+") ? iso : `${iso}Z`) / 1000;
  const curve = walk.stitched_equity || [];
  const starts = folds.map((f) => seconds(f.train_start));
  const ends = folds.map((f) => seconds(f.test_end));
  const first = Math.min(...starts, ...(curve.length ? [curve[0][0]] : []));
  const last = Math.max(...ends, ...(curve.length ? [curve[curve.length - 1][0]] : []));
  const width = Number(svg.getAttribute("width"));
  const height = Number(svg.getAttribute("height"));
  const left = 70;
  const right = width - 10;
  const x = (t) => left + ((t - first) / Math.max(1, last - first)) * (right - left);
  const curveTop = 10;
  const curveBottom = 140;
  if (curve.length) {
    const values = curve.map((p) => p[1]);
    const low = Math.min(...values);
    const high = Math.max(...values);
    const y = (v) => curveBottom - ((v - low) / Math.max(1e-12, high - low)) * (curveBottom - curveTop);
    svg.append(
      svgElement("polyline", {
        points: curve.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
        fill: "none",
        stroke: "var(--accent)",
        "stroke-width": 1.5,
        class: "stitched",
        "data-points": curve.length,
      }),
    );
    svg.append(svgElement("text", { x: left - 6, y: curveTop + 8, "text-anchor": "end", class: "axis-label" }, formatValue(high)));
    svg.append(svgElement("text", { x: left - 6, y: curveBottom, "text-anchor": "end", class: "axis-label" }, formatValue(low)));
  } else {
    svg.append(svgElement("text", { x: left, y: 70, class: "sweep-empty" }, "No fold was traded."));
  }
  const rowTop = curveBottom + 20;
  const rowHeight = Math.max(8, Math.min(24, (height - rowTop - 24) / folds.length));
  folds.forEach((fold, index) => {
    const y = rowTop + index * rowHeight;
    svg.append(svgElement("text", { x: left - 6, y: y + rowHeight * 0.7, "text-anchor": "end", class: "axis-label" }, `fold ${fold.fold}`));
    const windows = [
      ["fold-train", fold.train_start, fold.train_end, "hsl(212 70% 50%)"],
      ["fold-test", fold.test_start, fold.test_end, "hsl(130 55% 42%)"],
    ];
    for (const [kind, start, end, fill] of windows) {
      const rect = svgElement("rect", {
        x: x(seconds(start)),
        y,
        width: Math.max(1, x(seconds(end)) - x(seconds(start))),
        height: rowHeight - 3,
        fill,
        "fill-opacity": fold.status === "tested" ? 0.9 : 0.35,
        class: kind,
        "data-fold": fold.fold,
        "data-start": start,
        "data-end": end,
      });
      rect.append(svgElement("title", {}, `fold ${fold.fold} ${kind === "fold-train" ? "train" : "test"}: ${start} → ${end} (${fold.status})`));
      svg.append(rect);
    }
  });
  const date = (t) => new Date(t * 1000).toISOString().slice(0, 10);
  svg.append(svgElement("text", { x: left, y: height - 6, class: "axis-label" }, date(first)));
  svg.append(svgElement("text", { x: right, y: height - 6, "text-anchor": "end", class: "axis-label" }, date(last)));
}
