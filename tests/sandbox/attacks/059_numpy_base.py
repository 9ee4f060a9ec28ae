# attack: ndarray.base to reach the engine's array
# expect: rejected SB305
class Attack(Strategy):
    def on_data(self, bar):
        engine_array = self.data.close.values.base
