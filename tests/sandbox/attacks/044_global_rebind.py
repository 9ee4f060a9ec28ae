# attack: rebind the injected crossover helper module-wide
# expect: rejected SB401
class Attack(Strategy):
    def on_data(self, bar):
        global crossover
        crossover = None
