# attack: compile a code object
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        code = compile("1", "x", "eval")
