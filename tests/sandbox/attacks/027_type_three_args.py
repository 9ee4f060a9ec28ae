# attack: type() to build a class dynamically
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        Evil = type("Evil", (), {})
