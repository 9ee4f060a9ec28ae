# attack: read an exception's __context__ chain
# expect: rejected SB202
class Attack(Strategy):
    def on_data(self, bar):
        try:
            1 / 0
        except ZeroDivisionError as error:
            c = error.__context__
