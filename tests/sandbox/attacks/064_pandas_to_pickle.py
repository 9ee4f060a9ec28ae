# attack: Series.to_pickle
# expect: rejected SB305
import pandas as pd  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        pd.Series([1.0]).to_pickle("/tmp/strategylab_attack_canary.txt")
