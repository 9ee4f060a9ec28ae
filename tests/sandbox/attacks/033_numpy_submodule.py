# attack: import a numpy submodule by dotted name
# expect: rejected SB101
import numpy.ctypeslib  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        pass
