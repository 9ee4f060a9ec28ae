# attack: DataFrame.style (jinja templates)
# expect: rejected SB305
import pandas as pd  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        s = pd.DataFrame({"a": [1]}).style
