# attack: read a generator's gi_frame to reach its globals
# expect: rejected SB401
class Attack(Strategy):
    def on_data(self, bar):
        gen = (x for x in [1])
        self.log(gen.gi_frame.f_back.f_globals)
