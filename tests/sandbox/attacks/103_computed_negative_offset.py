# attack: a negative offset the validator cannot see
# expect: engine IndicatorError
class Attack(Strategy):
    def initialize(self):
        shift = 0 - 5
        self.sma = self.indicator("sma", length=10, offset=shift)

    def on_data(self, bar):
        pass
