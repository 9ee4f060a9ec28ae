# attack: import os inside a method
# expect: rejected SB101
class Attack(Strategy):
    def on_data(self, bar):
        import os  # noqa: F401, F403  (the import is the attack)
