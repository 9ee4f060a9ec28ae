# attack: patch a method of the shared Strategy base
# expect: failed SandboxViolation
class Attack(Strategy):
    def on_data(self, bar):
        Strategy.get_cash = abs
