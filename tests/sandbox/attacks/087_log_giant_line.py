# attack: a single enormous log line
# expect: completes logs_capped
class Attack(Strategy):
    def on_data(self, bar):
        self.log("x" * 5000000)
