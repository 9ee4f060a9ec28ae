// Display preferences kept in this browser (localStorage): the colour theme, dark or light,
// and the time zone times are shown in (UTC by default; stored data, the API, CSV exports, the
// run form's dates and the monthly returns stay UTC). A change applies at once: CSS variables
// on <html data-theme>, and a "strategylab:display" event on window that the charts, the
// editor and the results listen to.

const THEME_KEY = "strategylab.theme";
const TIME_ZONE_KEY = "strategylab.timezone";
const CHANGE_EVENT = "strategylab:display";
export const THEMES = ["dark", "light"];

// The chart colours of each theme (lightweight-charts options), matching static/css/app.css.
const CHART_COLORS = {
  dark: { background: "#161b22", text: "#c9d1d9", grid: "#21262d", border: "#30363d" },
  light: { background: "#ffffff", text: "#1f2328", grid: "#eaeef2", border: "#d0d7de" },
};

function readStored(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null; // storage disabled: the defaults
  }
}

/** "dark" (the default) or "light", as chosen in this browser. */
export function currentTheme() {
  const stored = readStored(THEME_KEY);
  return THEMES.includes(stored) ? stored : "dark";
}

/** Applies `theme` to the page, remembers it and tells the charts and the editor. */
export function setTheme(theme) {
  if (!THEMES.includes(theme)) throw new Error(`unknown theme ${theme}: use one of ${THEMES.join(", ")}`);
  try {
    window.localStorage.setItem(THEME_KEY, theme);
  } catch {
    // not remembered, still applied
  }
  applyTheme(theme);
  window.dispatchEvent(new CustomEvent(CHANGE_EVENT, { detail: { changed: "theme", theme, timeZone: currentTimeZone() } }));
}

/** Sets <html data-theme> (the CSS variables) without remembering or announcing it. */
export function applyTheme(theme = currentTheme()) {
  document.documentElement.dataset.theme = theme;
}

/** Calls `listener({changed, theme, timeZone})` (`changed`: "theme" or "timeZone") after each change of the display preferences. */
export function onDisplayChange(listener) {
  window.addEventListener(CHANGE_EVENT, (event) => listener(event.detail));
}

/** The Monaco theme name for the current theme. */
export function editorTheme(theme = currentTheme()) {
  return theme === "light" ? "vs" : "vs-dark";
}

/** lightweight-charts colour options for the current theme (merged into a chart's options). */
export function chartColors(theme = currentTheme()) {
  const colors = CHART_COLORS[theme];
  return {
    layout: { background: { color: colors.background }, textColor: colors.text },
    grid: { vertLines: { color: colors.grid }, horzLines: { color: colors.grid } },
    timeScale: { borderColor: colors.border },
    rightPriceScale: { borderColor: colors.border },
  };
}

/** Wires the theme toggle button: its label names the theme it switches to. */
export function installThemeToggle(button) {
  const show = () => {
    const next = currentTheme() === "dark" ? "light" : "dark";
    button.textContent = next === "light" ? "☀ Light" : "☾ Dark";
    button.title = `Switch to the ${next} theme (remembered in this browser)`;
    button.setAttribute("aria-pressed", String(currentTheme() === "light"));
  };
  button.addEventListener("click", () => {
    setTheme(currentTheme() === "dark" ? "light" : "dark");
    show();
  });
  show();
}

/** True when `zone` is an IANA time zone this browser knows ("UTC", "Europe/Berlin"...). */
export function isTimeZone(zone) {
  if (typeof zone !== "string" || !zone) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** This browser's own time zone (UTC when it doesn't say). */
export function browserTimeZone() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return isTimeZone(zone) ? zone : "UTC";
}

/** The zone displayed times are in: the one chosen in this browser, else UTC. */
export function currentTimeZone() {
  const stored = readStored(TIME_ZONE_KEY);
  return isTimeZone(stored) ? stored : "UTC";
}

/** Shows times in `zone` from now on, remembers it and tells the page. */
export function setTimeZone(zone) {
  if (!isTimeZone(zone)) throw new Error(`unknown time zone ${zone}: use an IANA name such as Europe/Berlin`);
  try {
    window.localStorage.setItem(TIME_ZONE_KEY, zone);
  } catch {
    // not remembered, still applied
  }
  window.dispatchEvent(new CustomEvent(CHANGE_EVENT, { detail: { changed: "timeZone", theme: currentTheme(), timeZone: zone } }));
}

const formatters = new Map();

/** Calendar fields of epoch `seconds` in the displayed zone: {year, month, day, hour, minute}
 * as two-digit strings (four for the year). */
export function zonedParts(seconds, zone = currentTimeZone()) {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    formatters.set(zone, formatter);
  }
  const parts = {};
  for (const part of formatter.formatToParts(new Date(seconds * 1000))) parts[part.type] = part.value;
  return parts;
}

/** "Entry (UTC)" / "Entry (Europe/Berlin)": a column or field label naming the zone. */
export function zoneLabel(name) {
  return `${name} (${currentTimeZone()})`;
}

/** Wires the time zone picker: UTC, this browser's zone, then every zone the browser knows. */
export function installTimeZonePicker(select) {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const mine = browserTimeZone();
  const first = mine === "UTC" ? ["UTC"] : ["UTC", mine];
  const options = [...first, ...zones.filter((zone) => !first.includes(zone))];
  const current = currentTimeZone();
  if (!options.includes(current)) options.push(current);
  select.replaceChildren(...options.map((zone) => {
    const option = document.createElement("option");
    option.value = zone;
    option.textContent = zone === mine && zone !== "UTC" ? `${zone} (this browser)` : zone;
    return option;
  }));
  select.value = current;
  select.addEventListener("change", () => setTimeZone(select.value));
}
