# attack: ichimoku shifts its spans by kijun - 1 bars: a negative kijun shifts them from the future
# expect: engine IndicatorError
# message: kijun
class Attack(Strategy):
    def initialize(self):
        self.cloud = self.indicator("ichimoku", kijun=0 - 26, lookahead=False)

    def on_data(self, bar):
        pass
