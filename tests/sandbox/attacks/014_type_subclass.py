# attack: subclass a builtin type to reach its internals
# expect: rejected SB505
class Evil(dict):
    pass


class Attack(Strategy):
    def on_data(self, bar):
        pass
