"""SMA crossover: long when the fast average crosses above the slow one, short on the way down.

It acts only when the averages cross, so it says so with `wake_on`: on_data then runs on the
crossing bars (and the bars its orders fill), not on every bar, with the same trades."""


class SmaCross(Strategy):
    params = {"fast": 10, "slow": 30, "amount": 0.1, "short_leverage": 3}

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])
        self.wake_on("cross", self.fast, self.slow)

    def on_data(self, bar):
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(self.params["amount"])
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(self.params["amount"], leverage=self.params["short_leverage"])
