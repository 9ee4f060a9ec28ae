# attack: set the position size directly
# expect: failed SandboxViolation
class Attack(Strategy):
    def on_data(self, bar):
        self.position.size = 100.0
