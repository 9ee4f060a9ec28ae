# attack: DataFrame.to_csv to write a host file
# expect: rejected SB305
import pandas as pd  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        pd.DataFrame({"a": [1]}).to_csv("/tmp/strategylab_attack_canary.txt")
