# attack: replace the API through an alias of self
# expect: failed SandboxViolation
# message: part of the Strategy API
class Attack(Strategy):
    def on_data(self, bar):
        me = self
        me.get_cash = abs
