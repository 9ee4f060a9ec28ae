# attack: take os from numpy's namespace
# expect: rejected SB102
from numpy import os  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        pass
