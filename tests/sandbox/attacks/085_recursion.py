# attack: unbounded recursion
# expect: failed RecursionError
def dive(n):
    return dive(n + 1)


class Attack(Strategy):
    def on_data(self, bar):
        dive(0)
