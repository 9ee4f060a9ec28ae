# attack: allocate a giant list
# expect: limit memory
class Attack(Strategy):
    def on_data(self, bar):
        self.hog = [1.5] * (10**9)
