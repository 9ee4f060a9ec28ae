"""A strategy that watches and never trades: equity stays at the starting cash."""


class Watcher(Strategy):
    params = {"length": 50, "log_every": 1000}

    def initialize(self):
        self.sma = self.indicator("sma", length=self.params["length"])

    def on_data(self, bar):
        if bar.index % self.params["log_every"] == 0:
            self.log("bar", bar.index, "close", bar.close, "sma", self.sma[-1])
