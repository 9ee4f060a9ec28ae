# attack: write into engine prices through .values
# expect: failed ValueError
# message: read-only
class Attack(Strategy):
    def on_data(self, bar):
        values = self.data.close.values
        values[0] = 0.0
