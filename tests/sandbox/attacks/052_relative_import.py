# attack: a relative import
# expect: rejected SB101
from . import engine  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        pass
