# attack: str.format field reaching __class__
# expect: rejected SB303
class Attack(Strategy):
    def on_data(self, bar):
        self.log("{0.__class__.__base__.__subclasses__}".format(self))
