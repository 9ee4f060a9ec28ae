# attack: format_map with attribute fields
# expect: rejected SB303
class Attack(Strategy):
    def on_data(self, bar):
        self.log("{s.data._market}".format_map({"s": self}))
