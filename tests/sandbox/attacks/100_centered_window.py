# attack: a centred window
# expect: rejected SB601
class Attack(Strategy):
    def initialize(self):
        self.x = self.indicator("sma", length=10, centered=True)

    def on_data(self, bar):
        pass
