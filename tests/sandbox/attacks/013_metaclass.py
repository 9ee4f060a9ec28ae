# attack: a metaclass derived from type
# expect: rejected SB402
class Attack(Strategy, metaclass=Strategy):
    def on_data(self, bar):
        pass
