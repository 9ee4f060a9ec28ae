# attack: locals() in a method
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        state = locals()
