# attack: replace self.data with fake prices
# expect: rejected SB504
class Attack(Strategy):
    def on_data(self, bar):
        self.data = None
