# attack: a bare except around an endless loop to resist the kill
# expect: rejected SB401
class Attack(Strategy):
    def on_data(self, bar):
        while True:
            try:
                pass
            except:
                pass
