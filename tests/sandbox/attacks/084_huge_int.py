# attack: compute an astronomically large integer
# expect: limit cpu|memory
class Attack(Strategy):
    def on_data(self, bar):
        x = 7 ** (10**10)
