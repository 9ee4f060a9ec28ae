# attack: replace numpy.mean for everyone
# expect: failed SandboxViolation
import numpy as np  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        np.mean = abs
