# attack: read globals() to reach builtins
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        g = globals()
