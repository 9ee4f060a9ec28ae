# attack: build a giant string
# expect: limit memory
class Attack(Strategy):
    def on_data(self, bar):
        self.hog = "x" * (10**10)
