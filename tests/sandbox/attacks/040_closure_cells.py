# attack: read a closure's cells
# expect: rejected SB202
class Attack(Strategy):
    def on_data(self, bar):
        f = lambda: bar
        c = f.__closure__
