# attack: import sys to reach modules
# expect: rejected SB101
import sys  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        sys.modules["os"]
