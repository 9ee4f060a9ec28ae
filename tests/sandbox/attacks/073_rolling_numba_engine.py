# attack: rolling().apply(engine='numba') compiles around the guards
# expect: failed SandboxViolation
import pandas as pd  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        pd.Series([1.0, 2.0]).rolling(1).apply(abs, engine="numba")
