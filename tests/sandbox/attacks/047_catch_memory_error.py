# attack: catch MemoryError to keep allocating
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        try:
            x = [0] * (10**10)
        except MemoryError:
            pass
