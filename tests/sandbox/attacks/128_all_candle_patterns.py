# attack: every candle pattern at once, which includes the inside bar that wraps around the data
# expect: engine IndicatorError
# message: 'all' includes 'inside'
class Attack(Strategy):
    def initialize(self):
        self.patterns = self.indicator("cdl_pattern", name="all")

    def on_data(self, bar):
        pass
