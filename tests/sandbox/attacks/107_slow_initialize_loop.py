# attack: an endless loop in initialize()
# expect: limit cpu
class Attack(Strategy):
    def initialize(self):
        n = 0
        while True:
            n = n + 1

    def on_data(self, bar):
        pass
