// Completion and hover for strategy code: the Strategy API, its helpers and every pandas-ta
// indicator with its settings, from static/catalog.json (made by scripts/build-editor-catalog),
// and the strategy's own params inside `self.params["`.

import { api } from "./api.js";
import { paramsFromInspection } from "./params.js";

const BAR_FIELDS = ["time", "open", "high", "low", "close", "volume", "index"];
const SERIES_FIELDS = ["open", "high", "low", "close", "volume", "time"];
const POSITION_FIELDS = [
  "size", "side", "entry_price", "leverage", "margin", "liquidation_price", "unrealized_pnl",
  "stop_loss", "take_profit", "is_open", "is_long",
];

// Snippets for the calls traders write most; other members insert their plain name.
const SNIPPETS = {
  buy: "buy(${1:amount})",
  sell: "sell(${1:amount}, leverage=${2:1})",
  close_position: "close_position()",
  cancel: "cancel(${1:order})",
  indicator: 'indicator("${1:sma}", length=${2:20})',
  timeframe: 'timeframe("${1:4h}")',
  log: "log(${1:message})",
  get_position_size: "get_position_size()",
  get_cash: "get_cash()",
  get_equity: "get_equity()",
  get_margin_ratio: "get_margin_ratio()",
  is_ready: "is_ready(${1:series})",
  crossover: "crossover(${1:a}, ${2:b})",
  crossunder: "crossunder(${1:a}, ${2:b})",
};

const STRATEGY_TEMPLATE = [
  "class ${1:MyStrategy}(Strategy):",
  '    params = {"length": ${2:20}}',
  "",
  "    def initialize(self):",
  '        self.ma = self.indicator("sma", length=self.params["length"])',
  "",
  "    def on_data(self, bar):",
  "        ${0:pass}",
].join("\n");

/** Fetches the catalog; an empty one when the file is missing (the editor still works). */
export async function loadCatalog(url = "/static/catalog.json") {
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.json();
  } catch (error) {
    console.warn(`editor catalog unavailable (${error.message}); run ./scripts/setup`);
    return { indicators: [], strategy: [] };
  }
}

function indicatorDoc(entry) {
  const lines = [`**${entry.name}** — ${entry.title} *(pandas-ta, ${entry.category})*`];
  if (entry.summary) lines.push("", entry.summary);
  if (entry.settings.length) {
    lines.push("", "Settings:");
    for (const s of entry.settings) {
      const type = s.type ? ` *${s.type}*` : "";
      const fallback = s.default ? ` (default \`${s.default}\`)` : "";
      lines.push(`- \`${s.name}\`${type}${fallback}${s.doc ? ` — ${s.doc}` : ""}`);
    }
  }
  if (entry.look_ahead) lines.push("", `⚠ Refused by Strategy Lab: ${entry.look_ahead}.`);
  lines.push("", "Add `timeframe=\"4h\"` to compute it on a higher timeframe's closed bars.");
  return lines.join("\n");
}

function indicatorCall(entry) {
  const settings = entry.settings.filter((s) => s.name !== "offset" && s.default !== "");
  return settings.length
    ? `${entry.name}(${settings.map((s) => `${s.name}=${s.default}`).join(", ")})`
    : entry.name;
}

function apiDoc(entry) {
  const head = entry.kind === "function" ? entry.name : `self.${entry.name}`;
  const code = `${head}${entry.signature || ""}`;
  return { code, markdown: entry.doc || "" };
}

/** Looks things up by name for completion and hover. */
class Catalog {
  constructor(raw) {
    this.indicators = new Map((raw.indicators || []).map((i) => [i.name, i]));
    this.members = (raw.strategy || []).filter((e) => e.kind !== "function");
    this.helpers = (raw.strategy || []).filter((e) => e.kind === "function");
    this.byName = new Map((raw.strategy || []).map((e) => [e.name, e]));
    this.params = []; // the strategy's params, from the latest /api/validate answer
  }
}

