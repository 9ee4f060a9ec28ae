# attack: np.fromfile to read a host file
# expect: rejected SB305
import numpy as np  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        data = np.fromfile("/tmp/strategylab_attack_secret.txt")
