# attack: the .str accessor
# expect: failed SandboxViolation
import pandas as pd  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        pd.Series(["a"]).str
