# attack: an engine method that computes an indicator from a caller-supplied mapping
# expect: failed SandboxViolation
# message: has no attribute 'compute'
class Attack(Strategy):
    def initialize(self):
        self.peek = self.timeframe("4h").compute("sma", {"length": 3, "offset": 0 - 5})

    def on_data(self, bar):
        pass
