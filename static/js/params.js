// The strategy's params as the run form and the completions show them. They are never parsed
// here: POST /api/validate answers with the sandbox's inspection (the class that runs and its
// params, inherited ones merged, each with its kind), so the page shows what the run will use.

/**
 * [{name, value, kind}] from a /api/validate answer, whose `params` are [{name, kind, default}]
 * with kind "int" | "float" | "bool" | "str"; an empty list when it has none.
 */
export function paramsFromInspection(result) {
  return (result?.params || []).map((param) => ({
    name: param.name,
    value: param.default,
    kind: param.kind,
  }));
}
