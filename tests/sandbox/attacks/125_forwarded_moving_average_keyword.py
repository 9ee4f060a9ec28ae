# attack: a keyword pandas-ta forwards to an inner moving average, computed so no literal shows
# expect: engine IndicatorError
# message: setting 'lookahead' is not available
class Attack(Strategy):
    def initialize(self):
        flag = 1 > 0
        self.bands = self.indicator("bbands", length=20, lookahead=flag)

    def on_data(self, bar):
        pass
