# attack: flip the read-only flag of engine data
# expect: rejected SB305
class Attack(Strategy):
    def on_data(self, bar):
        values = self.data.close.values
        values.flags.writeable = True
