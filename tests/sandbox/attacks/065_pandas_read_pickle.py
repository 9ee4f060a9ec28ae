# attack: pd.read_pickle runs arbitrary code
# expect: rejected SB305
import pandas as pd  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        pd.read_pickle("/tmp/strategylab_attack_secret.txt")
