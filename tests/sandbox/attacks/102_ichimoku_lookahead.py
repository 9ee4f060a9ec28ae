# attack: ichimoku with its forward-shifted spans
# expect: rejected SB601
class Attack(Strategy):
    def initialize(self):
        self.x = self.indicator("ichimoku")

    def on_data(self, bar):
        pass
