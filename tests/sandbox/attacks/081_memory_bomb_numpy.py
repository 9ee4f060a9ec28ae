# attack: allocate a giant numpy array
# expect: limit memory
import numpy as np  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        self.hog = np.ones(10**10)
