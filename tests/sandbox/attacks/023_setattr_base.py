# attack: setattr on the Strategy base class
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        setattr(Strategy, "get_cash", lambda s: 1e12)
