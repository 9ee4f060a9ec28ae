"""Search spaces: `--param` ranges typed by the strategy's defaults, and every unusable range
or sweep spec refused with one sentence before any work."""

from __future__ import annotations

import pytest

from app.engine import ParamValue
from app.research.errors import ResearchInputError
from app.research.space import Choice, FloatRange, IntRange, SearchSpace, parse_param, parse_space
from app.research.sweep import Constraints, Objective, SweepSpec, check_spec, trials_total

DEFAULTS: dict[str, ParamValue] = {"fast": 10, "slow": 30.0, "mode": "trend", "flag": True}


@pytest.mark.parametrize(
    ("text", "expected", "values"),
    [
        ("fast=5:50:5", IntRange("fast", 5, 50, 5), [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]),
        ("fast=5:8", IntRange("fast", 5, 8, 1), [5, 6, 7, 8]),
        ("fast=5..8", IntRange("fast", 5, 8, 1), [5, 6, 7, 8]),
        # a step that does not land on high stops below it: 5, 12, 19 (26 > 20)
        ("fast=5:20:7", IntRange("fast", 5, 20, 7), [5, 12, 19]),
        ("fast=-3..-1", IntRange("fast", -3, -1, 1), [-3, -2, -1]),
        ("slow=0:1:0.25", FloatRange("slow", 0.0, 1.0, 0.25), [0.0, 0.25, 0.5, 0.75, 1.0]),
        # 0.1 steps without float noise: 0.1 x 3 is 0.3, not 0.30000000000000004
        ("slow=0:0.3:0.1", FloatRange("slow", 0.0, 0.3, 0.1), [0.0, 0.1, 0.2, 0.3]),
        ("mode=trend,range", Choice("mode", ("trend", "range")), ["trend", "range"]),
        ("fast=5,7,9", Choice("fast", (5, 7, 9)), [5, 7, 9]),
        ("slow=1,2.5", Choice("slow", (1.0, 2.5)), [1.0, 2.5]),
        ("flag=true,false", Choice("flag", (True, False)), [True, False]),
        ("fast=12", Choice("fast", (12,)), [12]),
        ("mode=a:b", Choice("mode", ("a:b",)), ["a:b"]),
    ],
)
def test_a_param_range_is_typed_by_its_default(
    text: str, expected: object, values: list[object]
) -> None:
    parsed = parse_param(text, DEFAULTS)
    assert parsed == expected
    assert parsed.values() == values
    assert [type(v) for v in parsed.values()] == [type(v) for v in values]


def test_a_float_range_without_step_is_continuous() -> None:
    parsed = parse_param("slow=20..200", DEFAULTS)
    assert parsed == FloatRange("slow", 20.0, 200.0, None)
    assert isinstance(parsed, FloatRange) and parsed.is_continuous
    space = SearchSpace((parsed,))
    assert space.grid_size() is None
    assert space.continuous() == ("slow",)


def test_the_grid_size_is_the_product_of_the_value_counts() -> None:
    space = parse_space(["fast=5:24", "slow=30:275:5", "mode=a,b"], DEFAULTS)
    assert space.grid_size() == 20 * 50 * 2
    assert space.fixed() == {}
    fixed = parse_space(["fast=12", "slow=1:2:0.5"], DEFAULTS)
    assert fixed.fixed() == {"fast": 12}
    assert [r.name for r in fixed.searched()] == ["slow"]
    assert fixed.grid() == {"slow": [1.0, 1.5, 2.0]}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("fsat=5:6", ["no param 'fsat'", "did you mean 'fast'", "fast, slow, mode, flag"]),
        ("fast=9:5", ["fast's range is empty", "9", "5"]),
        ("fast=5:9:0", ["step must be above 0"]),
        ("fast=5:9:-1", ["step must be above 0"]),
        ("slow=2:1", ["slow's range is empty"]),
        ("fast=5.5:9", ["fast takes whole numbers", "'5.5'"]),
        ("fast=5..9.5", ["fast takes whole numbers", "'9.5'"]),
        ("fast=1.0", ["fast takes whole numbers", "'1.0'"]),
        ("fast=a,b", ["fast takes whole numbers", "'a'"]),
        ("slow=x..2", ["slow", "takes a number", "'x'"]),
        ("slow=nan:2", ["slow", "takes a number"]),
        ("flag=maybe", ["flag", "true/false"]),
        ("fast=", ["must look like name=low:high"]),
        ("=5:6", ["must look like name=low:high"]),
        ("fast", ["must look like name=low:high"]),
        ("fast=1:2:3:4", ["must look like fast=low:high"]),
        ("fast=1..2..3", ["must look like fast=low..high"]),
        ("mode=a,,b", ["mode has an empty choice"]),
        ("fast=0:100000000000:1", ["more than 10,000,000 values"]),
    ],
)
def test_an_unusable_range_is_one_sentence_naming_the_param(text: str, words: list[str]) -> None:
    with pytest.raises(ResearchInputError) as caught:
        parse_param(text, DEFAULTS)
    assert caught.value.field == "param"
    message = caught.value.message
    assert "\n" not in message
    for word in words:
        assert word in message


