# attack: an endless loop that catches every Exception
# expect: limit cpu
class Attack(Strategy):
    def on_data(self, bar):
        while True:
            try:
                x = 1 / 0
            except Exception:
                pass
