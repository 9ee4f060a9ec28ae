# attack: change the bar's close
# expect: failed SandboxViolation
class Attack(Strategy):
    def on_data(self, bar):
        bar.index = 0
