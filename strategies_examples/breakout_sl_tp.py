"""Donchian breakout: buy a close above the previous 20-bar high with a stop-loss and a
take-profit attached; the exits are handled by the engine inside each bar."""


class Breakout(Strategy):
    params = {"length": 20, "stop_pct": 2.0, "target_pct": 4.0, "amount": 0.1}

    def initialize(self):
        length = self.params["length"]
        self.channel = self.indicator("donchian", lower_length=length, upper_length=length)

    def on_data(self, bar):
        upper = self.channel["DCU"]
        if len(upper) < 2 or self.get_position_size() != 0 or self.open_orders:
            return
        if bar.close > upper[-2]:
            self.buy(
                self.params["amount"],
                stop_loss=bar.close * (1 - self.params["stop_pct"] / 100),
                take_profit=bar.close * (1 + self.params["target_pct"] / 100),
            )
