# attack: super() to reach the base class object
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        s = super()
