// Reads a strategy class's `params = {...}` defaults from its source, so the run form can offer
// them before the code is saved or run. Only literal scalars count (numbers, strings, bools).

/** The text of the first `params = {...}` dict in class bodies, braces balanced, or null. */
function paramsLiteral(code) {
  const start = code.search(/^[ \t]+params\s*(?::[^=\n]*)?=\s*\{/m);
  if (start < 0) return null;
  const open = code.indexOf("{", start);
  let depth = 0;
  let quote = null;
  for (let i = open; i < code.length; i += 1) {
    const ch = code[i];
    if (quote) {
      if (ch === "\\") i += 1;
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "#") i = code.indexOf("\n", i) === -1 ? code.length : code.indexOf("\n", i) - 1;
    else if (ch === "{") depth += 1;
    else if (ch === "}") {
      depth -= 1;
      if (depth === 0) return code.slice(open + 1, i);
    }
  }
  return null;
}

const ENTRY = /\s*(["'])((?:\\.|(?!\1).)*)\1\s*:\s*("(?:\\.|[^"])*"|'(?:\\.|[^'])*'|True|False|[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:#[^\n]*)?(?:,|$)/y;

function scalar(text) {
  if (text === "True") return true;
  if (text === "False") return false;
  if (text.startsWith('"') || text.startsWith("'")) return text.slice(1, -1);
  const number = Number(text.replaceAll("_", ""));
  return Number.isInteger(number) && !/[.eE]/.test(text) ? { int: number } : number;
}

/**
 * The strategy's parameter defaults as [{name, value, kind}] where kind is
 * "int" | "float" | "bool" | "str"; an empty list when there are none or they aren't literal.
 */
export function parseParams(code) {
  const body = paramsLiteral(code || "");
  if (body === null) return [];
  const cleaned = body.replace(/#[^\n]*/g, (m) => (m.includes('"') || m.includes("'") ? m : ""));
  const params = [];
  ENTRY.lastIndex = 0;
  let rest = cleaned.trim();
  while (rest) {
    ENTRY.lastIndex = 0;
    const match = ENTRY.exec(rest);
    if (!match) return params; // not a literal we understand: keep what was read
    const value = scalar(match[3]);
    if (typeof value === "object") params.push({ name: match[2], value: value.int, kind: "int" });
    else params.push({ name: match[2], value, kind: typeof value === "boolean" ? "bool" : typeof value === "number" ? "float" : "str" });
    rest = rest.slice(match[0].length).trim();
  }
  return params;
}

/** The same shape from a server's `params` mapping (an example's defaults). */
export function paramsFromMapping(mapping) {
  return Object.entries(mapping || {}).map(([name, value]) => ({
    name,
    value,
    kind:
      typeof value === "boolean"
        ? "bool"
        : typeof value === "number"
          ? Number.isInteger(value) ? "int" : "float"
          : "str",
  }));
}