def test_a_param_given_twice_is_refused() -> None:
    with pytest.raises(ResearchInputError, match="fast is given twice"):
        parse_space(["fast=5:6", "fast=7"], DEFAULTS)


def _spec(**changes: object) -> SweepSpec:
    values: dict[str, object] = {
        "space": parse_space(["fast=5:7", "slow=1:2:0.5"], DEFAULTS),
        "method": "grid",
        "objectives": (Objective("sharpe", "maximize"),),
        "constraints": Constraints(),
        "n_trials": None,
        "seed": 1,
    }
    values.update(changes)
    return SweepSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        (
            {"space": parse_space(["slow=1..2"], DEFAULTS)},
            "method",
            ["grid needs a step for slow"],
        ),
        ({"method": "nsga2", "n_trials": 10}, "objective", ["nsga2 needs two objectives"]),
        (
            {"objectives": (Objective("sharpe"), Objective("max_drawdown", "minimize"))},
            "objective",
            ["grid takes one objective", "nsga2"],
        ),
        ({"objectives": (Objective("sharp"),)}, "objective", ["'sharp' is not a metric", "sharpe"]),
        ({"objectives": (Objective("start"),)}, "objective", ["'start' is not a metric"]),
        ({"method": "tpe"}, "trials", ["tpe needs --trials"]),
        ({"method": "random", "n_trials": 0}, "trials", ["at least 1"]),
        ({"method": "annealing"}, "method", ["'annealing' is not a method", "grid, random"]),
        ({"constraints": Constraints(max_drawdown=30.0)}, "max_drawdown", ["0.3 for 30 %"]),
        ({"constraints": Constraints(min_trades=-1)}, "min_trades", ["0 or more"]),
        ({"batch_size": 0}, "batch_size", ["at least 1"]),
        ({"space": parse_space(["fast=12"], DEFAULTS)}, "param", ["nothing to search"]),
    ],
)
def test_an_unusable_spec_is_refused_before_any_work(
    changes: dict[str, object], field: str, words: list[str]
) -> None:
    with pytest.raises(ResearchInputError) as caught:
        check_spec(_spec(**changes))
    assert caught.value.field == field
    for word in words:
        assert word in caught.value.message


def test_a_grid_runs_every_point_or_the_budget_when_smaller() -> None:
    assert trials_total(_spec()) == 3 * 3
    assert trials_total(_spec(n_trials=4)) == 4
    assert trials_total(_spec(n_trials=40)) == 9
    assert trials_total(_spec(method="tpe", n_trials=25)) == 25


@pytest.mark.parametrize("text", ["slow=0:0.3:0.1", "slow=1:2:0.3", "slow=-1:1:0.2"])
def test_a_stepped_float_range_gives_optuna_a_bound_on_the_step(text: str) -> None:
    # Optuna warns (an error here) and moves `high` when high - low is not a multiple of step.
    distribution = parse_space([text], DEFAULTS).distributions()["slow"]
    values = parse_param(text, DEFAULTS).values()
    assert distribution.high == values[-1]
    assert distribution.low == values[0]
