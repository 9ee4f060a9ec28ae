# attack: import gc to find engine objects
# expect: rejected SB101
import gc  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        gc.get_objects()
