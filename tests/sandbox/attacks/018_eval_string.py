# attack: eval a string
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        x = eval("1 + 1")
