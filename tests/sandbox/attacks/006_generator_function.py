# attack: a generator function whose frame is inspected
# expect: rejected SB401
class Attack(Strategy):
    def numbers(self):
        yield 1

    def on_data(self, bar):
        g = self.numbers()
        self.log(g.gi_frame)
