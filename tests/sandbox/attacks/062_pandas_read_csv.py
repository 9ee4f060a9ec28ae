# attack: pd.read_csv a host file
# expect: rejected SB305
import pandas as pd  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        self.log(pd.read_csv("/tmp/strategylab_attack_secret.txt"))
