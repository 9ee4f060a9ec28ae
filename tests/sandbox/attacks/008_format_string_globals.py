# attack: format field reaching a method's __globals__
# expect: rejected SB303
class Attack(Strategy):
    def on_data(self, bar):
        self.log("{0.on_data.__globals__}".format(self))
