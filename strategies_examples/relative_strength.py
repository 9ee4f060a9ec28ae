"""Relative strength rotation over two symbols: hold whichever of the run's primary symbol
and `other` rose more over the last `lookback` bars. Run it with two datasets, e.g.
`strategylab run strategies_examples/relative_strength.py --data BTCUSDT=BTC.parquet
--data ETHUSDT=ETH.parquet`; one cash balance pays for both."""


class RelativeStrength(Strategy):
    params = {"other": "ETHUSDT", "lookback": 72, "cash_share": 0.95}

    def initialize(self):
        length = self.params["lookback"]
        self.momentum = {
            self.data.symbol: self.indicator("roc", length=length),
            self.params["other"]: self.indicator("roc", length=length, symbol=self.params["other"]),
        }

    def on_data(self, bar):
        first, second = self.momentum
        leader = first if self.momentum[first][-1] >= self.momentum[second][-1] else second
        laggard = second if leader == first else first
        if self.positions[laggard].is_open:
            self.close_position(symbol=laggard)  # the cash is free from the next bar's open
        elif not self.positions[leader].is_open and not self.open_orders:
            price = self.data[leader].close[-1]
            self.buy(quote=self.get_cash() * self.params["cash_share"], symbol=leader)
            self.log(f"{leader} leads: buying at about {price:.2f}")
