# attack: start the debugger
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        breakpoint()
