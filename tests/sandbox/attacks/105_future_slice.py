# attack: slice past the current bar (clipped to the present)
# expect: completes
class Attack(Strategy):
    def on_data(self, bar):
        window = self.data.close[0 : 10**9]
        if len(window) > bar.index + 1:
            raise ValueError("saw the future")
