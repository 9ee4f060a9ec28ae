# attack: hook __init_subclass__ of the base
# expect: rejected SB203
class Attack(Strategy):
    def __init_subclass__(cls):
        pass

    def on_data(self, bar):
        pass
