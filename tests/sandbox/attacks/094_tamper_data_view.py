# attack: swap the close series
# expect: failed SandboxViolation
class Attack(Strategy):
    def on_data(self, bar):
        self.data.close = self.data.open
