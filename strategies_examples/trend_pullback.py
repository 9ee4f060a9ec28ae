"""Trend pullback: trade with the trend (EMA 21/50, SuperTrend, price vs daily VWAP) and enter
on StochRSI turns; exit when SuperTrend flips or StochRSI reaches the other extreme.

It acts only when StochRSI's lines cross or SuperTrend turns, so it says so with `wake_on`:
on_data then runs on those bars (and the bars its orders fill), with the same trades as on
every bar."""


class TrendPullback(Strategy):
    params = {"fast": 21, "slow": 50, "amount": 0.1, "leverage": 2}

    def initialize(self):
        self.ema_fast = self.indicator("ema", length=self.params["fast"])
        self.ema_slow = self.indicator("ema", length=self.params["slow"])
        self.trend = self.indicator("supertrend", length=10, multiplier=3.0)
        self.vwap = self.indicator("vwap", anchor="D")
        self.stoch = self.indicator("stochrsi", length=14, rsi_length=14, k=3, d=3)
        self.wake_on("cross", self.stoch["STOCHRSIk"], self.stoch["STOCHRSId"])
        self.wake_on("cross", self.trend["SUPERTd"], 0)

    def on_data(self, bar):
        direction = self.trend["SUPERTd"][-1]
        k = self.stoch["STOCHRSIk"]
        d = self.stoch["STOCHRSId"]
        up = self.ema_fast[-1] > self.ema_slow[-1] and direction > 0 and bar.close > self.vwap[-1]
        down = self.ema_fast[-1] < self.ema_slow[-1] and direction < 0 and bar.close < self.vwap[-1]
        size = self.get_position_size()
        if size == 0:
            if up and crossover(k, d) and k[-1] < 30:
                self.buy(self.params["amount"], leverage=self.params["leverage"])
            elif down and crossunder(k, d) and k[-1] > 70:
                self.sell(self.params["amount"], leverage=self.params["leverage"])
        elif size > 0 and (direction < 0 or (crossunder(k, d) and k[-1] > 80)):
            self.close_position()
        elif size < 0 and (direction > 0 or (crossover(k, d) and k[-1] < 20)):
            self.close_position()
