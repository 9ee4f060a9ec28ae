# attack: reach sys through statistics' own imports
# expect: failed AttributeError
import statistics  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        s = statistics.sys
