# attack: print to the worker's stdout (the protocol pipe)
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        print("x" * 1000)
