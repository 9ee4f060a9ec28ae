"""RSI mean reversion (spot): buy when RSI is oversold, sell when it is overbought again."""


class RsiMeanReversion(Strategy):
    params = {"length": 14, "oversold": 30.0, "overbought": 70.0, "amount": 0.1}

    def initialize(self):
        self.rsi = self.indicator("rsi", length=self.params["length"])

    def on_data(self, bar):
        holding = self.get_position_size() > 0
        if not holding and self.rsi[-1] < self.params["oversold"] and not self.open_orders:
            self.buy(self.params["amount"])
        elif holding and self.rsi[-1] > self.params["overbought"]:
            self.close_position()
