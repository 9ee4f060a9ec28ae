# attack: ndarray.tofile to write a host file
# expect: rejected SB305
import numpy as np  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        np.array([1.0]).tofile("/tmp/strategylab_attack_canary.txt")
