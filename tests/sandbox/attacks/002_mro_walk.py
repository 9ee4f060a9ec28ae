# attack: reach object through mro() and list its subclasses
# expect: rejected SB302
class Attack(Strategy):
    def on_data(self, bar):
        base = bar.mro()[-1]
