# attack: ndarray.dump writes a pickle
# expect: rejected SB305
import numpy as np  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        np.array([1.0]).dump("/tmp/strategylab_attack_canary.txt")
