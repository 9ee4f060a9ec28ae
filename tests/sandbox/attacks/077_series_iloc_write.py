# attack: write into a pandas object through .iloc
# expect: failed SandboxViolation
import pandas as pd  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        s = pd.Series([1.0])
        s.iloc[0] = 2.0
