# attack: open a file outside the sandbox
# expect: rejected SB301
# message: files cannot be opened
class Attack(Strategy):
    def on_data(self, bar):
        self.log(open("/tmp/strategylab_attack_secret.txt").read())
