# attack: exec a string that imports os
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        exec('import os; os.system("touch /tmp/strategylab_attack_canary.txt")')
