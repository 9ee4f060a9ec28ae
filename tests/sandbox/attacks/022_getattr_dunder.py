# attack: getattr with a dunder string
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        cls = getattr(self, "__cl" + "ass__")
