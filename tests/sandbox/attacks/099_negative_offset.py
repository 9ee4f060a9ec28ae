# attack: shift an indicator into the future with offset
# expect: rejected SB601
# message: look-ahead
class Attack(Strategy):
    def initialize(self):
        self.sma = self.indicator("sma", length=10, offset=-5)

    def on_data(self, bar):
        pass
