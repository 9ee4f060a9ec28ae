# attack: reach numpy.ctypeslib through the facade
# expect: failed AttributeError
# message: not available in the sandboxed numpy
import numpy as np  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        lib = np.ctypeslib
