# attack: read one bar past the current one
# expect: failed IndexError
# message: nothing after it can be read
class Attack(Strategy):
    def on_data(self, bar):
        future = self.data.close[len(self.data.close)]
