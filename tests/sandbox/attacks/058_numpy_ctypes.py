# attack: ndarray.ctypes for raw memory
# expect: rejected SB305
class Attack(Strategy):
    def on_data(self, bar):
        address = self.data.close.values.ctypes.data
