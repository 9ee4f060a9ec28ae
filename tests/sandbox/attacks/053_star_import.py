# attack: from numpy import *
# expect: rejected SB102
from numpy import *  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):  # noqa: F405  (Strategy is injected, not star-imported)
    def on_data(self, bar):
        pass
