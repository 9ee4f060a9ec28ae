# attack: override buy in the strategy class
# expect: rejected SB504
class Attack(Strategy):
    def buy(self, amount, leverage=1.0):
        return None

    def on_data(self, bar):
        pass
