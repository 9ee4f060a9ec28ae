# attack: replace get_cash on the instance
# expect: rejected SB504
class Attack(Strategy):
    def on_data(self, bar):
        self.get_cash = lambda: 1e12
