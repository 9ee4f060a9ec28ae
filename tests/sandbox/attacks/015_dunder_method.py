# attack: define __getattribute__ on the strategy
# expect: rejected SB203
class Attack(Strategy):
    def __getattribute__(self, name):
        return 1

    def on_data(self, bar):
        pass
