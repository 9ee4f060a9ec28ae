// What survives a reload: the open strategy, run and results tab live in the page's address
// (so back/forward and a shared link restore the view), and unsaved code and form values are
// kept per strategy in this browser's localStorage (drafts; nothing secret is stored).

const DRAFT_PREFIX = "strategylab.draft.";
const FORM_KEY = "strategylab.form";
const MAX_DRAFTS = 50; // the oldest drafts go first past this many
// Results tabs are named by their element id without "tab-": overview, chart, trades, ...
const TAB_NAME = /^[a-z][a-z0-9-]{0,40}$/;

/** The view named by the address: {strategy, run, tab}, each a string or null. */
export function readView(location = window.location) {
  const query = new URLSearchParams(location.search);
  const tab = query.get("tab");
  return {
    strategy: query.get("strategy") || null,
    run: query.get("run") || null,
    tab: tab && TAB_NAME.test(tab) ? tab : null, // a tab the page lacks shows the overview
  };
}

function viewUrl(view) {
  const query = new URLSearchParams();
  if (view.strategy) query.set("strategy", view.strategy);
  if (view.run) query.set("run", view.run);
  if (view.run && view.tab && view.tab !== "overview") query.set("tab", view.tab);
  const text = query.toString();
  return `${window.location.pathname}${text ? `?${text}` : ""}`;
}

/**
 * Writes `changes` into the address. A new strategy or run is a new history entry (back
 * returns to the previous one); a tab change replaces the current entry.
 */
export function writeView(changes, { isNewEntry = true } = {}) {
  const view = { ...readView(), ...changes };
  const url = viewUrl(view);
  if (url === `${window.location.pathname}${window.location.search}`) return;
  if (isNewEntry) window.history.pushState(view, "", url);
  else window.history.replaceState(view, "", url);
}

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: drafts are simply not kept
  }
}

function readJson(key) {
  const store = storage();
  if (!store) return null;
  try {
    return JSON.parse(store.getItem(key) ?? "null");
  } catch {
    return null;
  }
}

function writeJson(key, value) {
  const store = storage();
  if (!store) return;
  try {
    store.setItem(key, JSON.stringify(value));
  } catch {
    pruneDrafts(Math.floor(MAX_DRAFTS / 2)); // full: make room once, then give up quietly
    try {
      store.setItem(key, JSON.stringify(value));
    } catch {
      // still full: this draft isn't kept
    }
  }
}

function draftKeys() {
  const store = storage();
  if (!store) return [];
  const keys = [];
  for (let i = 0; i < store.length; i += 1) {
    const key = store.key(i);
    if (key && key.startsWith(DRAFT_PREFIX)) keys.push(key);
  }
  return keys;
}

function pruneDrafts(keep) {
  const store = storage();
  if (!store) return;
  const dated = draftKeys().map((key) => [key, readJson(key)?.saved_at ?? 0]);
  dated.sort((a, b) => b[1] - a[1]);
  for (const [key] of dated.slice(keep)) store.removeItem(key);
}

/** The unsaved draft of strategy `key` ("example:<name>", "strategy:<id>", "new"), or null. */
export function readDraft(key) {
  const draft = key ? readJson(DRAFT_PREFIX + key) : null;
  return draft && typeof draft.code === "string" ? draft : null;
}

/** Keeps `code` as the draft of strategy `key` (the newest MAX_DRAFTS drafts are kept). */
export function writeDraft(key, code) {
  if (!key) return;
  writeJson(DRAFT_PREFIX + key, { code, saved_at: Date.now() });
  if (draftKeys().length > MAX_DRAFTS) pruneDrafts(MAX_DRAFTS);
}

export function removeDraft(key) {
  if (key) storage()?.removeItem(DRAFT_PREFIX + key);
}

/** The run form's last values ({id or name: value}), or null. */
export function readFormValues() {
  const values = readJson(FORM_KEY);
  return values && typeof values === "object" ? values : null;
}

export function writeFormValues(values) {
  writeJson(FORM_KEY, values);
}
