# attack: Series.agg('to_csv') calls a method by name
# expect: failed SandboxViolation
import pandas as pd  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        pd.Series([1.0]).agg("to_csv")
