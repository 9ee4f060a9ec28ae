# attack: send NaN and negative amounts to the trading API
# expect: completes
class Attack(Strategy):
    def on_data(self, bar):
        self.buy(float("nan"))
        self.sell(-5.0)
        self.buy(1e308, leverage=1000)
