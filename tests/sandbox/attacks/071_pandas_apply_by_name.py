# attack: Series.apply('to_pickle', ...) calls a method by name
# expect: failed SandboxViolation
import pandas as pd  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        pd.Series([1.0]).apply("to_pickle", args=("/tmp/strategylab_attack_canary.txt",))
