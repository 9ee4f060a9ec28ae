"""The sandbox's allow-lists and limits as data: modules, exported names, builtins, per-type
attributes, syntax node kinds, and the size and depth of a strategy's source."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

# ---------------------------------------------------------------------------------------------
# Modules a strategy may import, by exact dotted name, with the names each facade exports.
# A facade exports named pure functions and constants, never a module or submodule.
# ---------------------------------------------------------------------------------------------

# fmt: off
MATH_EXPORTS: Final = frozenset(
    {
        "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "cbrt", "ceil", "comb",
        "copysign", "cos", "cosh", "degrees", "dist", "e", "erf", "erfc", "exp", "exp2", "expm1",
        "fabs", "factorial", "floor", "fmod", "frexp", "fsum", "gamma", "gcd", "hypot", "inf",
        "isclose", "isfinite", "isinf", "isnan", "isqrt", "lcm", "ldexp", "lgamma", "log",
        "log10", "log1p", "log2", "modf", "nan", "nextafter", "perm", "pi", "pow", "prod",
        "radians", "remainder", "sin", "sinh", "sqrt", "sumprod", "tan", "tanh", "tau", "trunc",
        "ulp",
    }
)
# fmt: on

# fmt: off
STATISTICS_EXPORTS: Final = frozenset(
    {
        "correlation", "covariance", "fmean", "geometric_mean", "harmonic_mean",
        "linear_regression", "mean", "median", "median_high", "median_low", "mode", "multimode",
        "pstdev", "pvariance", "quantiles", "stdev", "variance",
    }
)
# fmt: on

# fmt: off
NUMPY_EXPORTS: Final = frozenset(
    {
        # constants and scalar types used as constructors
        "nan", "inf", "pi", "e", "float64", "int64", "bool_",
        # array construction (results are the strategy's own arrays)
        "array", "asarray", "zeros", "ones", "full", "arange", "linspace", "zeros_like",
        "ones_like", "full_like", "concatenate", "stack", "hstack", "vstack", "append",
        # element-wise maths (ufuncs)
        "abs", "absolute", "sign", "sqrt", "square", "exp", "log", "log2", "log10", "log1p",
        "expm1", "power", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh",
        "cosh", "tanh", "floor", "ceil", "round", "rint", "trunc", "clip", "maximum", "minimum",
        "fmax", "fmin", "add", "subtract", "multiply", "divide", "isnan", "isfinite", "isinf",
        "nan_to_num", "where", "logical_and", "logical_or", "logical_not", "greater", "less",
        "equal",
        # reductions and statistics
        "sum", "prod", "mean", "median", "std", "var", "min", "max", "amin", "amax", "argmin",
        "argmax", "ptp", "percentile", "quantile", "average", "nansum", "nanmean", "nanmedian",
        "nanstd", "nanvar", "nanmin", "nanmax", "nanargmin", "nanargmax", "cumsum", "cumprod",
        "diff", "gradient", "all", "any", "count_nonzero", "corrcoef", "cov", "histogram",
        # linear algebra and fitting on the strategy's own numbers
        "dot", "polyfit", "polyval", "convolve", "interp",
        # ordering and set operations (return new arrays)
        "sort", "argsort", "unique", "flip", "isclose", "allclose", "searchsorted", "nonzero",
        "flatnonzero",
    }
)
# fmt: on

PANDAS_EXPORTS: Final = frozenset({"Series", "DataFrame", "concat", "isna", "notna"})

MODULE_EXPORTS: Final = MappingProxyType(
    {
        "math": MATH_EXPORTS,
        "statistics": STATISTICS_EXPORTS,
        "numpy": NUMPY_EXPORTS,
        "pandas": PANDAS_EXPORTS,
    }
)
ALLOWED_MODULES: Final = tuple(MODULE_EXPORTS)

# ---------------------------------------------------------------------------------------------
# Builtins: the names a strategy can call without importing anything.
# ---------------------------------------------------------------------------------------------

# fmt: off
SAFE_BUILTIN_NAMES: Final = frozenset(
    {
        "abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "filter", "float",
        "frozenset", "int", "isinstance", "len", "list", "map", "max", "min", "ord", "pow",
        "range", "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple",
        "zip", "True", "False", "None",
        # exceptions a strategy may raise or catch (not BaseException and its kill-like children)
        "Exception", "ArithmeticError", "AssertionError", "AttributeError", "IndexError",
        "KeyError", "LookupError", "NameError", "NotImplementedError", "OverflowError",
        "RuntimeError", "TypeError", "ValueError", "ZeroDivisionError", "FloatingPointError",
    }
)
# fmt: on

# Names the strategy's module sees besides builtins and its imports (the engine contract).
CONTRACT_NAMES: Final = frozenset({"Strategy", "crossover", "crossunder"})

# Builtins that are refused by name with a specific explanation.
FORBIDDEN_CALLS: Final = MappingProxyType(
    {
        "exec": "running code from a string is not allowed",
        "eval": "evaluating code from a string is not allowed",
        "compile": "compiling code is not allowed",
        "open": "files cannot be opened from a strategy",
        "input": "a strategy cannot read input",
        "breakpoint": "the debugger is not available in a strategy",
        "getattr": "attributes must be written out (obj.name), not looked up by string",
        "setattr": "attributes must be assigned directly (self.name = value)",
        "delattr": "attributes cannot be deleted by string",
        "hasattr": "attributes cannot be looked up by string",
        "globals": "the module's globals are not reachable from a strategy",
        "locals": "local variables are not reachable as a dictionary",
        "vars": "object dictionaries are not reachable from a strategy",
        "dir": "listing an object's attributes is not allowed",
        "type": "type() is not available; use isinstance(x, float)",
        "super": "super() is not available; call the Strategy API on self directly",
        "object": "the base 'object' type is not available",
        "memoryview": "raw memory views are not available",
        "bytearray": "byte buffers are not available",
        "bytes": "byte strings are not available",
        "classmethod": "classmethod is not available",
        "staticmethod": "staticmethod is not available",
        "property": "property is not available",
        "help": "help() is not available in a strategy",
        "exit": "a strategy cannot exit the process",
        "quit": "a strategy cannot exit the process",
        "id": "object ids are not available",
        "issubclass": "issubclass() is not available; use isinstance()",
        "callable": "callable() is not available",
        "iter": "iter() is not available; loop with for",
        "next": "next() is not available; loop with for",
        "format": "format() is not available; use an f-string",
        "print": "print() is not available in a strategy; use self.log(...)",
        "BaseException": "BaseException cannot be caught or raised; catch Exception instead",
        "SystemExit": "SystemExit is not available",
        "KeyboardInterrupt": "KeyboardInterrupt is not available",
        "GeneratorExit": "GeneratorExit is not available",
        "MemoryError": "MemoryError cannot be caught; the sandbox ends the run at its memory limit",
        "RecursionError": "RecursionError cannot be caught",
        "__import__": "imports must be written as import statements",
        "__builtins__": "the builtins module is not reachable",
    }
)

# Attribute names that reach interpreter internals (frames, code, generator state, tracebacks).
# fmt: off
INTERNAL_ATTRIBUTES: Final = frozenset(
    {
        "gi_frame", "gi_code", "gi_yieldfrom", "gi_running", "gi_suspended", "cr_frame",
        "cr_code", "cr_await", "cr_origin", "ag_frame", "ag_code", "ag_await", "f_back",
        "f_globals", "f_locals", "f_builtins", "f_code", "f_lasti", "f_trace", "tb_frame",
        "tb_next", "tb_lasti", "co_code", "co_consts", "co_names", "func_globals", "func_code",
        "mro", "with_traceback", "format", "format_map", "im_func", "im_self",
    }
)
# fmt: on

# Attribute names that write files, serialise, evaluate strings or reach raw memory.
DANGEROUS_ATTRIBUTES: Final = MappingProxyType(
    {
        "tofile": "writing files is not allowed",
        "dump": "writing pickles is not allowed",
        "dumps": "pickling is not allowed",
        "ctypes": "raw memory access is not allowed",
        "base": "the array behind a view is not reachable",
        "eval": "evaluating expressions from strings is not allowed",
        "query": "query strings are evaluated as code and are not allowed; use boolean masks",
        "style": "styling is not available",
        "setflags": "changing array flags is not allowed",
        "flags": "array flags are not reachable",
        "to_pickle": "pickling is not allowed",
        "read_pickle": "pickles cannot be read",
        "load": "files cannot be read",
        "save": "files cannot be written",
        "memmap": "memory-mapped files are not allowed",
    }
)


def is_file_method(name: str) -> bool:
    """True for pandas/numpy readers and writers such as to_csv, read_parquet, fromfile."""
    return name.startswith(("to_", "read_", "from")) and name not in _SAFE_CONVERSIONS


_SAFE_CONVERSIONS: Final = frozenset({"to_list", "to_numpy", "to_dict", "tolist", "to_frame"})

# ---------------------------------------------------------------------------------------------
# Per-type attribute allow-lists for objects the strategy can hold.  The guards look these up
# by exact type; any type not listed exposes nothing (default deny).
# ---------------------------------------------------------------------------------------------

# fmt: off
NUMERIC_ATTRIBUTES: Final = frozenset(
    {
        "real", "imag", "conjugate", "is_integer", "as_integer_ratio", "bit_length", "bit_count",
        "numerator", "denominator", "hex",
    }
)
# fmt: on
# fmt: off
STR_ATTRIBUTES: Final = frozenset(
    {
        "capitalize", "casefold", "center", "count", "endswith", "expandtabs", "find", "index",
        "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "islower", "isnumeric",
        "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "partition",
        "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition",
        "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title",
        "upper", "zfill",
    }
)
# fmt: on
# fmt: off
LIST_ATTRIBUTES: Final = frozenset(
    {
        "append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove",
        "reverse", "sort",
    }
)
# fmt: on
DICT_ATTRIBUTES: Final = frozenset(
    {"clear", "copy", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values"}
)
# fmt: off
SET_ATTRIBUTES: Final = frozenset(
    {
        "add", "clear", "copy", "difference", "discard", "intersection", "isdisjoint",
        "issubset", "issuperset", "pop", "remove", "symmetric_difference", "union", "update",
    }
)
# fmt: on
TUPLE_ATTRIBUTES: Final = frozenset({"count", "index"})
# fmt: off
DATETIME_ATTRIBUTES: Final = frozenset(
    {
        "year", "month", "day", "hour", "minute", "second", "microsecond", "weekday",
        "isoweekday", "isoformat", "timestamp", "date", "time", "tzinfo", "strftime",
    }
)
# fmt: on
# fmt: off
NDARRAY_ATTRIBUTES: Final = frozenset(
    {
        "shape", "ndim", "size", "dtype", "T", "mean", "sum", "std", "var", "min", "max",
        "argmin", "argmax", "cumsum", "cumprod", "prod", "round", "clip", "any", "all", "tolist",
        "copy", "astype", "reshape", "flatten", "ravel", "item", "nonzero", "dot", "transpose",
        "squeeze", "argsort", "real", "imag", "ptp",
    }
)
# fmt: on
NUMPY_SCALAR_ATTRIBUTES: Final = frozenset({"real", "imag", "item", "is_integer", "dtype"})
DTYPE_ATTRIBUTES: Final = frozenset({"name", "kind", "itemsize"})
UFUNC_ATTRIBUTES: Final = frozenset({"reduce", "accumulate", "outer", "nin", "nout"})
# fmt: off
_PANDAS_COMMON: Final = frozenset(
    {
        "abs", "add", "sub", "mul", "div", "truediv", "pow", "rolling", "ewm", "expanding",
        "mean", "median", "std", "var", "sum", "min", "max", "cumsum", "cumprod", "cummax",
        "cummin", "diff", "pct_change", "shift", "iloc", "loc", "iat", "at", "shape", "size",
        "index", "empty", "head", "tail", "fillna", "ffill", "bfill", "dropna", "isna", "notna",
        "round", "clip", "corr", "cov", "copy", "count", "describe", "idxmax", "idxmin",
        "quantile", "rank", "where", "mask", "gt", "lt", "ge", "le", "eq", "ne", "any", "all",
        "to_numpy", "to_list", "to_dict", "values", "astype", "sort_values", "sort_index",
        "nlargest", "nsmallest", "between", "isin", "reset_index", "prod", "skew", "kurt", "sem",
        "mad", "ndim", "dtype", "dtypes", "name", "T",
    }
)
# fmt: on
SERIES_ATTRIBUTES: Final = _PANDAS_COMMON | {"tolist", "unique", "nunique", "value_counts"}
DATAFRAME_ATTRIBUTES: Final = _PANDAS_COMMON | {"columns", "join", "merge", "drop", "assign"}
# fmt: off
WINDOW_ATTRIBUTES: Final = frozenset(
    {
        "mean", "std", "var", "sum", "min", "max", "median", "count", "quantile", "skew", "kurt",
        "corr", "cov", "sem",
    }
)
# fmt: on
# Not listed on purpose: apply/agg/transform/pipe (a string names any method, e.g. "to_pickle";
# engine="numba" compiles around the guards), eval/query, to_*/read_*, style, plot, attrs.
INDEXER_ATTRIBUTES: Final = frozenset[str]()
EXCEPTION_ATTRIBUTES: Final = frozenset({"args"})
RANGE_ATTRIBUTES: Final = frozenset({"start", "stop", "step", "count", "index"})
SLICE_ATTRIBUTES: Final = frozenset({"start", "stop", "step"})
FACADE_TYPES_NOTE: Final = "facades expose exactly their MODULE_EXPORTS names"

# Engine objects, by class name in app.engine, and the attributes a strategy may read.
ENGINE_ATTRIBUTES: Final = MappingProxyType(
    {
        "SeriesView": frozenset({"name", "values", "to_list"}),
        "DataView": frozenset(
            {"open", "high", "low", "close", "volume", "symbol", "symbols", "time"}
        ),
        "Bar": frozenset({"index", "time", "open", "high", "low", "close", "volume"}),
    }
)

# Strategy methods the user class may define (everything else public on Strategy is the API).
OVERRIDABLE_METHODS: Final = frozenset({"initialize", "on_data"})
# Strategy class attributes a strategy sets itself (in its class body, or `self.warmup = ...`
# in initialize()): its parameter defaults and its warm-up (app/engine/warmup.py).
STRATEGY_SETTINGS: Final = frozenset({"params", "warmup"})

# Keyword settings that make an indicator look into the future.
LOOKAHEAD_FLAGS: Final = MappingProxyType(
    {
        "centered": "a centred window uses bars after the current one",
        "center": "a centred window uses bars after the current one",
        "lookahead": "this setting includes values computed from future bars",
    }
)
# Indicators whose default settings look ahead and must be told not to.
LOOKAHEAD_DEFAULTS: Final = MappingProxyType(
    {
        "dpo": ("centered", "pass centered=False"),
        "ichimoku": ("lookahead", "pass lookahead=False"),
    }
)
SHIFT_KEYWORDS: Final = frozenset({"offset", "shift"})

# ---------------------------------------------------------------------------------------------
# Syntax a strategy may use: every node kind of Python's AST is either allowed here, refused
# with its own sentence, or (a kind this table does not know, such as one a newer Python adds)
# refused as unknown. Default deny, like RestrictedPython's transformer.
# ---------------------------------------------------------------------------------------------

# fmt: off
ALLOWED_NODE_KINDS: Final = frozenset(
    {
        # module and statements
        "Module", "FunctionDef", "ClassDef", "Return", "Delete", "Assign", "AugAssign", "For",
        "While", "If", "Raise", "Try", "Assert", "Import", "ImportFrom", "Expr", "Pass",
        "Break", "Continue",
        # expressions
        "BoolOp", "NamedExpr", "BinOp", "UnaryOp", "Lambda", "IfExp", "Dict", "Set", "ListComp",
        "SetComp", "DictComp", "Compare", "Call", "FormattedValue", "JoinedStr", "Constant",
        "Attribute", "Subscript", "Starred", "Name", "List", "Tuple", "Slice",
        # contexts and operators
        "Load", "Store", "Del", "And", "Or", "Add", "Sub", "Mult", "MatMult", "Div", "Mod", "Pow",
        "LShift", "RShift", "BitOr", "BitXor", "BitAnd", "FloorDiv", "Invert", "Not", "UAdd",
        "USub", "Eq", "NotEq", "Lt", "LtE", "Gt", "GtE", "Is", "IsNot", "In", "NotIn",
        # parts of the statements and expressions above
        "comprehension", "ExceptHandler", "arguments", "arg", "keyword", "alias",
        # parts that only occur inside a refused statement (so one construct is one diagnostic)
        "withitem", "match_case", "MatchValue", "MatchSingleton", "MatchSequence",
        "MatchMapping", "MatchClass", "MatchStar", "MatchAs", "MatchOr",
    }
)
# fmt: on

# Node kinds refused with a sentence of their own: (message, hint).
_NO_GENERATORS = "build a list instead"
REFUSED_NODE_KINDS: Final = MappingProxyType(
    {
        "AsyncFunctionDef": ("async functions are not allowed in strategies", ""),
        "AsyncFor": ("'async for' is not allowed in strategies", ""),
        "AsyncWith": ("'async with' is not allowed in strategies", ""),
        "Await": ("'await' is not allowed in strategies", ""),
        "Yield": ("generators ('yield') are not allowed in strategies", _NO_GENERATORS),
        "YieldFrom": ("generators ('yield from') are not allowed in strategies", _NO_GENERATORS),
        "GeneratorExp": (
            "generator expressions are not allowed in strategies",
            "use a list comprehension: [x for x in ...]",
        ),
        "With": ("'with' blocks are not allowed in strategies", ""),
        "Global": (
            "'global' is not allowed; keep state on self",
            "for example self.count = 0 in initialize()",
        ),
        "Nonlocal": ("'nonlocal' is not allowed; keep state on self", ""),
        "Match": (
            "'match' statements are not supported in strategies",
            "use if / elif / else",
        ),
        "TryStar": (
            "'except*' (exception groups) is not supported in strategies",
            "use a plain 'except Exception:'",
        ),
        "AnnAssign": (
            "annotated assignments ('x: int = 1') are not supported in strategies",
            "leave the annotation out: x = 1",
        ),
        "TypeAlias": ("'type X = ...' aliases are not supported in strategies", ""),
        "TypeVar": (
            "type parameters ('def f[T]' or 'class C[T]') are not supported in strategies",
            "leave the brackets out",
        ),
        "ParamSpec": ("type parameters ('**P') are not supported in strategies", ""),
        "TypeVarTuple": ("type parameters ('*Ts') are not supported in strategies", ""),
    }
)

# ---------------------------------------------------------------------------------------------
# How large and how deep a strategy's source may be. Each limit keeps a step after validation
# (the parser, RestrictedPython's recursive transformer, CPython's compiler) far from its own
# breaking point, and the parent's memory bounded, so validation answers with a diagnostic
# instead of raising. docs/sandbox.md names each one.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceLimits:
    """The size and shape limits of one strategy source (units in the names)."""

    max_bytes: int = 256 * 1024  # UTF-8 bytes: the server's default upload limit
    max_lines: int = 10_000
    max_line_chars: int = 2_000
    max_tokens: int = 25_000  # counted before parsing: the parse tree costs ~2 objects each
    max_nodes: int = 40_000  # syntax-tree nodes after parsing (dense expressions reach it first)
    max_nesting_depth: int = 100  # syntax-tree levels: RestrictedPython recurses ~5 frames each
    max_block_depth: int = 16  # compound statements inside one another (def, if, for, try ...)
    max_classes: int = 50
    max_functions: int = 500  # def and lambda
    max_diagnostics: int = 100  # shown; the rest are counted in one last diagnostic


SOURCE_LIMITS: Final = SourceLimits()

# ---------------------------------------------------------------------------------------------
# Strategy params: the literal defaults a run or an optimiser may override.
# ---------------------------------------------------------------------------------------------

PARAMS_ATTRIBUTE: Final = "params"
# Class and parameter names travel to the parent, the database and the run form; the parent
# keeps at most 200 characters of a name (sandbox.text), so validation refuses longer ones
# rather than let a run's names differ from its source's.
MAX_NAME_CHARS: Final = 100
# A diagnostic's message and hint are sentences, never the source echoed back: each is cut to
# this many characters, and a "did you mean" replacement longer than it is left out.
MAX_DIAGNOSTIC_CHARS: Final = 300
# Integers stay exact in JSON, in the browser (a double) and in float arithmetic up to 2**53.
MAX_PARAM_INT: Final = 2**53
