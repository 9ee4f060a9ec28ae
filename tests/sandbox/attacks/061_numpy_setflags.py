# attack: setflags(write=True) on engine data
# expect: rejected SB305
class Attack(Strategy):
    def on_data(self, bar):
        self.data.close.values.setflags(write=True)
