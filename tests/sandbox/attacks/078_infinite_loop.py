# attack: an endless loop
# expect: limit cpu
class Attack(Strategy):
    def on_data(self, bar):
        while True:
            pass
