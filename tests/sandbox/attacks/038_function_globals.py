# attack: a method's __globals__
# expect: rejected SB202
class Attack(Strategy):
    def on_data(self, bar):
        g = self.on_data.__globals__
