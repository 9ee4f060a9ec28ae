# attack: pandas-ta's mfi wraps its difference around the series end, reading the last bars
# expect: engine IndicatorError
# message: drift
class Attack(Strategy):
    def initialize(self):
        self.mfi = self.indicator("mfi", length=3, drift=10)

    def on_data(self, bar):
        pass
