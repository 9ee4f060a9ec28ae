# attack: call __import__ directly
# expect: rejected SB201
class Attack(Strategy):
    def on_data(self, bar):
        os = __import__("os")
