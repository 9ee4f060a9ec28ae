"""Trailing-stop trend rider: buy a close above the 20-bar high while above the 50-bar EMA,
sized to risk 1 % of equity to a stop-loss two ATRs below, and let a trailing stop three ATRs
behind the best price since the entry take the profit. The engine moves the trailing stop
along each bar's path (open, the extreme nearer the open, the other extreme, close)."""


class TrailingStop(Strategy):
    params = {"channel": 20, "trend": 50, "atr": 14, "risk": 0.01, "leverage": 3}

    def initialize(self):
        length = self.params["channel"]
        self.channel = self.indicator("donchian", lower_length=length, upper_length=length)
        self.ema = self.indicator("ema", length=self.params["trend"])
        self.atr = self.indicator("atr", length=self.params["atr"])

    def on_data(self, bar):
        upper = self.channel["DCU"]
        if self.position.is_open or self.open_orders or len(upper) < 2:
            return
        if bar.close > upper[-2] and bar.close > self.ema[-1]:
            atr = self.atr[-1]
            self.buy(
                risk=self.params["risk"],
                leverage=self.params["leverage"],
                stop_loss=bar.close - 2 * atr,
                trailing_stop=3 * atr,
            )
