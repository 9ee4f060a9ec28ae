# attack: write a file
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        open("/tmp/strategylab_attack_canary.txt", "w").write("x")
