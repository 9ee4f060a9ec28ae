# attack: raise with an enormous message to flood the parent
# expect: failed ValueError
class Attack(Strategy):
    def on_data(self, bar):
        raise ValueError("x" * 50000000)
