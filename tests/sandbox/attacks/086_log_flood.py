# attack: flood the log with lines
# expect: completes logs_capped
class Attack(Strategy):
    def on_data(self, bar):
        for i in range(1000):
            self.log("flood", i)
