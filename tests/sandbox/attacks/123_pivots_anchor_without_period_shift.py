# attack: a pivots anchor pandas-ta does not shift to the next period uses the forming period
# expect: engine IndicatorError
# message: anchor
class Attack(Strategy):
    def initialize(self):
        self.levels = self.indicator("pivots", anchor="W")

    def on_data(self, bar):
        pass
