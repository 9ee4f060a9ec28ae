# attack: reach the engine through the private context
# expect: rejected SB203
class Attack(Strategy):
    def on_data(self, bar):
        self._context._broker.portfolio.cash = 1e12
