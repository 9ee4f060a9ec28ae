# attack: dpo, centred by default
# expect: rejected SB601
class Attack(Strategy):
    def initialize(self):
        self.x = self.indicator("dpo", length=20)

    def on_data(self, bar):
        pass
