# attack: the inside-bar pattern compares the first bar with the last one of the data
# expect: engine IndicatorError
# message: inside bar compares the first bar with the last one
class Attack(Strategy):
    def initialize(self):
        self.inside = self.indicator("cdl_pattern", name="inside")

    def on_data(self, bar):
        pass
