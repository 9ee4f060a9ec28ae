# attack: import importlib
# expect: rejected SB101
import importlib  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        pass
