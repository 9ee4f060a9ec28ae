# attack: np.load a file (pickle-capable)
# expect: rejected SB305
import numpy as np  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        np.load("/tmp/strategylab_attack_secret.txt", allow_pickle=True)
