# attack: replace a function's __code__
# expect: rejected SB202
class Attack(Strategy):
    def on_data(self, bar):
        f = lambda: 0
        f.__code__ = None
