# attack: a negative drift differences each bar against a later one
# expect: engine IndicatorError
# message: drift takes a whole number from 1
class Attack(Strategy):
    def initialize(self):
        back = 0 - 3
        self.rsi = self.indicator("rsi", length=14, drift=back)

    def on_data(self, bar):
        pass
