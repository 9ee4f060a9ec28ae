# attack: grow memory bar after bar
# expect: limit memory|cpu
class Attack(Strategy):
    def on_data(self, bar):
        self.hog = [0.0] * (10**7)
        self.more = [self.hog] * 10
        while True:
            self.hog = self.hog + [0.0] * (10**7)
