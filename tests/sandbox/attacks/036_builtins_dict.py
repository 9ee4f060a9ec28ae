# attack: reach __builtins__
# expect: rejected SB201
class Attack(Strategy):
    def on_data(self, bar):
        b = __builtins__