const PARAM_KEY = /\bself\.params\[\s*["'](\w*)$/;

async function paramsWithoutLine(model, lineNumber) {
  const lines = model.getValue().split("\n");
  lines[lineNumber - 1] = "";
  try {
    return paramsFromInspection(await api.validate(lines.join("\n")));
  } catch {
    return [];
  }
}

function contextAt(model, position) {
  const line = model.getLineContent(position.lineNumber);
  const before = line.slice(0, position.column - 1);
  return { line, before };
}

function suggestionsFor(monaco, catalog, model, position) {
  const { before } = contextAt(model, position);
  const word = model.getWordUntilPosition(position);
  const range = new monaco.Range(
    position.lineNumber, word.startColumn, position.lineNumber, word.endColumn,
  );
  const Kind = monaco.languages.CompletionItemKind;
  const Snippet = monaco.languages.CompletionItemInsertTextRule.InsertAsSnippet;

  const nameInString = before.match(/\bindicator\(\s*["'](\w*)$/);
  if (nameInString) {
    return [...catalog.indicators.values()].map((entry) => ({
      label: entry.name,
      kind: Kind.Function,
      detail: `${entry.title} — ${entry.category}`,
      documentation: { value: indicatorDoc(entry) },
      insertText: entry.name,
      range,
    }));
  }
  const inArgs = before.match(/\bindicator\(\s*["'](\w+)["']\s*,([^()]*)$/);
  if (inArgs && /(^|,)\s*\w*$/.test(inArgs[2])) {
    const entry = catalog.indicators.get(inArgs[1]);
    if (!entry) return [];
    const settings = [...entry.settings, { name: "timeframe", default: '"4h"', doc: "Compute on a higher timeframe's closed bars" }];
    return settings.map((s, i) => ({
      label: `${s.name}=`,
      kind: Kind.Property,
      detail: s.default ? `default ${s.default}` : s.type || "",
      documentation: { value: s.doc || "" },
      insertText: `${s.name}=\${1:${s.default || ""}}`,
      insertTextRules: Snippet,
      sortText: String(i).padStart(3, "0"),
      range,
    }));
  }
  const paramKey = before.match(PARAM_KEY);
  if (paramKey) {
    return (catalog.params || []).map((param) => ({
      label: param.name,
      kind: Kind.Variable,
      detail: `${param.kind}, default ${JSON.stringify(param.value)}`,
      insertText: param.name,
      range,
    }));
  }
  const fields = (names, detail) =>
    names.map((name) => ({ label: name, kind: Kind.Field, detail, insertText: name, range }));
  if (/\bself\.data\.\w*$/.test(before)) return fields(SERIES_FIELDS, "series: x[-1] is the current bar");
  if (/\bself\.position\.\w*$/.test(before)) return fields(POSITION_FIELDS, "position field");
  if (/\bbar\.\w*$/.test(before)) return fields(BAR_FIELDS, "the bar that just closed");
  if (/\bself\.\w*$/.test(before)) {
    return catalog.members.map((entry) => {
      const doc = apiDoc(entry);
      const snippet = SNIPPETS[entry.name];
      return {
        label: entry.name,
        kind: entry.kind === "method" ? Kind.Method : Kind.Property,
        detail: doc.code,
        documentation: { value: doc.markdown },
        insertText: snippet || entry.name,
        insertTextRules: snippet ? Snippet : undefined,
        range,
      };
    });
  }
  if (/(^|[^.\w])\w+$/.test(before)) {
    const helpers = catalog.helpers.map((entry) => ({
      label: entry.name,
      kind: Kind.Function,
      detail: apiDoc(entry).code,
      documentation: { value: entry.doc },
      insertText: SNIPPETS[entry.name] || entry.name,
      insertTextRules: Snippet,
      range,
    }));
    helpers.push({
      label: "Strategy",
      kind: Kind.Class,
      detail: "class MyStrategy(Strategy): ...",
      documentation: { value: "A new strategy class with `params`, `initialize` and `on_data`." },
      insertText: STRATEGY_TEMPLATE,
      insertTextRules: Snippet,
      range,
    });
    return helpers;
  }
  return [];
}

function hoverFor(monaco, catalog, model, position) {
  const word = model.getWordAtPosition(position);
  if (!word) return null;
  const { line } = contextAt(model, position);
  const range = new monaco.Range(
    position.lineNumber, word.startColumn, position.lineNumber, word.endColumn,
  );
  const beforeWord = line.slice(0, word.startColumn - 1);
  const afterWord = line.slice(word.endColumn - 1);
  if (/\bindicator\(\s*["']$/.test(beforeWord) && /^["']/.test(afterWord)) {
    const entry = catalog.indicators.get(word.word);
    if (entry) {
      return {
        range,
        contents: [{ value: `\`\`\`python\n${indicatorCall(entry)}\n\`\`\`` }, { value: indicatorDoc(entry) }],
      };
    }
    return { range, contents: [{ value: `'${word.word}' is not a pandas-ta indicator name.` }] };
  }
  const entry = catalog.byName.get(word.word);
  const isMember = entry && entry.kind !== "function" && /\bself\.$/.test(beforeWord);
  const isHelper = entry && entry.kind === "function" && !/\.$/.test(beforeWord);
  if (isMember || isHelper) {
    const doc = apiDoc(entry);
    return {
      range,
      contents: [{ value: `\`\`\`python\n${doc.code}\n\`\`\`` }, { value: doc.markdown }],
    };
  }
  return null;
}

/** Registers completion and hover providers for Python with the catalog's contents. */
export function registerCompletion(monaco, rawCatalog) {
  const catalog = new Catalog(rawCatalog);
  monaco.languages.registerCompletionItemProvider("python", {
    triggerCharacters: [".", '"', "'", ","],
    provideCompletionItems: async (model, position) => {
      // No inspection seen yet (the page just opened the code and the user is already typing
      // an unfinished `self.params["`): ask the server about the code without this line.
      if (catalog.params.length === 0 && PARAM_KEY.test(contextAt(model, position).before)) {
        catalog.params = await paramsWithoutLine(model, position.lineNumber);
      }
      return { suggestions: suggestionsFor(monaco, catalog, model, position) };
    },
  });
  monaco.languages.registerHoverProvider("python", {
    provideHover: (model, position) => hoverFor(monaco, catalog, model, position),
  });
  return catalog;
}
