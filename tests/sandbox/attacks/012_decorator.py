# attack: a decorator that runs code at class creation
# expect: rejected SB402
def grab(function):
    return function


class Attack(Strategy):
    @grab
    def on_data(self, bar):
        pass
