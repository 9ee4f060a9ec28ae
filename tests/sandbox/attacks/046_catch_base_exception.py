# attack: catch BaseException to survive the limits
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        while True:
            try:
                x = 1
            except BaseException:
                pass
