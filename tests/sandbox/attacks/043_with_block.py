# attack: a with block (context managers run hidden code)
# expect: rejected SB401
class Attack(Strategy):
    def on_data(self, bar):
        with self:
            pass
