# attack: vars(self) to reach private state
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        state = vars(self)
